-- 012_storage_version_claim: an API user can no longer point a storage.objects row at another
-- object's stored bytes (issue 13). vpb-db's storage service names each file {bucket}/{version}, so a
-- row naming a version it did not upload would be served that version's file: a user who once saw a
-- version (a former collaborator, say) could insert a row of their own with it and download the
-- file after losing access.
-- - Every version a row has ever named is recorded in private.storage_versions, by whoever wrote it.
-- - An API role's row may name only a version never named before: an upload's fresh random one, as
--   both Supabase's Storage API and vpb-db's storage service write. An old version stays claimed
--   after its row is gone, since its file may outlive the row until the sweeper has run.
-- - The service role and migrations are not refused (they are trusted), only recorded.
-- An AFTER trigger, so that an upsert (INSERT ... ON CONFLICT DO UPDATE) claims its version once,
-- for the action that actually happens; it raises before the statement ends, so nothing is written.

create table private.storage_versions (
  version text not null,
  claimed_at timestamptz not null default now(),
  constraint storage_versions_pkey primary key (version)
);
alter table private.storage_versions enable row level security, force row level security;
revoke all on private.storage_versions from public, anon, authenticated;
grant all on private.storage_versions to service_role;
comment on table private.storage_versions is
  'Every version a storage.objects row has named: API roles may only name a version not in it.';

create function private.claim_storage_version() returns trigger
  language plpgsql security definer set search_path = '' as $$
declare
  claimed integer;
begin
  if new.version is null or (tg_op = 'UPDATE' and new.version is not distinct from old.version) then
    return null;
  end if;
  insert into private.storage_versions (version) values (new.version) on conflict do nothing;
  get diagnostics claimed = row_count;
  if claimed = 0 and private.is_api_call() then
    raise exception 'a storage object''s version names bytes that are already stored'
      using errcode = '42501',
            hint = 'Leave version out: the storage service gives every upload a new one.';
  end if;
  return null;
end
$$;
revoke all on function private.claim_storage_version() from public;

create trigger claim_storage_version after insert or update of version on storage.objects
  for each row execute function private.claim_storage_version();

-- The versions named before this migration are claimed as well.
insert into private.storage_versions (version)
select distinct o.version from storage.objects o where o.version is not null
on conflict do nothing;
