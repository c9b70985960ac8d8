-- 005_storage_buckets: the private audio-recordings bucket (50 MB, audio types only) and who may
-- touch its objects. Object names are {user_id}/{project_id}/{timestamp}_{filename}:
-- - a user uploads only under their own id, into a project they may edit;
-- - every member of the project may read (download, sign URLs);
-- - the uploader may replace their object; the uploader or the project's owner may delete it.
-- The same SQL runs on Supabase's storage schema and on the compatibility bootstrap's.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values (
  'audio-recordings', 'audio-recordings', false, 52428800,
  array['audio/mpeg', 'audio/mp3', 'audio/wav', 'audio/x-wav', 'audio/wave', 'audio/webm', 'audio/ogg',
        'audio/mp4', 'audio/x-m4a', 'audio/m4a', 'audio/aac', 'audio/x-aac']
)
on conflict (id) do update set public = excluded.public, file_size_limit = excluded.file_size_limit,
  allowed_mime_types = excluded.allowed_mime_types;

-- The user and project ids of a well-formed object name, NULL for any other name (never an error,
-- so a malformed name is simply denied).
create function private.audio_path_user(p_name text) returns uuid
  language sql immutable set search_path = '' as $$
  select case when p_name ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[0-9]{10,16}_[^/]{1,200}$'
              then split_part(p_name, '/', 1)::uuid end
$$;
create function private.audio_path_project(p_name text) returns uuid
  language sql immutable set search_path = '' as $$
  select case when private.audio_path_user(p_name) is not null then split_part(p_name, '/', 2)::uuid end
$$;

-- The projects the caller owns (trash excluded).
create function private.owned_project_ids() returns setof uuid
  language plpgsql stable security definer set search_path = '' as $$
begin
  return query select p.id from public.projects p where p.owner_id = auth.uid() and p.deleted_at is null;
end
$$;

revoke all on function private.audio_path_user(text), private.audio_path_project(text), private.owned_project_ids() from public;
grant execute on function private.audio_path_user(text), private.audio_path_project(text), private.owned_project_ids()
  to authenticated, service_role;

create policy vpb_audio_select on storage.objects for select to authenticated
  using (bucket_id = 'audio-recordings'
         and private.audio_path_project(name) in (select private.readable_project_ids()));
create policy vpb_audio_insert on storage.objects for insert to authenticated
  with check (bucket_id = 'audio-recordings'
              and private.audio_path_user(name) = (select auth.uid())
              and private.audio_path_project(name) in (select private.editable_project_ids()));
create policy vpb_audio_update on storage.objects for update to authenticated
  using (bucket_id = 'audio-recordings' and private.audio_path_user(name) = (select auth.uid()))
  with check (bucket_id = 'audio-recordings'
              and private.audio_path_user(name) = (select auth.uid())
              and private.audio_path_project(name) in (select private.editable_project_ids()));
create policy vpb_audio_delete on storage.objects for delete to authenticated
  using (bucket_id = 'audio-recordings'
         and (private.audio_path_user(name) = (select auth.uid())
              or private.audio_path_project(name) in (select private.owned_project_ids())));
