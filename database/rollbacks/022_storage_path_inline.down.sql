-- Rollback of 022_storage_path_inline: 005's definitions (regular expression, pinned search_path).
create or replace function private.audio_path_user(p_name text) returns uuid
  language sql immutable set search_path = '' as $$
  select case when p_name ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[0-9]{10,16}_[^/]{1,200}$'
              then split_part(p_name, '/', 1)::uuid end
$$;
create or replace function private.audio_path_project(p_name text) returns uuid
  language sql immutable set search_path = '' as $$
  select case when private.audio_path_user(p_name) is not null then split_part(p_name, '/', 2)::uuid end
$$;
drop function private.is_audio_file_part(text), private.is_canonical_uuid(text);
