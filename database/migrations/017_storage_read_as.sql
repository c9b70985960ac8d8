-- 017_storage_read_as: the storage service's object read as the caller in one round trip (issue 13).
-- Each read was a transaction of its own (begin with the role and claims, the read, commit): three
-- round trips, which bounded signed URLs and downloads. This function does all of it in one
-- statement: it sets the caller's role and claims, then runs the read, so that the policies of
-- storage.objects decide as on Supabase. The read is static SQL, planned at its first run after the
-- role switch and kept for the session: PostgreSQL marks a plan that depends on row level security
-- with the role it was made for and plans again when a later call runs as another role, so the
-- plan is reused without ever serving one role's policies to another (planning the policies was
-- most of the read's time). SECURITY INVOKER: it can only take a role its caller may SET ROLE to.
-- The settings are local to the statement's transaction and are put back before it returns, so
-- nothing reaches the next statement on a pooled connection, even inside an explicit transaction.
-- A plain SELECT can only hang waiting for a lock (statement_timeout applies per top-level
-- statement, not to the read inside): lock_timeout bounds that wait.
create function private.storage_object_as(
  api_role text,
  claims text,
  timeout_ms integer,
  bucket text,
  object_name text
) returns table (
  id uuid,
  bucket_id text,
  name text,
  owner uuid,
  version text,
  metadata jsonb,
  user_metadata jsonb,
  created_at timestamptz,
  updated_at timestamptz,
  last_accessed_at timestamptz
) language plpgsql volatile set search_path = '' as $$
declare
  old_role text := pg_catalog.current_setting('role');
  old_claims text := pg_catalog.current_setting('request.jwt.claims', true);
  old_lock_timeout text := pg_catalog.current_setting('lock_timeout');
begin
  if api_role is null or api_role not in ('anon', 'authenticated', 'service_role') then
    raise exception 'storage_object_as: the role must be anon, authenticated or service_role'
      using errcode = '42501', hint = 'Pass the API role of the caller''s verified JWT.';
  end if;
  -- The keys older PostgREST set, which auth.uid() and friends read first: emptied so that a value
  -- left on the connection never stands in for the caller.
  perform pg_catalog.set_config('request.jwt.claim', '', true),
          pg_catalog.set_config('request.jwt.claim.sub', '', true),
          pg_catalog.set_config('request.jwt.claim.role', '', true),
          pg_catalog.set_config('request.jwt.claim.email', '', true),
          pg_catalog.set_config('request.jwt.claims', claims, true),
          pg_catalog.set_config('lock_timeout', timeout_ms::text || 'ms', true),
          pg_catalog.set_config('role', api_role, true);
  return query
    select o.id, o.bucket_id, o.name, o.owner, o.version, o.metadata, o.user_metadata, o.created_at,
           o.updated_at, o.last_accessed_at
      from storage.objects o
     where o.bucket_id operator(pg_catalog.=) storage_object_as.bucket
       and o.name operator(pg_catalog.=) storage_object_as.object_name;
  perform pg_catalog.set_config('role', old_role, true),
          pg_catalog.set_config('request.jwt.claims', coalesce(old_claims, ''), true),
          pg_catalog.set_config('request.jwt.claim', '', true),
          pg_catalog.set_config('request.jwt.claim.sub', '', true),
          pg_catalog.set_config('request.jwt.claim.role', '', true),
          pg_catalog.set_config('request.jwt.claim.email', '', true),
          pg_catalog.set_config('lock_timeout', old_lock_timeout, true);
end
$$;
revoke all on function private.storage_object_as(text, text, integer, text, text) from public;
comment on function private.storage_object_as(text, text, integer, text, text) is
  'The storage service''s read of one object as an API caller (role and JWT claims), in one statement.';
