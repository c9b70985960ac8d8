import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { parseConfig } from "../src/config.ts";
import { isVpbError } from "../src/errors.ts";
import { runJobNow } from "../src/jobs/history.ts";
import { job } from "../src/jobs/registry.ts";
import { resolveJobs, startScheduler } from "../src/jobs/scheduler.ts";
import { runCli } from "./support/cli.ts";
import { client, createDatabase, ROOT } from "./support/harness.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function environment(url: string, settings: Record<string, string> = {}) {
  const config = parseConfig({ DATABASE_URL: url, VPB_JOBS_POLL_INTERVAL: "500ms", ...settings }, ROOT);
  return { url, config, embedded: false };
}

function spawnScheduler(url: string): {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
  stderr: () => string;
} {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(ROOT, "test/support/scheduler-process.ts")],
    {
      cwd: ROOT,
      env: { ...process.env, VPB_TEST_DB_URL: url },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      out += c;
      if (out.includes("ready")) resolve();
    });
    child.once("close", () => reject(new Error(`scheduler process exited early:\n${out}\n${err}`)));
  });
  return { child, ready, exited, stderr: () => err };
}

test("two scheduler processes on one database run each slot once, and a long run never overlaps the next", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  await c.query(
    "create table sched_probe (run_id uuid not null, pid int not null, started_at timestamptz, ended_at timestamptz)",
  );
  // The second process starts once the first is up: what is tested here is each slot running once
  // across running processes (starting at the same instant has its own test below).
  const a = spawnScheduler(db.url);
  let b: ReturnType<typeof spawnScheduler> | undefined;
  let stopping: Date | undefined;
  try {
    await a.ready;
    b = spawnScheduler(db.url);
    await b.ready;
    // The probe takes 1.2 s and is due every second: slots queue up behind a run in progress.
    await until("6 finished runs", 30_000, async () => {
      const { rows } = await c.query("select count(*)::int as n from sched_probe where ended_at is not null");
      return rows[0].n >= 6 ? true : undefined;
    });
  } finally {
    // A run in flight when its process stops is cancelled and retried by the other process at once,
    // while the cancelled probe (which ignores its abort signal) sleeps on: runs from here on may overlap.
    stopping = (await c.query<{ t: Date }>("select clock_timestamp() as t")).rows[0]?.t;
    a.child.kill("SIGTERM");
    b?.child.kill("SIGTERM");
    assert.equal(await a.exited, 0, a.stderr());
    if (b) assert.equal(await b.exited, 0, b.stderr());
  }
  const runs = await c.query<{ run_id: string; pid: number; started_at: Date; ended_at: Date | null }>(
    "select * from sched_probe order by started_at",
  );
  const ids = runs.rows.map((r) => r.run_id);
  assert.equal(new Set(ids).size, ids.length, "no run executed twice");
  // Every run is one queued slot, and no slot was queued twice.
  const slots = await c.query(
    "select data->>'slot' as slot, count(*)::int as n from pgboss.job where name = 'probe' group by 1 having count(*) > 1",
  );
  assert.deepEqual(slots.rows, []);
  const queued = await c.query(
    "select count(*)::int as n from pgboss.job where name = 'probe' and id = any($1::uuid[])",
    [ids],
  );
  assert.equal(queued.rows[0].n, ids.length);
  const beforeStop = runs.rows.filter((r) => stopping !== undefined && r.started_at < stopping);
  assert.ok(beforeStop.length >= 6);
  for (let i = 1; i < beforeStop.length; i++) {
    const previous = beforeStop[i - 1];
    const current = beforeStop[i];
    assert.ok(previous?.ended_at && current, "every run but a cancelled last one finished");
    assert.ok(current.started_at >= previous.ended_at, `run ${i} started before run ${i - 1} ended`);
  }
});

test("scheduler processes started at the same instant on a fresh database all come up", async () => {
  // Several `start`s of one app at once (a deploy, a restart of all replicas) race to create pg-boss's
  // schema, its queues and our revokes on them: each must come up and none may exit.
  for (let round = 0; round < 3; round++) {
    const db = await createDatabase();
    const c = await client(db.url);
    await c.query(
      "create table sched_probe (run_id uuid not null, pid int not null, started_at timestamptz, ended_at timestamptz)",
    );
    await c.end();
    const all = [spawnScheduler(db.url), spawnScheduler(db.url), spawnScheduler(db.url)];
    const started = await Promise.allSettled(all.map((p) => p.ready));
    for (const p of all) p.child.kill("SIGTERM");
    const codes = await Promise.all(all.map((p) => p.exited));
    for (const s of started) if (s.status === "rejected") assert.fail(String(s.reason));
    assert.deepEqual(codes, [0, 0, 0], all.map((p) => p.stderr()).join("\n"));
  }
});

