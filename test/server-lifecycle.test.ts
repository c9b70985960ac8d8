import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { StorageClient } from "@supabase/storage-js";
import { SignJWT } from "jose";
import pg from "pg";
import { isAlive } from "../src/db/process-identity.ts";
import { runCli } from "./support/cli.ts";
import { MAJOR, ROOT } from "./support/harness.ts";
import { project, user } from "./support/rows.ts";
import { oggOpus } from "./support/storage.ts";

// The embedded server is PostgreSQL 17 whatever server the pass runs on: run these once.
const once = { skip: MAJOR !== 17 ? "the embedded server is tested in the PostgreSQL 17 pass" : false };
const CLI = path.join(ROOT, "dist/src/cli/main.js");

async function freshFolder(): Promise<{ dataDir: string; env: NodeJS.ProcessEnv }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-life-"));
  const port = 23000 + Math.floor(Math.random() * 2000);
  return {
    dataDir,
    env: { DATABASE_URL: "", VPB_DATA_DIR: dataDir, VPB_PG_PORT: String(port), VPB_STORAGE_PORT: "0" },
  };
}

/** The postmaster's pid from the folder's postmaster.pid, if the file is there. */
async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(path.join(dataDir, "pg17", "postmaster.pid"), "utf8").catch(() => undefined);
  return text ? Number(text.split("\n")[0]) : undefined;
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await check()) return;
  assert.fail(`timed out waiting until ${what}`);
}

