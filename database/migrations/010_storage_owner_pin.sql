-- 010_storage_owner_pin: an API user can no longer forge who owns a storage object or what its
-- stored bytes are (issue 11).
-- - owner and owner_id are the writer's: an API role's INSERT gets auth.uid() in both (a different
--   value is refused), and its UPDATE may keep them or take auth.uid(), nothing else. Supabase's
--   Storage API and vpb-db's storage service write them so already.
-- - metadata (size, eTag, mimetype) describes the bytes of one version: an API role changes it only
--   together with version, as an upload does. Rows written by the service role or migrations are
--   not touched. SECURITY DEFINER so that API roles need no access to private; is_api_call() reads
--   the request's role, which that does not change.
create function private.pin_storage_object_owner() returns trigger
  language plpgsql security definer set search_path = '' as $$
declare
  _uid uuid := auth.uid();
begin
  if not private.is_api_call() then
    return new;
  end if;
  if tg_op = 'INSERT' then
    if (new.owner is not null and new.owner is distinct from _uid)
       or (new.owner_id is not null and new.owner_id is distinct from _uid::text) then
      raise exception 'a storage object''s owner is the user who uploads it'
        using errcode = '42501', hint = 'Leave owner and owner_id out: they are set from the signed-in user.';
    end if;
  else
    if (new.owner is distinct from old.owner and new.owner is distinct from _uid)
       or (new.owner_id is distinct from old.owner_id and new.owner_id is distinct from _uid::text) then
      raise exception 'a storage object''s owner is the user who uploads it'
        using errcode = '42501', hint = 'Leave owner and owner_id out: they are set from the signed-in user.';
    end if;
    if new.metadata is distinct from old.metadata and new.version is not distinct from old.version then
      raise exception 'a storage object''s metadata describes its stored bytes'
        using errcode = '42501', hint = 'Upload the object again to change its metadata.';
    end if;
    -- Kept as they were (an editor replacing the owner's file), or both the writer's.
    if new.owner is not distinct from old.owner and new.owner_id is not distinct from old.owner_id then
      return new;
    end if;
  end if;
  new.owner := _uid;
  new.owner_id := _uid::text;
  return new;
end
$$;
revoke all on function private.pin_storage_object_owner() from public;

create trigger pin_storage_object_owner before insert or update on storage.objects
  for each row execute function private.pin_storage_object_owner();
