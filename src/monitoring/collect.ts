import type pg from "pg";
import { type StorageHttpStats, storageHttpStats } from "../storage/http-stats.ts";
import type { MetricRow } from "./metric-row.ts";
import { sampleStatements, statementStatus } from "./statements.ts";

export interface CollectOptions {
  /** The sample's time (occurred_at of every row, end of the interval); default: now. Tests move it. */
  now?: Date;
  /** The storage server counters to drain; default the process's; null for none (another process serves storage). */
  storageStats?: StorageHttpStats | null;
  /** A session active longer than this counts as long-running (default 60 s). */
  longRunningMs?: number;
  /** Statements kept per sample, by time in the interval (default 50). */
  topStatements?: number;
  /** Users whose storage is kept per sample, by bytes (default 100); users at half their quota or more are always kept. */
  topStorageUsers?: number;
}

export interface CollectResult {
  sampledAt: Date;
  /** Start of the interval the deltas cover (the previous sample, at most an hour back). */
  since: Date;
  rows: number;
  /** Wall time of the run, and the CPU time this process spent on it. */
  durationMs: number;
  cpuMs: number;
  /** Wall time of the hourly rollup's upsert and retention delete, part of durationMs. */
  rollupMs: number;
  statements: "on" | "off";
  /** Why a part was left out (statement metrics off); empty when all is collected. */
  notes: string[];
}

/** A first run, or one after a long pause, counts at most this far back: a bounded index range. */
const MAX_INTERVAL_MS = 3_600_000;

/**
 * Takes one sample of the database into public.performance_metrics: called by the scheduler every
 * minute, on a connection that may read pg_stat_activity and bypasses RLS (the database owner as
 * superuser, or Supabase's postgres). Every read is an index range over the interval, a catalog
 * view or a small table: no scan of a large table. Storage per user and bucket is read from
 * private.storage_usage, which triggers on storage.objects keep (migration 015).
 *
 * One transaction: a failed run stores nothing and leaves the statement baseline where it was.
 */
export async function collectMetrics(pool: pg.Pool, options: CollectOptions = {}): Promise<CollectResult> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const c = await pool.connect();
  try {
    const status = await statementStatus(c);
    await c.query("begin");
    try {
      const clock = await c.query<{ now: Date }>("select coalesce($1::timestamptz, now()) as now", [
        options.now ?? null,
      ]);
      const sampledAt = (clock.rows[0] as { now: Date }).now;
      const last = await c.query<{ at: Date | null }>(
        "select max(occurred_at) as at from public.performance_metrics where metric = 'db.size' and occurred_at < $1",
        [sampledAt],
      );
      const floor = new Date(sampledAt.getTime() - MAX_INTERVAL_MS);
      const lastAt = last.rows[0]?.at ?? null;
      const since =
        lastAt && lastAt > floor ? lastAt : lastAt ? floor : new Date(sampledAt.getTime() - 60_000);

      const rows: MetricRow[] = [];
      if (status.on)
        rows.push(...(await sampleStatements(c, status.schema, sampledAt, options.topStatements ?? 50)));
      rows.push(...(await sizes(c)));
      rows.push(...(await sessions(c, options.longRunningMs ?? 60_000)));
      rows.push(...(await storage(c, options.topStorageUsers ?? 100)));
      rows.push(...(await intervalCounts(c, since, sampledAt)));
      const stats = options.storageStats === undefined ? storageHttpStats : options.storageStats;
      if (stats) rows.push(...storageHttp(stats));

      await c.query(
        `insert into public.performance_metrics (metric, value, unit, tags, occurred_at)
         select m, v, u, t, $5 from unnest($1::text[], $2::float8[], $3::text[], $4::jsonb[]) as x(m, v, u, t)`,
        [
          rows.map((r) => r.metric),
          rows.map((r) => r.value),
          rows.map((r) => r.unit),
          rows.map((r) => JSON.stringify(r.tags)),
          sampledAt,
        ],
      );
      const rollupStarted = performance.now();
      await rollUpStatements(c, rows, sampledAt);
      const rollupMs = performance.now() - rollupStarted;
      await c.query("commit");
      const used = process.cpuUsage(cpu);
      return {
        sampledAt,
        since,
        rows: rows.length,
        durationMs: performance.now() - started,
        cpuMs: (used.user + used.system) / 1000,
        rollupMs,
        statements: status.on ? "on" : "off",
        notes: status.on ? [] : [status.note],
      };
    } catch (e) {
      await c.query("rollback").catch(() => {});
      throw e;
    }
  } finally {
    c.release();
  }
}

