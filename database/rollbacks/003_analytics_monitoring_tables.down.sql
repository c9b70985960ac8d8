-- Rollback of 003_analytics_monitoring_tables: drops the partitioned tables (with every partition)
-- and their partition functions.
drop table public.performance_metrics;
drop table public.error_logs;
drop table public.api_usage;
drop table public.user_activity;
drop function public.drop_old_partitions(text, interval);
drop function public.create_monthly_partitions(text, integer, date);
drop function public.seal_partition(text);
drop function public.analytics_partitioned_tables();
