-- Undoes 015_monitoring. Metrics stored with the unit 'usd' go with the wider check.
drop table private.alerts;
drop trigger objects_storage_usage_insert on storage.objects;
drop trigger objects_storage_usage_update on storage.objects;
drop trigger objects_storage_usage_delete on storage.objects;
drop function private.storage_usage_apply();
drop function private.object_size(jsonb);
drop table private.storage_usage;
drop table private.statement_samples;
drop index public.user_activity_occurred_at_idx;
drop index public.api_usage_occurred_at_idx;
delete from public.performance_metrics where unit = 'usd';
alter table public.performance_metrics drop constraint performance_metrics_unit_check;
alter table public.performance_metrics add constraint performance_metrics_unit_check
  check (unit in ('ms', 'bytes', 'count', 'percent', 'rows'));
