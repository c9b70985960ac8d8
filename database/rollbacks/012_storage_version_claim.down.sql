-- Rollback of 012_storage_version_claim: API roles may name any version in storage.objects again.
drop trigger claim_storage_version on storage.objects;
drop function private.claim_storage_version();
drop table private.storage_versions;
