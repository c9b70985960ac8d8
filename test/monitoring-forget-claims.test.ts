/**
 * Migration 023 removes the monitoring rows that kept a signed-in user's JWT claims (statement texts
 * filed with their constants before the SDK sent its role switch on its own), and only those.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { client, createDatabase } from "./support/harness.ts";

const LEAKED = `select set_config('request.jwt.claims', '{"sub":"7d0f6b1e-1111-4222-8333-944455556666","email":"ada@example.com"}', true), set_config('role', 'authenticated', true)`;
const CLEAN = "select id, name from public.projects where owner_id = $1 order by updated_at desc limit $2";

test("migration 023 forgets stored statement texts holding claims, in every place that kept them, keeps the rest, and refuses them from then on", async () => {
  const db = await createDatabase("empty");
  const opts = projectMigratorOptions(db.url);
  assert.equal((await migrateUp(opts, { to: "022" })).error, undefined);
  const c = await client(db.url);
  const stats = await c
    .query("create extension if not exists pg_stat_statements")
    .then(() => true)
    .catch(() => false);
  for (const [queryid, query] of [
    ["1", LEAKED],
    ["2", CLEAN],
  ]) {
    await c.query(
      `insert into public.performance_metrics (metric, value, unit, tags)
       values ('db.statement.calls', 1, 'count', jsonb_build_object('queryid', $1::text, 'query', $2::text)),
              ('db.statement.total_time', 2, 'ms', jsonb_build_object('queryid', $1::text, 'query', $2::text))`,
      [queryid, query],
    );
    await c.query(
      `insert into private.statement_hourly (hour, queryid, query, calls, total_ms, max_ms, rows, cache_hit_sum, cache_hit_count)
       values (date_trunc('hour', now()), $1, $2, 1, 2, 2, 1, 100, 1)`,
      [queryid, query],
    );
  }
  // The statement as the SDK used to send it: pg_stat_statements files it under the new role, as sent.
  if (stats) {
    await c.query("select pg_stat_statements_reset()");
    await c.query(LEAKED);
    const filed = await c.query("select 1 from pg_stat_statements where query like '%ada@example.com%'");
    assert.equal(filed.rowCount, 1, "pg_stat_statements kept the claims (the case being cleaned)");
  }

  assert.equal((await migrateUp(opts)).error, undefined);
  const metrics = await c.query<{ query: string }>(
    "select tags ->> 'query' as query from public.performance_metrics where metric like 'db.statement.%'",
  );
  assert.deepEqual(
    metrics.rows.map((r) => r.query),
    [CLEAN, CLEAN],
  );
  const hourly = await c.query<{ query: string }>("select query from private.statement_hourly");
  assert.deepEqual(
    hourly.rows.map((r) => r.query),
    [CLEAN],
  );
  // And none can be stored again.
  await assert.rejects(
    c.query(
      `insert into public.performance_metrics (metric, value, unit, tags)
       values ('db.statement.calls', 1, 'count', jsonb_build_object('queryid', '3', 'query', $1::text))`,
      [LEAKED],
    ),
    (e: { code?: string }) => e.code === "23514",
  );
  await assert.rejects(
    c.query(
      `insert into private.statement_hourly (hour, queryid, query, calls, total_ms, max_ms, rows, cache_hit_sum, cache_hit_count)
       values (date_trunc('hour', now()), 3, $1, 1, 2, 2, 1, 100, 1)`,
      [LEAKED],
    ),
    (e: { code?: string }) => e.code === "23514",
  );
  if (stats) {
    const left = await c.query("select 1 from pg_stat_statements where query like '%ada@example.com%'");
    assert.equal(left.rowCount, 0, "the claims were reset out of pg_stat_statements");
  }
  await c.end();
});
