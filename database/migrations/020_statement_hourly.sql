-- 020_statement_hourly: an hourly rollup of the collector's statement metrics (issue 15).
-- The dashboard's 30-day views summed every per-minute statement row of the month (4.3 million rows
-- at 20 statements a sample, 1.7 million index entries for the series): seconds, near the
-- dashboard's statement timeout under load. The collector now also adds each sample's deltas to
-- one row per hour and statement, and the dashboard reads those (720 x 20 rows a month) for
-- windows summed by the hour.
--
-- hour is date_bin('1 hour', occurred_at, '2000-01-01 00:00:00+00'), the dashboard's bucket of a
-- sample's time, independent of the session's time zone.

create table private.statement_hourly (
  hour timestamptz not null,
  queryid bigint not null,
  query text not null,
  calls double precision not null,
  total_ms double precision not null,
  max_ms double precision,
  rows double precision not null,
  cache_hit_sum double precision not null,
  cache_hit_count bigint not null,
  primary key (hour, queryid)
);
alter table private.statement_hourly enable row level security, force row level security;
revoke all on private.statement_hourly from public, anon, authenticated;
comment on table private.statement_hourly is
  'The collector''s statement metrics summed per hour and query id, for the dashboard''s long windows; kept 31 days.';
comment on column private.statement_hourly.hour is
  'Start of the hour (UTC-aligned, date_bin of the samples'' occurred_at).';
comment on column private.statement_hourly.queryid is 'pg_stat_statements'' query id.';
comment on column private.statement_hourly.query is
  'The statement text as the collector stores it in the metrics'' query tag (normalized, at most 300 characters).';
comment on column private.statement_hourly.calls is 'Sum of the hour''s db.statement.calls.';
comment on column private.statement_hourly.total_ms is 'Sum of the hour''s db.statement.total_time, in ms.';
comment on column private.statement_hourly.max_ms is 'Largest db.statement.max_time of the hour, in ms.';
comment on column private.statement_hourly.rows is 'Sum of the hour''s db.statement.rows.';
comment on column private.statement_hourly.cache_hit_sum is
  'Sum of the hour''s db.statement.cache_hit percentages (the dashboard shows their mean: sum / count).';
comment on column private.statement_hourly.cache_hit_count is 'Number of the hour''s db.statement.cache_hit samples.';

-- The statement rows already collected (the last 31 days, as the collector keeps): one pass
-- over them, once.
insert into private.statement_hourly (hour, queryid, query, calls, total_ms, max_ms, rows, cache_hit_sum, cache_hit_count)
select date_bin('1 hour', occurred_at, timestamptz '2000-01-01 00:00:00+00'),
       (tags->>'queryid')::bigint,
       max(tags->>'query'),
       coalesce(sum(value) filter (where metric = 'db.statement.calls'), 0),
       coalesce(sum(value) filter (where metric = 'db.statement.total_time'), 0),
       max(value) filter (where metric = 'db.statement.max_time'),
       coalesce(sum(value) filter (where metric = 'db.statement.rows'), 0),
       coalesce(sum(value) filter (where metric = 'db.statement.cache_hit'), 0),
       count(*) filter (where metric = 'db.statement.cache_hit')
  from public.performance_metrics
 where metric in ('db.statement.calls', 'db.statement.total_time', 'db.statement.max_time',
                  'db.statement.rows', 'db.statement.cache_hit')
   and user_id is null
   and tags->>'queryid' ~ '^-?[0-9]{1,19}$'
   and occurred_at >= now() - interval '31 days'
 group by 1, 2;
