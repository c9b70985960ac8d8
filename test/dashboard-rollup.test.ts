import assert from "node:assert/strict";
import { test } from "node:test";
import type { FastifyReply } from "fastify";
import pg from "pg";
import {
  QUERY_SERIES,
  QUERY_SERIES_HOURLY,
  TOP_QUERIES,
  TOP_QUERIES_HOURLY,
} from "../src/dashboard/queries.ts";
import { seriesFromRollup, topQueriesFromRollup, windowParam } from "../src/dashboard/routes/params.ts";
import { collectMetrics, rollUpStatements } from "../src/monitoring/collect.ts";
import type { MetricRow } from "../src/monitoring/metric-row.ts";
import { client, createDatabase } from "./support/harness.ts";

const windowOf = (hours: number) => {
  const w = windowParam({ hours: String(hours) }, {} as FastifyReply);
  assert.ok(w);
  return w;
};

/** One collector sample of three statements; the third has no cache-hit row (no blocks touched). */
function sample(k: number): MetricRow[] {
  return [1, 2, 3].flatMap((n): MetricRow[] => {
    const tags = { queryid: String(-100 * n), query: `select * from public.t${n} where id = $1` };
    const calls = 10 * n + (k % 7);
    const rows: MetricRow[] = [
      { metric: "db.statement.calls", value: calls, unit: "count", tags },
      { metric: "db.statement.total_time", value: n * 1.25 * calls + (k % 5), unit: "ms", tags },
      { metric: "db.statement.mean_time", value: n * 1.25, unit: "ms", tags },
      { metric: "db.statement.max_time", value: n * 20 + (k % 11), unit: "ms", tags },
      { metric: "db.statement.rows", value: n * calls, unit: "rows", tags },
    ];
    if (n < 3)
      rows.push({ metric: "db.statement.cache_hit", value: 90 + n + (k % 3), unit: "percent", tags });
    return rows;
  });
}

/** Rounds the float columns so that sums added in another order compare equal. */
const rounded = (rows: Array<Record<string, unknown>>) =>
  rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, typeof v === "number" ? Math.round(v * 1e6) / 1e6 : v]),
    ),
  );

test("the hourly rollup the collector keeps gives the raw rows' numbers for the 30-day view's series and top queries", async () => {
  const { url } = await createDatabase();
  const c = await client(url);
  try {
    // Three whole hours of samples, a minute apart, stored as the collector stores them: the metric
    // rows and, in the same transaction, their rollup.
    const { rows } = await c.query<{ start: Date }>(
      "select date_bin('1 hour', now(), timestamptz '2000-01-01 00:00:00+00') - interval '3 hours' as start",
    );
    const start = (rows[0] as { start: Date }).start.getTime();
    for (let k = 1; k <= 180; k++) {
      const at = new Date(start + k * 60_000);
      const metrics = sample(k);
      await c.query("begin");
      await c.query(
        `insert into public.performance_metrics (metric, value, unit, tags, occurred_at)
         select m, v, u, t, $5 from unnest($1::text[], $2::float8[], $3::text[], $4::jsonb[]) as x(m, v, u, t)`,
        [
          metrics.map((r) => r.metric),
          metrics.map((r) => r.value),
          metrics.map((r) => r.unit),
          metrics.map((r) => JSON.stringify(r.tags)),
          at,
        ],
      );
      await rollUpStatements(c, metrics, at);
      await c.query("commit");
    }
    // A user's own record_metric row: the raw queries leave it out, the rollup never has it.
    const user = "44444444-4444-4444-8444-444444444444";
    await c.query("insert into public.users (id, email) values ($1, 'rollup@example.com')", [user]);
    await c.query(
      `insert into public.performance_metrics (metric, value, unit, tags, user_id, occurred_at)
       values ('db.statement.calls', 1e6, 'count', '{"queryid": "-100", "query": "x"}', $1, now() - interval '90 minutes')`,
      [user],
    );
    const hourly = await c.query<{ n: number }>("select count(*)::int as n from private.statement_hourly");
    assert.equal(
      hourly.rows[0]?.n,
      3 * 4,
      "one row per statement and hour (the 4th holds the sample at its end)",
    );

    const w = windowOf(720);
    const rawSeries = await c.query(QUERY_SERIES, [w.interval, w.bucket]);
    const rollupSeries = await c.query(QUERY_SERIES_HOURLY, [w.interval, w.bucket]);
    assert.equal(rawSeries.rows.length, 4);
    assert.deepEqual(rounded(rollupSeries.rows), rounded(rawSeries.rows));

    const rawTop = await c.query(TOP_QUERIES, [w.interval, 20]);
    const rollupTop = await c.query(TOP_QUERIES_HOURLY, [w.interval, 20]);
    assert.equal(rawTop.rows.length, 3);
    assert.equal(
      rawTop.rows.find((r) => r.queryid === "-300")?.cache_hit_pct,
      null,
      "a statement with no cache-hit samples",
    );
    assert.deepEqual(rounded(rollupTop.rows), rounded(rawTop.rows));
  } finally {
    await c.end();
  }
});

