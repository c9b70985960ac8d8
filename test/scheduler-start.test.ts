import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import pg from "pg";
import { MAJOR, ROOT } from "./support/harness.ts";

const once = { skip: MAJOR !== 17 ? "the embedded server is tested in the PostgreSQL 17 pass" : false };

function launch(args: string[], env: NodeJS.ProcessEnv, readyText: string) {
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, "dist/src/cli/main.js"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c;
      if (stdout.includes(readyText)) resolve();
    });
    child.once("close", () => reject(new Error(`${args[0]} exited early:\n${stdout}\n${stderr}`)));
  });
  return { child, ready, exited, output: () => ({ stdout, stderr }) };
}

test(
  "`start` runs the jobs beside a `worker` on the same database: each slot once, both stop cleanly",
  once,
  async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-sched-start-"));
    const jobs = { VPB_JOBS: "auth-cleanup=1 seconds", VPB_JOBS_POLL_INTERVAL: "500ms" };
    const start = launch(
      ["start"],
      {
        DATABASE_URL: "",
        VPB_DATA_DIR: dataDir,
        VPB_PG_PORT: String(21000 + Math.floor(Math.random() * 4000)),
        VPB_STORAGE_PORT: "0",
        ...jobs,
      },
      "Press Ctrl-C",
    );
    let worker: ReturnType<typeof launch> | undefined;
    let c: pg.Client | undefined;
    try {
      await start.ready;
      assert.match(
        start.output().stdout,
        /scheduler running 9 jobs: auth-cleanup, projects-purge, partitions-create, partitions-retention, storage-sweep, backup-base, backup-verify, backup-retention, monitoring/,
      );
      const url = (await readFile(path.join(dataDir, "database-url"), "utf8")).trim();
      worker = launch(["worker"], { DATABASE_URL: url, ...jobs }, "worker running");
      await worker.ready;
      assert.match(
        worker.output().stdout,
        /worker running 6 jobs \(auth-cleanup, projects-purge, partitions-create, partitions-retention, storage-sweep, monitoring\)/,
      );
      c = new pg.Client({ connectionString: url });
      await c.connect();
      const since = new Date();
      for (let i = 0; i < 100; i++) {
        const { rows } = await c.query(
          "select count(*)::int as n from pgboss.job where name = 'auth-cleanup' and state = 'completed' and started_on > $1",
          [since],
        );
        if (rows[0].n >= 4) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const { rows } = await c.query<{ slot: string; n: number; states: string }>(
        `select data->>'slot' as slot, count(*)::int as n, string_agg(state::text, ',') as states
         from pgboss.job where name = 'auth-cleanup' group by 1 order by 1`,
      );
      assert.ok(rows.filter((r) => r.states === "completed").length >= 4, JSON.stringify(rows));
      assert.deepEqual(
        rows.filter((r) => r.n !== 1),
        [],
        "no slot queued twice",
      );
    } finally {
      await c?.end();
      worker?.child.kill("SIGTERM");
      start.child.kill("SIGTERM");
    }
    assert.equal(await worker?.exited, 0, worker?.output().stderr);
    assert.equal(await start.exited, 0, start.output().stderr);
    assert.match(
      start.output().stderr,
      /stopped the dashboard, the storage service and the jobs\n.*stopped PostgreSQL\./,
    );
    // The only failure allowed is a run in flight cancelled by the stop (retried by the next process).
    assert.doesNotMatch(
      start.output().stderr + (worker?.output().stderr ?? ""),
      /failed after \d+ ms: (?!\[JOB_FAILED\] the process running it stopped)/,
    );
  },
);
