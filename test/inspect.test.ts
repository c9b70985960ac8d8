import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { inspectDatabase } from "../src/monitoring/inspect.ts";
import { formatInspectReport } from "../src/monitoring/inspect-format.ts";
import { runCli } from "./support/cli.ts";
import { binDirFor, startSystemServer } from "./support/debian-server.ts";
import { client, createDatabase, MAJOR } from "./support/harness.ts";

/** A literal that stands for a user's data: no section may show it. */
const SECRET = "inspect-secret-literal-7f3a";

test("inspect reports sizes, bloat, unused indexes and cache hits, and notes a missing pg_stat_statements", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  await c.query("create table public.inspect_big (id int primary key, body text)");
  await c.query("create index inspect_big_body_idx on public.inspect_big (body)");
  await c.query("insert into public.inspect_big select g, repeat('x', 200) from generate_series(1, 5000) g");
  // Half the rows deleted and not vacuumed: dead space the bloat estimate must see.
  await c.query("delete from public.inspect_big where id % 2 = 0");
  await c.query("analyze public.inspect_big");
  await c.query("select count(*) from public.inspect_big where id < 100");

  const report = await inspectDatabase(c, { limit: 50 });
  assert.equal(report.database, db.name);
  const queries = report.queries;
  assert.ok(queries);
  assert.deepEqual(queries.rows, []);
  assert.match(queries.note ?? "", /pg_stat_statements is not installed in this database/);

  const big = report["table-sizes"]?.rows.find((t) => t.name === "public.inspect_big");
  assert.ok(big, "the new table is among the 50 largest");
  const { rows: size } = await c.query<{ total: string }>(
    "select pg_total_relation_size('public.inspect_big') as total",
  );
  assert.equal(big.total_bytes, Number(size[0]?.total));
  assert.equal(big.estimated_rows, 2500);
  assert.ok(report["index-sizes"]?.rows.some((i) => i.name === "public.inspect_big_body_idx"));

  const bloat = report.bloat?.rows.find((b) => b.name === "public.inspect_big");
  assert.ok(bloat, "the half-deleted table has a bloat estimate");
  assert.ok(bloat.bloat_ratio >= 1.5, `about twice the pages it needs, got ${bloat.bloat_ratio}`);
  assert.ok(bloat.wasted_bytes > 0);

  const unused = report["unused-indexes"]?.rows.map((i) => i.name) ?? [];
  assert.ok(unused.includes("public.inspect_big_body_idx"), "a never-scanned index is listed");
  assert.ok(!unused.includes("public.inspect_big_pkey"), "a primary key is never listed (it enforces)");

  assert.deepEqual(report["cache-hit"]?.rows.map((r) => r.name).sort(), ["indexes", "tables"]);
  for (const r of report["cache-hit"]?.rows ?? []) {
    if (r.ratio_pct !== null) assert.ok(r.ratio_pct >= 0 && r.ratio_pct <= 100);
  }
});

test("inspect shows a blocking lock and a long-running query with their values hidden", async () => {
  const db = await createDatabase();
  const holder = await client(db.url);
  const waiter = await client(db.url);
  const c = await client(db.url);
  await c.query("create table public.inspect_locked (id int primary key, note text)");
  await c.query("insert into public.inspect_locked values (1, 'a')");
  await holder.query("begin");
  await holder.query(`update public.inspect_locked set note = '${SECRET}' where id = 1`);
  const holderPid = (await holder.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid;
  const waiterPid = (await waiter.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid;
  // Literal values, as an app might send them: the report must show them as $n.
  const blocked = waiter.query(`update public.inspect_locked set note = '${SECRET}' where id = 1`);
  try {
    let report = await inspectDatabase(c, { sections: ["blocking", "long-running"], longRunningMs: 200 });
    for (let i = 0; i < 50 && (report.blocking?.rows.length ?? 0) === 0; i++) {
      await sleep(100);
      report = await inspectDatabase(c, { sections: ["blocking", "long-running"], longRunningMs: 200 });
    }
    await sleep(300);
    report = await inspectDatabase(c, { sections: ["blocking", "long-running"], longRunningMs: 200 });
    const lock = report.blocking?.rows.find((b) => b.blocked_pid === waiterPid);
    assert.ok(lock, "the waiting update is reported as blocked");
    assert.equal(lock.blocking_pid, holderPid);
    assert.equal(lock.blocking_state, "idle in transaction");
    assert.match(lock.blocked_query, /update public\.inspect_locked set note = \$1 where id = \$2/);
    const long = report["long-running"]?.rows.find((l) => l.pid === waiterPid);
    assert.ok(long, "the waiting update has run past 200 ms");
    assert.ok(long.duration_ms >= 200);
    // As in Supabase's report, a session idle in a transaction is listed too: it holds its locks.
    const idle = report["long-running"]?.rows.find((l) => l.pid === holderPid);
    assert.equal(idle?.state, "idle in transaction");
    assert.ok(!JSON.stringify(report).includes(SECRET), "no statement's literal is shown");
  } finally {
    await holder.query("rollback");
    await blocked;
  }
});

test("`vpb-db inspect` prints sections as text and JSON, and refuses an unknown section", async () => {
  const db = await createDatabase();
  const text = await runCli(["inspect", "--only", "table-sizes,cache-hit", "--limit", "3"], {
    DATABASE_URL: db.url,
  });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /== Table sizes ==/);
  assert.match(text.stdout, /== Cache hit rate ==/);
  assert.doesNotMatch(text.stdout, /== Index sizes ==/);
  const json = await runCli(["inspect", "--json"], { DATABASE_URL: db.url });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as Record<string, unknown>;
  for (const s of [
    "queries",
    "table-sizes",
    "index-sizes",
    "bloat",
    "unused-indexes",
    "cache-hit",
    "blocking",
    "long-running",
  ])
    assert.ok(s in report, `section ${s}`);
  const bad = await runCli(["inspect", "--only", "tables"], { DATABASE_URL: db.url });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /\[INVALID_ARGUMENT\]: Unknown inspect section: tables/);
  const badLimit = await runCli(["inspect", "--limit", "0"], { DATABASE_URL: db.url });
  assert.equal(badLimit.code, 2);
  assert.match(badLimit.stderr, /--limit must be a whole number/);
});