test("each collection adds its statement rows to the rollup and drops the hours older than 31 days", async () => {
  const { url } = await createDatabase();
  const c = await client(url);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await c.query("create extension if not exists pg_stat_statements");
    await collectMetrics(pool, { storageStats: null }); // the baseline
    await c.query(
      `insert into private.statement_hourly (hour, queryid, query, calls, total_ms, max_ms, rows, cache_hit_sum, cache_hit_count)
       select date_bin('1 hour', now(), timestamptz '2000-01-01 00:00:00+00') - d * interval '1 day', -1, 'select 1', 1, 1, 1, 1, 0, 0
         from unnest(array[30, 32]) d`,
    );
    for (let i = 0; i < 3; i++) {
      await c.query("select count(*) from public.projects");
      await collectMetrics(pool, { storageStats: null });
    }
    const sums = await c.query<{ raw: number; rollup: number; n: number }>(
      `select (select sum(value) from public.performance_metrics where metric = 'db.statement.calls' and user_id is null) as raw,
              (select sum(calls) from private.statement_hourly where queryid <> -1) as rollup,
              (select count(*)::int from private.statement_hourly where queryid <> -1) as n`,
    );
    const s = sums.rows[0];
    assert.ok(s && s.n > 0 && s.raw > 0, "statements were collected");
    assert.equal(s.rollup, s.raw);
    const old = await c.query<{ days: number }>(
      `select round(extract(epoch from now() - hour) / 86400)::int as days from private.statement_hourly
        where queryid = -1 order by 1`,
    );
    assert.deepEqual(
      old.rows.map((r) => r.days),
      [30],
    );
  } finally {
    await pool.end();
    await c.end();
  }
});

interface PlanNode {
  "Relation Name"?: string;
  Plans?: PlanNode[];
}
const relations = (n: PlanNode): string[] => [
  ...(n["Relation Name"] ? [n["Relation Name"]] : []),
  ...(n.Plans ?? []).flatMap(relations),
];

test("the 30-day view's series and top queries read the rollup, never performance_metrics; the 6-hour view reads the raw rows", async () => {
  const { url } = await createDatabase();
  const c = await client(url);
  try {
    const planned = async (sql: string, params: unknown[]) => {
      const { rows } = await c.query<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>(
        `explain (format json) ${sql}`,
        params,
      );
      return relations(rows[0]?.["QUERY PLAN"][0]?.Plan as PlanNode);
    };
    const month = windowOf(720);
    assert.ok(seriesFromRollup(month) && topQueriesFromRollup(month));
    for (const rels of [
      await planned(QUERY_SERIES_HOURLY, [month.interval, month.bucket]),
      await planned(TOP_QUERIES_HOURLY, [month.interval, 20]),
    ]) {
      assert.ok(rels.includes("statement_hourly"), rels.join());
      assert.ok(!rels.some((r) => r.startsWith("performance_metrics")), rels.join());
    }
    const day = windowOf(6);
    assert.ok(!seriesFromRollup(day) && !topQueriesFromRollup(day));
    assert.ok(!seriesFromRollup(windowOf(708)), "59-minute buckets are not whole hours");
    assert.ok(topQueriesFromRollup(windowOf(25)) && !topQueriesFromRollup(windowOf(24)));
  } finally {
    await c.end();
  }
});
