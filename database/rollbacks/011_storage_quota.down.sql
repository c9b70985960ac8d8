-- Rollback of 011_storage_quota.
drop function public.plan_storage_limit(text);
