import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import pg from "pg";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { runCli } from "./support/cli.ts";
import { binDirFor, startSystemServer } from "./support/debian-server.ts";
import { createDatabase, MAJOR } from "./support/harness.ts";

// Supabase's way of running the SQL jobs, on Debian's postgresql-15-cron: once, in the 15 pass.
const bin = await binDirFor(15);
const skip =
  MAJOR !== 15
    ? "pg_cron is tested in the PostgreSQL 15 pass"
    : existsSync(path.join(bin, "..", "lib", "pg_cron.so"))
      ? false
      : "postgresql-15-cron is not installed (.ci/run installs it)";
const dataRoot = path.join(os.tmpdir(), `vpb-pg-cron-${process.pid}`);
after(() => rmSync(dataRoot, { recursive: true, force: true }));

test("`schedule install --pg-cron` schedules the SQL jobs, a job really runs, re-running updates, uninstall removes ours only", {
  skip,
}, async () => {
  const port = 24000 + Math.floor(Math.random() * 2000);
  const server = startSystemServer(bin, dataRoot, port, 15, false, {
    shared_preload_libraries: "pg_cron",
    "cron.database_name": "postgres",
    // Jobs run in background workers: no libpq connection back to the server to authenticate.
    "cron.use_background_workers": "on",
    max_worker_processes: "16",
  });
  const c = new pg.Client({ connectionString: server.url });
  try {
    const migrated = await migrateUp(projectMigratorOptions(server.url));
    assert.equal(migrated.error, undefined);
    await c.connect();
    await c.query("create extension pg_cron");
    const other = await c.query<{ id: string }>(
      "select cron.schedule('someone-else', '0 0 * * *', 'select 1') as id",
    );
    const user = await c.query("insert into public.users (email) values ('cron@example.com') returning id");
    await c.query(
      "insert into public.sessions (session_token_hash, user_id, expires) values (sha256('x'), $1, now() - interval '1 hour')",
      [user.rows[0].id],
    );

    const env = { DATABASE_URL: server.url, VPB_JOBS: "auth-cleanup=* * * * *" };
    const install = await runCli(["schedule", "install", "--pg-cron"], env);
    assert.equal(install.code, 0, install.stderr);
    assert.match(
      install.stdout,
      /scheduled vpb-db:auth-cleanup, vpb-db:projects-purge, vpb-db:partitions-create, vpb-db:partitions-retention\n/,
    );
    const jobs = async () =>
      (
        await c.query<{ jobid: string; jobname: string; schedule: string }>(
          "select jobid, jobname, schedule from cron.job order by jobname",
        )
      ).rows;
    const first = await jobs();
    assert.deepEqual(
      first.map((j) => `${j.jobname} ${j.schedule}`),
      [
        "someone-else 0 0 * * *",
        "vpb-db:auth-cleanup * * * * *",
        "vpb-db:partitions-create 10 2 * * *",
        "vpb-db:partitions-retention 20 2 * * *",
        "vpb-db:projects-purge 30 3 * * *",
      ],
    );

    // pg_cron 1.4 ticks by the minute: the cleanup runs at the next one.
    const deadline = Date.now() + 80_000;
    let ran: { status: string } | undefined;
    while (Date.now() < deadline && !ran) {
      const { rows } = await c.query<{ status: string }>(
        `select d.status from cron.job_run_details d join cron.job j using (jobid)
          where j.jobname = 'vpb-db:auth-cleanup' and d.status in ('succeeded', 'failed')`,
      );
      ran = rows[0];
      if (!ran) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(ran?.status, "succeeded", "pg_cron ran vpb-db:auth-cleanup");
    assert.equal((await c.query("select count(*)::int as n from public.sessions")).rows[0].n, 0);

    // Re-running updates in place (same job ids) and removes a job turned off.
    const again = await runCli(["schedule", "install", "--pg-cron"], {
      ...env,
      VPB_JOBS: "auth-cleanup=5 * * * *;projects-purge=off",
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /removed vpb-db:projects-purge/);
    const second = await jobs();
    assert.equal(second.find((j) => j.jobname === "vpb-db:auth-cleanup")?.schedule, "5 * * * *");
    assert.equal(
      second.find((j) => j.jobname === "vpb-db:auth-cleanup")?.jobid,
      first.find((j) => j.jobname === "vpb-db:auth-cleanup")?.jobid,
    );
    assert.equal(second.length, 4);

    // pg_cron 1.4 has no seconds: refused whole, nothing changed.
    const seconds = await runCli(["schedule", "install", "--pg-cron"], {
      ...env,
      VPB_JOBS: "auth-cleanup=5 seconds",
    });
    assert.equal(seconds.code, 1);
    assert.match(seconds.stderr, /PG_CRON_UNAVAILABLE[\s\S]*auth-cleanup: "5 seconds" needs pg_cron 1\.5/);
    assert.deepEqual(await jobs(), second);

    const removed = await runCli(["schedule", "uninstall", "--pg-cron"], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(
      (await jobs()).map((j) => j.jobid),
      [other.rows[0]?.id],
      "only someone-else's job is left",
    );
  } finally {
    await c.end().catch(() => {});
    server.stop();
  }
});

test("`schedule install --pg-cron` where pg_cron cannot be created: a clear error, nothing changed", async () => {
  // The suite's own server does not preload pg_cron.
  const db = await createDatabase();
  const r = await runCli(["schedule", "install", "--pg-cron"], { DATABASE_URL: db.url });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /PG_CRON_UNAVAILABLE/);
  assert.match(r.stderr, /shared_preload_libraries/);
  const missing = await runCli(["schedule", "install"], { DATABASE_URL: db.url });
  assert.equal(missing.code, 2, "a usage error");
  assert.match(missing.stderr, /INVALID_ARGUMENT/);
});
