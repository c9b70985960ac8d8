-- 022_storage_path_inline: the object-name check of the storage policies without a regular expression,
-- and inlined into the policies (issue 13: signed URLs, downloads and lists read storage.objects under
-- these policies). private.audio_path_user's pattern ended in [^/]{1,200}: PostgreSQL's regex engine
-- expands a bounded repetition into that many states, and matching one ~110-character name took about
-- 45 us, most of a storage read's time in the database (a list paid it per row). Being SQL functions
-- with a SET clause, the two functions were also called, never inlined, each with its own executor.
--
-- The same rule, written with string functions: a name is {uuid}/{uuid}/{10-16 digits}_{1-200
-- characters but '/'}, the uuids in lowercase canonical form; any other name gives NULL (never an
-- error). The bodies are SQL-standard (RETURN): parsed here, their functions and operators bound at
-- creation, so they do not depend on the caller's search_path (what the pinned search_path was for),
-- and PostgreSQL inlines them into the policies. test/storage-path-check.test.ts compares them with
-- 005's regular expression on a corpus of good and bad names.

-- A lowercase canonical uuid: 36 characters, '-' at 9, 14, 19 and 24, hexadecimal digits elsewhere.
create function private.is_canonical_uuid(t text) returns boolean
  language sql immutable parallel safe
  return pg_catalog.length(t) operator(pg_catalog.=) 36
     and pg_catalog.translate(t, '0123456789abcdef', '') operator(pg_catalog.=) '----'
     and pg_catalog.substr(t, 9, 1) operator(pg_catalog.=) '-'
     and pg_catalog.substr(t, 14, 1) operator(pg_catalog.=) '-'
     and pg_catalog.substr(t, 19, 1) operator(pg_catalog.=) '-'
     and pg_catalog.substr(t, 24, 1) operator(pg_catalog.=) '-';

-- {10-16 digits}_{1-200 characters}: the part's first '_' ends the digits (a digit is never '_').
create function private.is_audio_file_part(t text) returns boolean
  language sql immutable parallel safe
  return pg_catalog.strpos(t, '_') operator(pg_catalog.>=) 11
     and pg_catalog.strpos(t, '_') operator(pg_catalog.<=) 17
     and pg_catalog.translate(pg_catalog.substr(t, 1, pg_catalog.strpos(t, '_') operator(pg_catalog.-) 1),
                              '0123456789', '') operator(pg_catalog.=) ''
     and pg_catalog.length(t) operator(pg_catalog.-) pg_catalog.strpos(t, '_') operator(pg_catalog.>=) 1
     and pg_catalog.length(t) operator(pg_catalog.-) pg_catalog.strpos(t, '_') operator(pg_catalog.<=) 200;

-- Exactly two '/' (so exactly three parts, none holding a '/'), each part well formed.
create or replace function private.audio_path_user(p_name text) returns uuid
  language sql immutable parallel safe
  return case
    when pg_catalog.length(p_name) operator(pg_catalog.-) pg_catalog.length(pg_catalog.replace(p_name, '/', ''))
           operator(pg_catalog.=) 2
     and private.is_canonical_uuid(pg_catalog.split_part(p_name, '/', 1))
     and private.is_canonical_uuid(pg_catalog.split_part(p_name, '/', 2))
     and private.is_audio_file_part(pg_catalog.split_part(p_name, '/', 3))
    then pg_catalog.split_part(p_name, '/', 1)::uuid
  end;

create or replace function private.audio_path_project(p_name text) returns uuid
  language sql immutable parallel safe
  return case when private.audio_path_user(p_name) is not null then pg_catalog.split_part(p_name, '/', 2)::uuid end;

-- Inlining needs EXECUTE on every function inlined, as a call does: the same roles as 005's grants.
revoke all on function private.is_canonical_uuid(text), private.is_audio_file_part(text) from public;
grant execute on function private.is_canonical_uuid(text), private.is_audio_file_part(text)
  to authenticated, service_role;
comment on function private.is_canonical_uuid(text) is
  'Whether a text is a uuid in lowercase canonical form (the object-name rule of the audio-recordings bucket).';
comment on function private.is_audio_file_part(text) is
  'Whether a text is {10-16 digits}_{1-200 characters}: the last part of an audio-recordings object name.';
