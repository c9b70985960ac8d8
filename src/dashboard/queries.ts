/**
 * The dashboard's SQL, one statement per panel. Each reads aggregated metrics only: rows of
 * public.performance_metrics written by the collector, and private.alerts (see
 * database/README.md, Monitoring). `user_id is null` keeps out the rows an app's users record
 * through record_metric (stamped with their id), so a user can neither forge a chart nor put their
 * own text on the page. The statement text shown is the collector's `query` tag: pg_stat_statements'
 * normalized form, constants replaced by $n, so it carries no values.
 *
 * $1 is the window (an interval back from now); $2, where used, the bucket width.
 */

/** Calls and mean latency of all sampled statements per bucket. */
export const QUERY_SERIES = `
select extract(epoch from date_bin($2::interval, occurred_at, timestamptz '2000-01-01 00:00:00+00'))::float8 as t,
       coalesce(sum(value) filter (where metric = 'db.statement.calls'), 0)::float8 as calls,
       (sum(value) filter (where metric = 'db.statement.total_time')
         / nullif(sum(value) filter (where metric = 'db.statement.calls'), 0))::float8 as mean_ms
  from public.performance_metrics
 where metric in ('db.statement.calls', 'db.statement.total_time')
   and user_id is null
   and occurred_at >= now() - $1::interval
 group by 1
 order by 1`;

/** The top queries' answer, from a `per_query` CTE of sums per query id (raw rows or the rollup). */
const TOP_QUERIES_SELECT = `
select queryid, left(query, 300) as query, calls::float8, total_ms::float8,
       (total_ms / nullif(calls, 0))::float8 as mean_ms, max_ms::float8, rows::float8,
       cache_hit_pct::float8,
       (100 * total_ms / nullif(sum(total_ms) over (), 0))::float8 as time_pct
  from per_query
 order by total_ms desc, queryid
 limit $2`;

/**
 * Supabase's Query Performance columns over the window, per statement: time consumed %, calls,
 * mean and max time, rows, cache hit (the mean of the samples' ratios). $2 is the row limit.
 */
export const TOP_QUERIES = `
with per_query as (
  select tags->>'queryid' as queryid,
         max(tags->>'query') as query,
         coalesce(sum(value) filter (where metric = 'db.statement.calls'), 0) as calls,
         coalesce(sum(value) filter (where metric = 'db.statement.total_time'), 0) as total_ms,
         max(value) filter (where metric = 'db.statement.max_time') as max_ms,
         coalesce(sum(value) filter (where metric = 'db.statement.rows'), 0) as rows,
         avg(value) filter (where metric = 'db.statement.cache_hit') as cache_hit_pct
    from public.performance_metrics
   where metric in ('db.statement.calls', 'db.statement.total_time', 'db.statement.max_time',
                    'db.statement.rows', 'db.statement.cache_hit')
     and user_id is null
     and occurred_at >= now() - $1::interval
     and tags ? 'queryid'
   group by 1
)
${TOP_QUERIES_SELECT}`;

/**
 * The hourly rollup (private.statement_hourly, migration 020) of the statement metrics: the same
 * columns as QUERY_SERIES and TOP_QUERIES, read from 20 rows an hour instead of 120 a minute, for
 * windows summed by the hour (the routes choose: src/dashboard/routes/params.ts). A window starts
 * at the beginning of the hour now() - $1 falls in: its first hour is whole, where the raw rows'
 * window cuts it (the series' first bucket holds that hour's part in the window). It holds only
 * the collector's rows, the `user_id is null` of the raw queries.
 */
const ROLLUP_WINDOW = `hour >= date_bin('1 hour', now() - $1::interval, timestamptz '2000-01-01 00:00:00+00')`;

/** QUERY_SERIES from the rollup; $2 (the bucket) is a whole number of hours. */
export const QUERY_SERIES_HOURLY = `
select extract(epoch from date_bin($2::interval, hour, timestamptz '2000-01-01 00:00:00+00'))::float8 as t,
       sum(calls)::float8 as calls,
       (sum(total_ms) / nullif(sum(calls), 0))::float8 as mean_ms
  from private.statement_hourly
 where ${ROLLUP_WINDOW}
 group by 1
 order by 1`;

/** TOP_QUERIES from the rollup: cache hit is still the mean of the samples' ratios. */
export const TOP_QUERIES_HOURLY = `
with per_query as (
  select queryid::text as queryid, max(query) as query, sum(calls) as calls, sum(total_ms) as total_ms,
         max(max_ms) as max_ms, sum(rows) as rows,
         sum(cache_hit_sum) / nullif(sum(cache_hit_count), 0) as cache_hit_pct
    from private.statement_hourly
   where ${ROLLUP_WINDOW}
   group by queryid
)
${TOP_QUERIES_SELECT}`;

/**
 * Each user's storage bytes and quota (null: unlimited) in the latest sample of the window, largest
 * first; $2 is the limit. The latest sample only: it holds every user the collector keeps (the
 * largest and those near their quota), and reading it is one index probe and ~100 rows, where the
 * latest row per user meant every sample of the day (100 users x 1,440).
 */
export const STORAGE_USERS = `
select user_id, bytes, quota_bytes,
       (100 * bytes / nullif(quota_bytes, 0))::float8 as used_pct
  from (
    select tags->>'user_id' as user_id,
           value::float8 as bytes,
           case when tags->>'quota_bytes' ~ '^[0-9]{1,18}$' then (tags->>'quota_bytes')::float8 end as quota_bytes
      from public.performance_metrics
     where metric = 'storage.user.bytes'
       and user_id is null
       and tags ? 'user_id'
       and occurred_at = (select max(occurred_at) from public.performance_metrics
                           where metric = 'storage.user.bytes' and user_id is null
                             and occurred_at >= now() - $1::interval)
  ) latest
 order by bytes desc, user_id
 limit $2`;

/** API cost (USD) per UTC day. */
export const API_COST_DAILY = `
select extract(epoch from date_trunc('day', occurred_at at time zone 'UTC') at time zone 'UTC')::float8 as t,
       sum(value)::float8 as usd
  from public.performance_metrics
 where metric = 'api.cost'
   and user_id is null
   and occurred_at >= now() - $1::interval
 group by 1
 order by 1`;

/** Errors per minute (all codes), averaged over each bucket. */
export const ERRORS_PER_MINUTE = `
select extract(epoch from date_bin($2::interval, occurred_at, timestamptz '2000-01-01 00:00:00+00'))::float8 as t,
       (sum(value) / (extract(epoch from $2::interval) / 60))::float8 as per_minute
  from public.performance_metrics
 where metric = 'errors.count'
   and user_id is null
   and occurred_at >= now() - $1::interval
 group by 1
 order by 1`;

/** Whether the alerts table exists yet (the collector's migration adds it). */
export const ALERTS_TABLE_EXISTS = `select to_regclass('private.alerts') is not null as present`;

/** Firing alerts first (critical before warning), then those resolved in the last 7 days. */
export const ALERTS = `
select id::text, rule, subject, state, severity, summary, fired_at, last_seen_at, resolved_at
  from private.alerts
 where state = 'firing' or resolved_at > now() - interval '7 days'
 order by state = 'firing' desc, severity = 'critical' desc, last_seen_at desc
 limit 100`;
