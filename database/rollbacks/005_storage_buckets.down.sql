-- Rollback of 005_storage_buckets: drops the policies and helpers and the bucket. Deleting the bucket
-- fails while it holds objects: empty it first, deliberately.
drop policy vpb_audio_delete on storage.objects;
drop policy vpb_audio_update on storage.objects;
drop policy vpb_audio_insert on storage.objects;
drop policy vpb_audio_select on storage.objects;
drop function private.owned_project_ids();
drop function private.audio_path_project(text);
drop function private.audio_path_user(text);
delete from storage.buckets where id = 'audio-recordings';
