import type pg from "pg";

/** Stands for a user's content or a statement's value: no dashboard page or API may show it. */
export const USER_SECRET = "dashboard-user-secret-4c1e";

export const USERS = {
  near: "11111111-1111-4111-8111-111111111111",
  over: "22222222-2222-4222-8222-222222222222",
  unlimited: "33333333-3333-4333-8333-333333333333",
};

/**
 * Metric rows as the collector writes them (user_id null, one sample a minute, deltas), over the last
 * `minutes` minutes: two statements, three users' storage, four days of API cost, errors. Plus a row an
 * app user recorded through record_metric (user_id set) carrying USER_SECRET, which must never show.
 */
export async function insertCollectorMetrics(c: pg.Client, minutes = 30): Promise<void> {
  await c.query(
    `insert into public.performance_metrics (metric, value, unit, tags, occurred_at)
     select m.metric, m.value, m.unit, jsonb_build_object('queryid', q.id, 'query', q.text), t
       from generate_series(1, $1::int) k,
            lateral (select date_trunc('minute', now()) - k * interval '1 minute' as t) ts,
            (values ('-101', 'select * from public.projects where owner_id = $1', 1),
                    ('-202', 'update public.users set settings = $1 where id = $2', 2)) q(id, text, n),
            lateral (values
              ('db.statement.calls', (10 * q.n + k % 7)::float8, 'count'),
              ('db.statement.total_time', (q.n * 3.5 * (10 * q.n + k % 7) + k)::float8, 'ms'),
              ('db.statement.mean_time', (q.n * 3.5 + k::float8 / (10 * q.n + k % 7))::float8, 'ms'),
              ('db.statement.max_time', (q.n * 20 + k % 5)::float8, 'ms'),
              ('db.statement.rows', (q.n * (10 * q.n + k % 7))::float8, 'rows'),
              ('db.statement.cache_hit', (90 + q.n + k % 3)::float8, 'percent')
            ) m(metric, value, unit)`,
    [minutes],
  );
  await c.query(
    `insert into public.performance_metrics (metric, value, unit, tags, occurred_at)
     select 'storage.user.bytes', u.bytes + k, 'bytes', jsonb_build_object('user_id', u.id, 'quota_bytes', u.quota),
            date_trunc('minute', now()) - k * interval '5 minutes'
       from generate_series(0, 2) k,
            (values ($1::text, 850000000::float8, '1073741824'),
                    ($2::text, 1200000000::float8, '1073741824'),
                    ($3::text, 5000000::float8, null)) u(id, bytes, quota)`,
    [USERS.near, USERS.over, USERS.unlimited],
  );
  await c.query(
    `insert into public.performance_metrics (metric, value, unit, tags, occurred_at)
     select 'api.cost', 0.25 * (d + 1) + 0.01 * h, 'usd', jsonb_build_object('model', m),
            date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' - d * interval '1 day' + h * interval '1 minute'
       from generate_series(0, 3) d, generate_series(0, 2) h, unnest(array['gpt-4o', 'claude']) m`,
  );
  await c.query(
    `insert into public.performance_metrics (metric, value, unit, tags, occurred_at)
     select 'errors.count', (k % 4) + (case when code = 'P0001' then 2 else 0 end), 'count',
            jsonb_build_object('code', code), date_trunc('minute', now()) - k * interval '1 minute'
       from generate_series(1, $1::int) k, unnest(array['P0001', '23505']) code
      where k % 3 <> 0`,
    [minutes],
  );
  await rollUpCollectorRows(c);
  // A user's own record_metric row: stamped with their id, so the dashboard must leave it out.
  await c.query(
    `insert into public.performance_metrics (metric, value, unit, tags, user_id, occurred_at)
     values ('db.statement.calls', 1e6, 'count', jsonb_build_object('queryid', '-999', 'query', $1::text), $2, now() - interval '2 minutes'),
            ('storage.user.bytes', 1e12, 'bytes', jsonb_build_object('user_id', $1::text, 'quota_bytes', '1'), $2, now() - interval '2 minutes')`,
    [USER_SECRET, USERS.near],
  );
}

/** One firing critical quota alert, one firing slow-query warning, one resolved error spike. */
export async function insertAlerts(c: pg.Client): Promise<void> {
  await c.query(
    `insert into private.alerts (rule, subject, state, severity, summary, fired_at, last_seen_at, resolved_at)
     values ('storage_quota', $1, 'firing', 'critical', 'storage at 112% of the plan quota', now() - interval '20 minutes', now() - interval '1 minute', null),
            ('slow_query', '-202', 'firing', 'warning', 'mean 7.1 ms over 5 minutes, baseline 2.0 ms', now() - interval '10 minutes', now() - interval '2 minutes', null),
            ('error_spike', 'P0001', 'resolved', 'warning', '41 errors in 5 minutes', now() - interval '3 hours', now() - interval '2 hours', now() - interval '2 hours')`,
    [USERS.over],
  );
}

/**
 * Fills private.statement_hourly from the collector's statement rows of public.performance_metrics,
 * as the collector does run by run (and migration 020 once): for tests that insert metric rows
 * directly. Replaces what the rollup held.
 */
export async function rollUpCollectorRows(c: pg.Client): Promise<void> {
  await c.query("truncate private.statement_hourly");
  await c.query(
    `insert into private.statement_hourly (hour, queryid, query, calls, total_ms, max_ms, rows, cache_hit_sum, cache_hit_count)
     select date_bin('1 hour', occurred_at, timestamptz '2000-01-01 00:00:00+00'), (tags->>'queryid')::bigint,
            max(tags->>'query'),
            coalesce(sum(value) filter (where metric = 'db.statement.calls'), 0),
            coalesce(sum(value) filter (where metric = 'db.statement.total_time'), 0),
            max(value) filter (where metric = 'db.statement.max_time'),
            coalesce(sum(value) filter (where metric = 'db.statement.rows'), 0),
            coalesce(sum(value) filter (where metric = 'db.statement.cache_hit'), 0),
            count(*) filter (where metric = 'db.statement.cache_hit')
       from public.performance_metrics
      where metric like 'db.statement.%' and user_id is null and tags ? 'queryid'
      group by 1, 2`,
  );
}
