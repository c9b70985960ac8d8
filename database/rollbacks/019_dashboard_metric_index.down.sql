-- Undoes 019_dashboard_metric_index.
drop index public.performance_metrics_collector_value_idx;