/** The dashboard's hourly rollup keeps 31 days: its longest window (30 days) and a day. */
const ROLLUP_DAYS = 31;

/**
 * Adds the sample's statement rows to private.statement_hourly (migration 020), in the run's
 * transaction: the rollup holds exactly the sums of the metric rows stored, so the dashboard's long
 * windows read 20 rows an hour instead of 120 a minute. Then drops the hours past the rollup's
 * retention: a range of its primary key, a few rows an hour.
 */
export async function rollUpStatements(c: pg.ClientBase, rows: MetricRow[], sampledAt: Date): Promise<void> {
  const statements = rows.filter((r) => r.metric.startsWith("db.statement.") && r.tags.queryid);
  if (statements.length > 0)
    await c.query(
      `insert into private.statement_hourly as h
         (hour, queryid, query, calls, total_ms, max_ms, rows, cache_hit_sum, cache_hit_count)
       select date_bin('1 hour', $5::timestamptz, timestamptz '2000-01-01 00:00:00+00'), q::bigint, max(t),
              coalesce(sum(v) filter (where m = 'db.statement.calls'), 0),
              coalesce(sum(v) filter (where m = 'db.statement.total_time'), 0),
              max(v) filter (where m = 'db.statement.max_time'),
              coalesce(sum(v) filter (where m = 'db.statement.rows'), 0),
              coalesce(sum(v) filter (where m = 'db.statement.cache_hit'), 0),
              count(*) filter (where m = 'db.statement.cache_hit')
         from unnest($1::text[], $2::float8[], $3::text[], $4::text[]) as x(m, v, q, t)
        group by q
       on conflict (hour, queryid) do update
         set query = greatest(h.query, excluded.query),
             calls = h.calls + excluded.calls,
             total_ms = h.total_ms + excluded.total_ms,
             max_ms = greatest(h.max_ms, excluded.max_ms),
             rows = h.rows + excluded.rows,
             cache_hit_sum = h.cache_hit_sum + excluded.cache_hit_sum,
             cache_hit_count = h.cache_hit_count + excluded.cache_hit_count`,
      [
        statements.map((r) => r.metric),
        statements.map((r) => r.value),
        statements.map((r) => r.tags.queryid),
        statements.map((r) => r.tags.query ?? ""),
        sampledAt,
      ],
    );
  await c.query(
    `delete from private.statement_hourly
      where hour < date_bin('1 hour', $1::timestamptz, timestamptz '2000-01-01 00:00:00+00') - $2::int * interval '1 day'`,
    [sampledAt, ROLLUP_DAYS],
  );
}

