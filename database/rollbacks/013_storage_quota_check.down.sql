-- Rollback of 013_storage_quota_check.
drop trigger storage_objects_quota on storage.objects;
drop function private.enforce_storage_quota();
