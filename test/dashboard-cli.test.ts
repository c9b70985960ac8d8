import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { ApiConfig } from "../src/storage/api-config.ts";
import { createDatabase, MAJOR, ROOT } from "./support/harness.ts";

const CLI = path.join(ROOT, "dist/src/cli/main.js");
const once = { skip: MAJOR !== 17 ? "the embedded server is tested in the PostgreSQL 17 pass" : false };

/** Runs the CLI until its stdout matches `ready`; returns the match and a way to stop it. */
async function serve(args: string[], env: NodeJS.ProcessEnv, ready: RegExp) {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c;
  });
  child.stderr.on("data", (c: Buffer) => {
    out += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  for (const end = Date.now() + 60_000; !ready.test(out); await sleep(100)) {
    if (Date.now() > end || child.exitCode !== null) {
      child.kill("SIGKILL");
      assert.fail(`not ready:\n${out}`);
    }
  }
  return { match: ready.exec(out) as RegExpExecArray, child, exited, output: () => out };
}

test("`vpb-db dashboard` serves any database behind the service key and stops on Ctrl-C", async () => {
  const db = await createDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-dashboard-cli-"));
  try {
    const run = await serve(
      ["dashboard", "--port", "0", "--refresh", "5s"],
      { DATABASE_URL: db.url, VPB_DATA_DIR: dataDir },
      /dashboard ready: (http:\/\/127\.0\.0\.1:\d+\/)/,
    );
    const url = run.match[1] ?? "";
    try {
      const api = JSON.parse(await readFile(path.join(dataDir, "api.json"), "utf8")) as ApiConfig;
      assert.equal(api.dashboardUrl, url);
      assert.equal((await fetch(new URL("/api/alerts", url))).status, 401);
      const ok = await fetch(new URL("/api/alerts", url), {
        headers: { authorization: `Bearer ${api.serviceRoleKey}` },
      });
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { alerts: [] });
      const page = await fetch(url, { headers: { authorization: `Bearer ${api.serviceRoleKey}` } });
      assert.match(await page.text(), /data-refresh-ms="5000"/);
    } finally {
      run.child.kill("SIGINT");
    }
    assert.equal(await run.exited, 0, run.output());
    await assert.rejects(fetch(url), "the dashboard no longer answers");
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test(
  "`start` serves the dashboard beside storage, prints its URL, and SIGTERM stops it first",
  once,
  async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-dashboard-start-"));
    const port = 23000 + Math.floor(Math.random() * 2000);
    try {
      const run = await serve(
        ["start"],
        {
          DATABASE_URL: "",
          VPB_DATA_DIR: dataDir,
          VPB_PG_PORT: String(port),
          VPB_STORAGE_PORT: "0",
          VPB_DASHBOARD_PORT: "0",
        },
        /Press Ctrl-C/,
      );
      const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(run.output())?.[1];
      try {
        assert.ok(url, run.output());
        const api = JSON.parse(await readFile(path.join(dataDir, "api.json"), "utf8")) as ApiConfig;
        assert.equal(api.dashboardUrl, url);
        assert.match(api.url, /^http:\/\/127\.0\.0\.1:\d+$/, "storage's url is kept");
        const r = await fetch(new URL("/api/queries/series", url), {
          headers: { authorization: `Bearer ${api.serviceRoleKey}` },
        });
        assert.equal(r.status, 200);
      } finally {
        run.child.kill("SIGTERM");
      }
      assert.equal(await run.exited, 0, run.output());
      assert.match(
        run.output(),
        /stopped the dashboard, the storage service( and the jobs)?\n.*stopped PostgreSQL\./,
      );
      await assert.rejects(fetch(url ?? ""), "the dashboard no longer answers");
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  },
);

test("`vpb-db dashboard` refuses a bad --port or --refresh", async () => {
  const bad = await serveOnce(["dashboard", "--refresh", "10ms"]);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /\[INVALID_ARGUMENT\]: --refresh must be a duration of at least 1s/);
  const badPort = await serveOnce(["dashboard", "--port", "70000"]);
  assert.equal(badPort.code, 2);
  assert.match(badPort.out, /--port must be a number from 0 to 65535/);
});

function serveOnce(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" },
    });
    let out = "";
    child.stderr.on("data", (c: Buffer) => {
      out += c;
    });
    child.on("close", (code) => resolve({ code, out }));
  });
}