const dataRoot = path.join(os.tmpdir(), `vpb-inspect-${MAJOR}-${process.pid}`);
after(() => rmSync(dataRoot, { recursive: true, force: true }));

test("inspect's top queries come from pg_stat_statements, with Supabase's Query Performance columns", async () => {
  // Servers of its own: first one that does not load pg_stat_statements (plpgsql preloaded in its
  // place), then one that does, as the embedded server and the suite's servers now do.
  const port = 24000 + Math.floor(Math.random() * 2000);
  const binDir = await binDirFor(MAJOR);
  const unloading = startSystemServer(binDir, path.join(dataRoot, "unloaded"), port, MAJOR, false, {
    shared_preload_libraries: "plpgsql",
  });
  let unloadingRuns = true;
  let server: ReturnType<typeof startSystemServer> | undefined;
  try {
    const admin = new pg.Client({ connectionString: unloading.url });
    await admin.connect();
    try {
      // Installed but not loaded: the section says so instead of failing.
      await admin.query("create extension if not exists pg_stat_statements");
      const unloaded = await inspectDatabase(admin, { sections: ["queries"] });
      assert.match(unloaded.queries?.note ?? "", /installed but the server does not load it/);
    } finally {
      await admin.end();
    }
    unloading.stop();
    unloadingRuns = false;
    server = startSystemServer(binDir, path.join(dataRoot, "loaded"), port, MAJOR);
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    try {
      await c.query("create extension if not exists pg_stat_statements");
      await c.query("select pg_stat_statements_reset()");
      for (let i = 0; i < 3; i++) await c.query(`select pg_sleep(0.05), '${SECRET}'`);
      const report = await inspectDatabase(c, { sections: ["queries"], limit: 50 });
      assert.equal(report.queries?.note, undefined);
      const rows = report.queries?.rows ?? [];
      const sleepRow = rows.find((q) => q.query.includes("pg_sleep"));
      assert.ok(sleepRow, `pg_sleep among ${rows.map((q) => q.query).join(" | ")}`);
      assert.equal(sleepRow.calls, 3);
      assert.ok(sleepRow.mean_ms >= 50 && sleepRow.max_ms >= sleepRow.mean_ms);
      assert.ok(sleepRow.total_ms >= 150);
      assert.equal(sleepRow.rows, 3);
      assert.equal(rows[0]?.queryid, sleepRow.queryid, "the slowest statement comes first");
      const total = rows.reduce((sum, q) => sum + q.total_ms, 0);
      assert.ok(Math.abs((sleepRow.time_pct ?? 0) - (100 * sleepRow.total_ms) / total) < 1e-6);
      assert.ok(!JSON.stringify(report).includes(SECRET), "pg_stat_statements' text has $n for constants");
      // The text report names the query id, as a slow_query alert does.
      const text = formatInspectReport(report, ["queries"]);
      assert.match(text, /query id/);
      assert.ok(text.includes(sleepRow.queryid), text);
    } finally {
      await c.end();
    }
  } finally {
    if (unloadingRuns) unloading.stop();
    server?.stop();
  }
});