async function sizes(c: pg.ClientBase): Promise<MetricRow[]> {
  const db = await c.query<{ name: string; bytes: string }>(
    "select current_database() as name, pg_database_size(current_database()) as bytes",
  );
  const tables = await c.query<{ name: string; bytes: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name, pg_total_relation_size(c.oid) as bytes
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
        and n.nspname !~ '^pg_toast'
      order by 2 desc limit 20`,
  );
  return [
    ...db.rows.map(
      (r): MetricRow => ({
        metric: "db.size",
        value: Number(r.bytes),
        unit: "bytes",
        tags: { database: r.name },
      }),
    ),
    ...tables.rows.map(
      (r): MetricRow => ({
        metric: "db.table.size",
        value: Number(r.bytes),
        unit: "bytes",
        tags: { table: r.name },
      }),
    ),
  ];
}

async function sessions(c: pg.ClientBase, longRunningMs: number): Promise<MetricRow[]> {
  const byState = await c.query<{ state: string; application: string; n: number }>(
    `select coalesce(state, 'unknown') as state, left(coalesce(nullif(application_name, ''), '(none)'), 64) as application,
            count(*)::int as n
       from pg_catalog.pg_stat_activity
      where datname = current_database() and backend_type = 'client backend'
      group by 1, 2`,
  );
  const odd = await c.query<{ long_running: number; idle_in_tx: number }>(
    `select count(*) filter (where state = 'active' and clock_timestamp() - query_start > $1 * interval '1 ms')::int as long_running,
            count(*) filter (where state like 'idle in transaction%')::int as idle_in_tx
       from pg_catalog.pg_stat_activity
      where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()`,
    [longRunningMs],
  );
  const o = odd.rows[0] ?? { long_running: 0, idle_in_tx: 0 };
  return [
    ...byState.rows.map(
      (r): MetricRow => ({
        metric: "db.connections",
        value: r.n,
        unit: "count",
        tags: { state: r.state, application: r.application },
      }),
    ),
    { metric: "db.sessions.long_running", value: o.long_running, unit: "count", tags: {} },
    { metric: "db.sessions.idle_in_transaction", value: o.idle_in_tx, unit: "count", tags: {} },
  ];
}

const NIL_UUID = "00000000-0000-0000-0000-000000000000";

async function storage(c: pg.ClientBase, topUsers: number): Promise<MetricRow[]> {
  const users = await c.query<{ user_id: string; bytes: string; quota: string | null }>(
    `with per_user as (
       select s.owner_id, sum(s.bytes) as bytes from private.storage_usage s
        where s.owner_id <> $1::uuid group by s.owner_id having sum(s.bytes) > 0
     ), ranked as (
       select p.owner_id, p.bytes, public.plan_storage_limit(u.plan) as quota,
              row_number() over (order by p.bytes desc) as rank
         from per_user p left join public.users u on u.id = p.owner_id
     )
     select owner_id::text as user_id, bytes::text, quota::text from ranked
      where rank <= $2 or (quota is not null and bytes * 2 >= quota)`,
    [NIL_UUID, topUsers],
  );
  const buckets = await c.query<{ bucket: string; bytes: string }>(
    "select bucket_id as bucket, sum(bytes)::text as bytes from private.storage_usage group by bucket_id",
  );
  return [
    ...users.rows.map(
      (r): MetricRow => ({
        metric: "storage.user.bytes",
        value: Number(r.bytes),
        unit: "bytes",
        tags: { user_id: r.user_id, quota_bytes: r.quota },
      }),
    ),
    ...buckets.rows.map(
      (r): MetricRow => ({
        metric: "storage.bucket.bytes",
        value: Number(r.bytes),
        unit: "bytes",
        tags: { bucket: r.bucket },
      }),
    ),
  ];
}

/** API calls and cost per model, errors per code: rows with since < occurred_at <= until (index ranges). */
async function intervalCounts(c: pg.ClientBase, since: Date, until: Date): Promise<MetricRow[]> {
  const api = await c.query<{ model: string; calls: number; cost: string }>(
    `select model, count(*)::int as calls, sum(cost_usd)::text as cost from public.api_usage
      where occurred_at > $1 and occurred_at <= $2 group by model`,
    [since, until],
  );
  // Errors are rows of severity error or critical; warnings and below are not counted.
  const errors = await c.query<{ code: string; n: number }>(
    `select coalesce(error_code, 'none') as code, count(*)::int as n from public.error_logs
      where severity = any (array['error', 'critical']) and occurred_at > $1 and occurred_at <= $2
      group by 1`,
    [since, until],
  );
  return [
    ...api.rows.flatMap((r): MetricRow[] => [
      { metric: "api.calls", value: r.calls, unit: "count", tags: { model: r.model } },
      { metric: "api.cost", value: Number(r.cost), unit: "usd", tags: { model: r.model } },
    ]),
    ...errors.rows.map(
      (r): MetricRow => ({ metric: "errors.count", value: r.n, unit: "count", tags: { code: r.code } }),
    ),
  ];
}

function storageHttp(stats: StorageHttpStats): MetricRow[] {
  const s = stats.drain();
  const rows: MetricRow[] = Object.entries(s.requests).map(([status, n]) => ({
    metric: "storage_http.requests",
    value: n,
    unit: "count",
    tags: { status },
  }));
  if (s.latencyMeanMs !== undefined)
    rows.push({ metric: "storage_http.latency_mean", value: s.latencyMeanMs, unit: "ms", tags: {} });
  if (s.latencyMaxMs !== undefined)
    rows.push({ metric: "storage_http.latency_max", value: s.latencyMaxMs, unit: "ms", tags: {} });
  for (const [user, n] of Object.entries(s.deniedByUser))
    rows.push({ metric: "storage_http.denied", value: n, unit: "count", tags: { user_id: user } });
  return rows;
}
