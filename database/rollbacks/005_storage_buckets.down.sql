-- Rollback of 005_storage_buckets: drops the policies and helpers and the bucket. Deleting the bucket
-- fails while it holds objects: empty it first, deliberately.
drop policy vpb_audio_delete on storage.objects;
drop policy vpb_audio_update on storage.objects;
drop policy vpb_audio_insert on storage.objects;
drop policy vpb_audio_select on storage.objects;
drop function private.owned_project_ids();
drop function private.audio_path_project(text);
drop function private.audio_path_user(text);
-- Supabase refuses a DELETE on its storage tables unless the transaction allows it, as its Storage
-- API does; allowed for this one statement, the previous value restored after it.
do $$
declare
  previous text := current_setting('storage.allow_delete_query', true);
begin
  perform set_config('storage.allow_delete_query', 'true', true);
  delete from storage.buckets where id = 'audio-recordings';
  perform set_config('storage.allow_delete_query', coalesce(previous, ''), true);
end
$$;