test("a process that starts just after a slot ran does not run that slot again", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  await c.query("create table sched_once (run_id uuid not null)");
  const env = environment(db.url);
  const once = job("once-per-slot", "59 seconds", "records its run", {
    run: async (ctx) => {
      const w = await client(ctx.url);
      await w.query("insert into sched_once values ($1)", [ctx.runId]);
      return {};
    },
  });
  // Both take the latest slot at start however long ago it passed: the second sees it already queued.
  const options = { env, jobs: resolveJobs(env, [once]), tickMs: 200, startupGraceMs: 60_000 };
  const first = await startScheduler(options);
  try {
    await until("the first run", 10_000, async () => {
      const { rows } = await c.query(
        "select count(*)::int as n from pgboss.job where name = 'once-per-slot' and state = 'completed'",
      );
      return rows[0].n === 1 ? true : undefined;
    });
    const second = await startScheduler(options);
    await sleep(2500);
    await second.stop();
  } finally {
    await first.stop();
  }
  // A later slot may come due meanwhile (slots are 59 s apart): each slot runs once.
  const { rows } = await c.query(
    `select j.data->>'slot' as slot, count(*)::int as n
       from sched_once o join pgboss.job j on j.id = o.run_id and j.name = 'once-per-slot' group by 1`,
  );
  assert.ok(rows.length >= 1);
  assert.deepEqual(
    rows.filter((r) => r.n !== 1),
    [],
    "the slot ran once",
  );
  assert.equal((await c.query("select count(*)::int as n from sched_once")).rows[0].n, rows.length);
});

test("a failing job is recorded with its error (no stack, no connection string) and retried", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const env = environment(db.url);
  let attempts = 0;
  const failing = job("always-fails", "1 seconds", "fails", {
    retry: { limit: 2, delaySeconds: 1, backoff: false },
    run: async () => {
      attempts++;
      throw new Error(`could not reach postgres://app:hunter2@db.example/prod (attempt ${attempts})`);
    },
  });
  let flaky = 0;
  const recovers = job("fails-once", "off", "fails once", {
    retry: { limit: 2, delaySeconds: 1, backoff: false },
    run: async () => {
      flaky++;
      if (flaky === 1) throw new Error("first attempt fails");
      return { ok: true };
    },
  });
  const [failingJob] = resolveJobs(env, [failing]);
  assert.ok(failingJob);
  const failed = await runJobNow(env, failingJob, { onLog: () => {} });
  assert.equal(failed.state, "failed");
  assert.equal(failed.retries, 2, "tried three times in all");
  assert.equal(attempts, 3);
  assert.match(failed.summary ?? "", /^could not reach postgres:\/\/\*\*\* \(attempt 3\)$/);
  const { rows } = await c.query("select state, retry_count, output from pgboss.job where id = $1", [
    failed.id,
  ]);
  assert.equal(rows[0].state, "failed");
  assert.doesNotMatch(JSON.stringify(rows[0].output), /hunter2|at .*\.ts:/);
  // The same policy brings a job that fails once to completion, its retry counted.
  const [recoversJob] = resolveJobs(env, [recovers]);
  assert.ok(recoversJob);
  await assert.rejects(runJobNow(env, recoversJob, { onLog: () => {} }), /cannot run here: off/);
  const [onJob] = resolveJobs(environment(db.url, { VPB_JOBS: "" }), [
    { ...recovers, schedule: "1 seconds" },
  ]);
  assert.ok(onJob);
  const run = await runJobNow(env, onJob, { onLog: () => {} });
  assert.equal(run.state, "completed");
  assert.equal(run.retries, 1);
  assert.equal(run.summary, '{"ok":true}');
});

