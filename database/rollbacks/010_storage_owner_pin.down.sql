-- Rollback of 010_storage_owner_pin: API roles write storage.objects' owner, owner_id and metadata
-- freely again (RLS still decides which rows).
drop trigger pin_storage_object_owner on storage.objects;
drop function private.pin_storage_object_owner();
