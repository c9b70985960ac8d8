-- Rollback of 017_storage_read_as.
drop function private.storage_object_as(text, text, integer, text, text);
