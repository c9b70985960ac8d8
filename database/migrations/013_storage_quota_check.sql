-- 013_storage_quota_check: a user's stored files may not outgrow their plan's storage quota
-- (public.plan_storage_limit, 011), on every way in: the storage service, the SDK, or SQL through
-- the API. A user's storage is the sum of metadata.size of the storage.objects they own (owner, the
-- uploader, pinned by 010) under their own folder `{user_id}/` (where the policies of 005 let them
-- write; the name index finds them). Objects written by the service without an owner count for nobody.
--
-- A per-user advisory lock, held to the end of the transaction, makes concurrent uploads of one user
-- take turns: the second counts the first's committed row, so two uploads cannot both take the last
-- bytes. SECURITY DEFINER so that objects the user can no longer see (a project they left) still count.
create function private.enforce_storage_quota() returns trigger
  language plpgsql security definer set search_path = '' as $$
declare
  quota bigint;
  used bigint;
  size bigint := coalesce((new.metadata ->> 'size')::bigint, 0);
begin
  if new.owner is null then
    return new;
  end if;
  -- A write that adds nothing to its owner's total (a rename, the same or a smaller version) passes,
  -- also for a user over a quota that shrank.
  if tg_op = 'UPDATE' and new.owner is not distinct from old.owner
     and size <= coalesce((old.metadata ->> 'size')::bigint, 0) then
    return new;
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('vpb.storage_quota:' || new.owner::text, 0));
  select public.plan_storage_limit(u.plan) into quota from public.users u where u.id = new.owner;
  if quota is null then
    return new;
  end if;
  -- ~>=~ and ~<~ compare bytewise, as the name index (text_pattern_ops) is ordered: the user's folder
  -- is one index range ('/' is followed by '0').
  select coalesce(sum((o.metadata ->> 'size')::bigint), 0) into used
    from storage.objects o
   where o.name operator(pg_catalog.~>=~) (new.owner::text || '/')
     and o.name operator(pg_catalog.~<~) (new.owner::text || '0')
     and o.owner = new.owner
     and o.id <> new.id
     -- The object an upsert replaces: its BEFORE INSERT trigger runs before the conflict is found.
     and not (o.bucket_id = new.bucket_id and o.name = new.name);
  if used + size > quota then
    raise exception 'storage quota exceeded: the upload does not fit in the plan''s storage'
      using errcode = 'P0001', detail = 'storage_quota_exceeded',
            hint = 'Delete recordings, or move the user to a plan with more storage.';
  end if;
  return new;
end
$$;
revoke all on function private.enforce_storage_quota() from public;

-- Named to fire after pin_storage_object_owner (triggers go by name): the owner is settled by then.
create trigger storage_objects_quota before insert or update of owner, metadata on storage.objects
  for each row execute function private.enforce_storage_quota();
