-- 019_dashboard_metric_index: an index the dashboard's charts read instead of the table (issue 15).
-- The collector writes a whole sample (about 200 rows of different metrics) each minute, so the rows
-- of one metric are spread over every heap page of a window: a chart of six hours of one metric read
-- each of those pages (1,500 at 20 statements a sample), a 30-day chart the whole month. This index
-- holds the collector's rows (user_id is null) by metric and time with their value, so the series
-- (calls and time per minute, errors per minute, cost per day) are index-only scans of only the rows
-- they sum.

-- A partitioned table cannot be indexed concurrently; performance_metrics is append-only and the
-- build holds off its writes (the collector's, once a minute) only for its duration.
-- squawk-ignore require-concurrent-index-creation
create index performance_metrics_collector_value_idx on public.performance_metrics (metric, occurred_at)
  include (value) where user_id is null;
comment on index public.performance_metrics_collector_value_idx is
  'The collector''s rows by metric and time with their value: the dashboard''s series read it alone (index-only).';