test("a hanging job is cancelled at its timeout, on the server too, and recorded as such", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const env = environment(db.url);
  const hangs = job("hangs", "off", "sleeps", {
    sql: "select pg_sleep(60)",
    timeoutMs: 1500,
    retry: { limit: 0, delaySeconds: 0, backoff: false },
  });
  const [hangsJob] = resolveJobs(env, [{ ...hangs, schedule: "59 seconds" }]);
  assert.ok(hangsJob);
  const started = Date.now();
  const run = await runJobNow(env, hangsJob, { onLog: () => {} });
  assert.ok(Date.now() - started < 15_000, `bounded: took ${Date.now() - started} ms`);
  assert.equal(run.state, "failed");
  assert.match(run.summary ?? "", /\[JOB_TIMEOUT\] hangs ran longer than its timeout of 1500 ms/);
  const sleeping = await until("the statement cancelled", 5000, async () => {
    const { rows } = await c.query(
      "select count(*)::int as n from pg_stat_activity where application_name = 'vpb-db job hangs' and state = 'active'",
    );
    return rows[0].n === 0 ? rows[0].n : undefined;
  });
  assert.equal(sleeping, 0);
});

test("VPB_JOBS is checked whole: bad entries and unknown names are refused", () => {
  assert.throws(
    () => parseConfig({ VPB_JOBS: "auth-cleanup=every day;x;backup-base=61 seconds;a=1 2 3" }, ROOT),
    (e: unknown) =>
      isVpbError(e, "CONFIG_INVALID") &&
      /x"/.test(e.message) &&
      /backup-base: "61 seconds"/.test(e.message) &&
      /auth-cleanup: "every day"/.test(e.message) &&
      /a: "1 2 3"/.test(e.message),
  );
  const env = environment("postgres://localhost/x", { VPB_JOBS: "no-such-job=off" });
  assert.throws(
    () => resolveJobs(env),
    (e: unknown) => isVpbError(e, "CONFIG_INVALID") && /no-such-job/.test(e.message),
  );
});

test("`vpb-db jobs run` runs a job now; `vpb-db jobs` lists schedule, last run, outcome and next run", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const user = await c.query("insert into public.users (email) values ('jobs@example.com') returning id");
  await c.query(
    "insert into public.sessions (session_token_hash, user_id, expires) values (sha256('a'), $1, now() - interval '1 day'), (sha256('b'), $1, now() + interval '1 day')",
    [user.rows[0].id],
  );
  const env = { DATABASE_URL: db.url, VPB_JOBS: "projects-purge=off;auth-cleanup=7 * * * *" };
  const run = await runCli(["jobs", "run", "auth-cleanup"], env);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stdout,
    /^auth-cleanup: completed \S+ in \d+ ms: \{"sessions_removed":"1","verification_tokens_removed":"0"\}\n$/,
  );
  assert.equal((await c.query("select count(*)::int as n from public.sessions")).rows[0].n, 1);

  const list = await runCli(["jobs"], env);
  assert.equal(list.code, 0, list.stderr);
  const line = (name: string) => list.stdout.split("\n").find((l) => l.startsWith(`${name} `)) ?? "";
  assert.match(
    line("auth-cleanup"),
    /7 \* \* \* \* +next \d{4}-\d\d-\d\dT\d\d:07:00Z {2}last completed \S+ in \d+ ms: \{"sessions_removed":"1"/,
  );
  assert.match(line("projects-purge"), /off \(off in VPB_JOBS\)/);
  assert.match(line("backup-base"), /off \(base backups are taken of the embedded server/);
  assert.match(line("partitions-create"), /10 2 \* \* \* +next \S+ {2}last never run/);

  const json = await runCli(["jobs", "--json"], env);
  const parsed = JSON.parse(json.stdout) as Array<{
    name: string;
    lastRun: { state: string; durationMs: number } | null;
  }>;
  assert.equal(parsed.find((j) => j.name === "auth-cleanup")?.lastRun?.state, "completed");

  const unknown = await runCli(["jobs", "run", "no-such-job"], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /JOB_UNKNOWN/);
  // Refused before any server is touched: in a folder with no database, none is made.
  const fresh = path.join(os.tmpdir(), `vpb-nojob-${randomUUID()}`);
  const early = await runCli(["jobs", "run", "no-such-job"], { DATABASE_URL: "", VPB_DATA_DIR: fresh });
  assert.equal(early.code, 1);
  assert.match(early.stderr, /JOB_UNKNOWN/);
  assert.equal(existsSync(fresh), false);

  // The scheduler's schema is not the API's: anon and authenticated cannot even look into it.
  const anon = await c.query(
    "select has_schema_privilege('anon', 'pgboss', 'usage') as anon, has_schema_privilege('authenticated', 'pgboss', 'usage') as auth",
  );
  assert.deepEqual(anon.rows[0], { anon: false, auth: false });
});