/** Starts `cmd args` and resolves once its stdout says the server is ready. */
async function startServing(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  /** A process group of its own, as a terminal gives the command it runs (the group's id is its pid). */
  detached = false,
): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, detached });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c;
  });
  child.stderr?.on("data", (c: Buffer) => {
    out += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  await until("the server is ready", () => out.includes("Press Ctrl-C"), 60_000).catch((e) => {
    child.kill("SIGKILL");
    throw new Error(`${(e as Error).message}:\n${out}`);
  });
  return { child, output: () => out, exited };
}

test(
  "five commands at once on a stopped data folder all succeed, and the last one out stops the server",
  once,
  async () => {
    const { dataDir, env } = await freshFolder();
    const runs = await Promise.all(Array.from({ length: 5 }, () => runCli(["migrate", "up"], env)));
    for (const r of runs) assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(runs.filter((r) => /initialising a new PostgreSQL/.test(r.stderr)).length, 1, "one initdb");
    const pid = await postmasterPid(dataDir);
    assert.ok(pid === undefined || !isAlive(pid), "no server is left running");
    assert.deepEqual(await readdir(path.join(dataDir, "leases")), [], "no lease is left behind");
    assert.ok(!existsSync(path.join(dataDir, "owner.json")) && !existsSync(path.join(dataDir, "start.lock")));
  },
);

/** The process group of a live process, from Linux's /proc (field 5 of its stat, after the command name). */
async function processGroup(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

test(
  "regression: Ctrl-C in a terminal stops `start`'s services, then PostgreSQL, without 57P01 noise",
  once,
  async (t) => {
    if (process.platform !== "linux") {
      t.skip("reads process groups from /proc");
      return;
    }
    const { dataDir, env } = await freshFolder();
    const serving = await startServing(process.execPath, [CLI, "start"], env, true);
    const group = serving.child.pid as number;
    let code: number | null | string;
    let postmaster: number | undefined;
    try {
      postmaster = await postmasterPid(dataDir);
      assert.ok(postmaster && isAlive(postmaster), serving.output());
      // A terminal's Ctrl-C signals its whole foreground group: only `start` may receive it.
      assert.notEqual(await processGroup(postmaster), group, "PostgreSQL runs outside the terminal's group");
      // The scheduler's and the services' connections are open by now.
      await sleep(1500);
      process.kill(-group, "SIGINT");
      code = await Promise.race([serving.exited, sleep(30_000).then(() => "still running")]);
    } finally {
      // On a failed assertion the CLI still runs: let it stop its server before giving up on it.
      if (serving.child.exitCode === null && serving.child.kill("SIGTERM")) {
        await Promise.race([serving.exited, sleep(10_000)]);
        serving.child.kill("SIGKILL");
      }
    }
    const out = serving.output();
    assert.equal(code, 0, out);
    assert.match(
      out,
      /^SIGINT: stopped the dashboard, the storage service and the jobs\nstopped PostgreSQL\.$/m,
    );
    assert.doesNotMatch(out, /57P01|terminating connection/);
    assert.ok(!isAlive(postmaster), "no PostgreSQL process is left");
    assert.match(await readFile(path.join(dataDir, "postgres.log"), "utf8"), /database system is shut down/);
  },
);

test("a command that attaches to a running `start` ends without stopping its server", once, async () => {
  const { dataDir, env } = await freshFolder();
  const serving = await startServing(process.execPath, [CLI, "start"], env);
  try {
    const status = await runCli(["migrate", "status"], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stderr, /attached to the PostgreSQL 17 already running/);
    const pid = await postmasterPid(dataDir);
    assert.ok(pid !== undefined && isAlive(pid), "the server still runs");
    const again = await runCli(["migrate", "status"], env);
    assert.equal(again.code, 0, "and still serves the next command");
  } finally {
    serving.child.kill("SIGINT");
    assert.equal(await serving.exited, 0, serving.output());
  }
  const pid = await postmasterPid(dataDir);
  assert.ok(pid === undefined || !isAlive(pid), "`start` stopped its server on Ctrl-C");
});

test("`start` serves storage beside PostgreSQL, and SIGTERM stops both", once, async () => {
  const { dataDir, env } = await freshFolder();
  const serving = await startServing(process.execPath, [CLI, "start"], env);
  let storageUrl: string | undefined;
  try {
    storageUrl = /storage ready: (\S+)/.exec(serving.output())?.[1];
    assert.ok(storageUrl, serving.output());
    const api = JSON.parse(await readFile(path.join(dataDir, "api.json"), "utf8"));
    assert.equal(`${api.url}/storage/v1`, storageUrl);
    const c = new pg.Client({
      connectionString: (await readFile(path.join(dataDir, "database-url"), "utf8")).trim(),
    });
    await c.connect();
    let owner: string;
    let projectId: string;
    try {
      owner = (await user(c, { email: "start-storage@example.com" })).id;
      projectId = (await project(c, owner)).id;
    } finally {
      await c.end();
    }
    const now = Math.floor(Date.now() / 1000);
    const session = await new SignJWT({ sub: owner, role: "authenticated" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(api.jwtSecret));
    const bucket = new StorageClient(storageUrl, {
      apikey: api.anonKey,
      Authorization: `Bearer ${session}`,
    }).from("audio-recordings");
    const name = `${owner}/${projectId}/${Date.now()}_started.ogg`;
    assert.equal((await bucket.upload(name, new Blob([oggOpus("take")], { type: "audio/ogg" }))).error, null);
    assert.equal((await (await bucket.download(name)).data?.text())?.slice(-4), "take");
  } finally {
    serving.child.kill("SIGTERM");
  }
  assert.equal(await serving.exited, 0, serving.output());
  const pid = await postmasterPid(dataDir);
  assert.ok(pid === undefined || !isAlive(pid), "`start` stopped PostgreSQL on SIGTERM");
  await assert.rejects(fetch(`${storageUrl}/bucket`), "the storage service no longer answers");
});

test(
  "regression: `start` says so and exits 1 with the log's last lines when PostgreSQL dies under it",
  once,
  async () => {
    const { dataDir, env } = await freshFolder();
    const serving = await startServing(process.execPath, [CLI, "start"], env);
    const pid = await postmasterPid(dataDir);
    assert.ok(pid);
    process.kill(pid, "SIGKILL");
    const code = await Promise.race([serving.exited, sleep(20_000).then(() => "still running")]);
    if (code === "still running") serving.child.kill("SIGKILL");
    assert.equal(code, 1, serving.output());
    assert.match(serving.output(), /EMBEDDED_SERVER_STOPPED/);
    assert.match(serving.output(), /Last lines of .*postgres\.log/);
  },
);

test(
  "regression: SIGTERM to the README's `npm start` leaves neither node nor PostgreSQL behind",
  once,
  async () => {
    const { dataDir, env } = await freshFolder();
    const serving = await startServing("npm", ["start"], env);
    const postmaster = await postmasterPid(dataDir);
    const owner = JSON.parse(await readFile(path.join(dataDir, "owner.json"), "utf8")) as {
      owner: { pid: number };
    };
    assert.ok(postmaster && isAlive(postmaster) && isAlive(owner.owner.pid));
    serving.child.kill("SIGTERM");
    await until("the CLI and PostgreSQL are gone", () => !isAlive(owner.owner.pid) && !isAlive(postmaster));
  },
);

test(
  "as root, a folder the postgres user cannot enter is named, with the chmod that fixes it",
  once,
  async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip("only root runs PostgreSQL as another OS user");
      return;
    }
    const outer = await mkdtemp(path.join(os.tmpdir(), "vpb-closed-"));
    await chmod(outer, 0o700);
    const { env } = await freshFolder();
    const r = await runCli(["migrate", "up"], { ...env, VPB_DATA_DIR: path.join(outer, "data") });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot enter ${outer} \\(mode 700\\)`));
    assert.match(r.stderr, new RegExp(`chmod o\\+x ${outer}`));
    assert.doesNotMatch(r.stderr, /damaged data folder/);
  },
);

test(
  "regression: a `start` attached to a server left by a killed `start` says it leaves it running, and does",
  once,
  async () => {
    const { dataDir, env } = await freshFolder();
    const first = await startServing(process.execPath, [CLI, "start"], env);
    first.child.kill("SIGKILL");
    await first.exited;
    const postmaster = await postmasterPid(dataDir);
    assert.ok(postmaster && isAlive(postmaster), "the orphan keeps running");
    try {
      const second = await startServing(process.execPath, [CLI, "start"], env);
      assert.match(second.output(), /attached to the PostgreSQL 17 already running/);
      second.child.kill("SIGTERM");
      assert.equal(await second.exited, 0, second.output());
      assert.match(
        second.output(),
        /PostgreSQL keeps running: this command attached to a server it did not start/,
      );
      assert.match(second.output(), /kill -INT "\$\(head -1 .*pg17\/postmaster\.pid\)"/);
      assert.doesNotMatch(second.output(), /stopped PostgreSQL/);
      assert.ok(isAlive(postmaster), "still running, as said");
    } finally {
      process.kill(postmaster, "SIGINT");
      await until("the orphan stopped", () => !isAlive(postmaster));
    }
  },
);
