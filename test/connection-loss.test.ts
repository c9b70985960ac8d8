import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { VpbAdapter } from "../src/auth/adapter.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { createDb, isVpbError } from "../src/sdk/index.ts";
import { binDirFor, startSystemServer } from "./support/debian-server.ts";
import { client, createDatabase, MAJOR } from "./support/harness.ts";
import { user } from "./support/rows.ts";

const KEYS = `k1:${Buffer.alloc(32, 7).toString("base64")}`;

test("regression: a backend terminated between two queries of a transaction fails the call, not the process", async () => {
  const db = await createDatabase();
  const admin = await client(db.url);
  const sdk = createDb({ connectionString: db.url, max: 2 });
  try {
    await assert.rejects(
      sdk.asService().transaction(async (tx) => {
        const { rows } = await tx.query<{ pid: number }>("select pg_backend_pid() as pid");
        await admin.query("select pg_terminate_backend($1)", [rows[0]?.pid]);
        // The client is checked out and idle: the server's goodbye arrives as an 'error' event.
        await sleep(300);
        await tx.query("select 1");
      }),
      (e: unknown) => {
        assert.ok(isVpbError(e, "CONNECTION_LOST"), `expected CONNECTION_LOST, got ${String(e)}`);
        assert.equal(e.retryable, true);
        return true;
      },
    );
    // A backend terminated while a query runs: the same code.
    await assert.rejects(
      sdk.asService().transaction(async (tx) => {
        const { rows } = await tx.query<{ pid: number }>("select pg_backend_pid() as pid");
        const pid = rows[0]?.pid;
        const [r] = await Promise.allSettled([
          tx.query("select pg_sleep(5)"),
          sleep(200).then(() => admin.query("select pg_terminate_backend($1)", [pid])),
        ]);
        if (r.status === "rejected") throw r.reason;
      }),
      (e: unknown) => isVpbError(e, "CONNECTION_LOST"),
    );
    // The broken clients were discarded: the next calls get working ones.
    for (let i = 0; i < 3; i++) {
      const { rows } = await sdk.asService().transaction((tx) => tx.query("select 1 as one"));
      assert.equal(rows[0].one, 1);
    }
  } finally {
    await sdk.close();
  }
});

test("a server that cannot be reached fails SDK and adapter calls with CONNECTION_FAILED, retryable", async () => {
  // A port nothing listens on (the test servers use 28339 and up).
  const url = "postgres://postgres@127.0.0.1:9/postgres";
  const sdk = createDb({ connectionString: url });
  const adapter = VpbAdapter({ connectionString: url, tokenKeys: KEYS });
  try {
    for (const call of [
      sdk.asService().transaction((tx) => tx.query("select 1")),
      adapter.getUser?.(crypto.randomUUID()),
    ]) {
      await assert.rejects(Promise.resolve(call), (e: unknown) => {
        assert.ok(isVpbError(e, "CONNECTION_FAILED"), String(e));
        assert.equal(e.retryable, true);
        assert.ok(!e.message.includes("postgres://"), "the URL is not in the message");
        return true;
      });
    }
  } finally {
    await sdk.close();
    await adapter.close();
  }
});

const dataRoot = path.join(os.tmpdir(), `vpb-connection-loss-${MAJOR}-${process.pid}`);
after(() => rmSync(dataRoot, { recursive: true, force: true }));

test("a crash and restart of PostgreSQL under load: the app lives, every write is committed or reported failed", async () => {
  const port = 26000 + Math.floor(Math.random() * 2000);
  const server = startSystemServer(await binDirFor(MAJOR), dataRoot, port, MAJOR, true);
  const sdk = createDb({ connectionString: server.url, max: 8, statementTimeoutMs: 5000 });
  try {
    const migrated = await migrateUp(projectMigratorOptions(server.url));
    assert.equal(migrated.error, undefined);
    const setup = await client(server.url);
    const users: Array<{ id: string }> = [];
    for (let i = 0; i < 8; i++) users.push(await user(setup));
    await setup.end();

    type Outcome = { op: number; ok: true } | { op: number; ok: false; code: string };
    const outcomes: Outcome[] = [];
    let next = 0;
    let running = true;
    const worker = async (userId: string) => {
      while (running) {
        const op = next++;
        try {
          await sdk.asUser(userId).activity.record([{ action: "load.write", metadata: { op } }]);
          outcomes.push({ op, ok: true });
        } catch (e) {
          if (!isVpbError(e)) throw e; // anything else is a defect: it fails the test
          outcomes.push({ op, ok: false, code: e.code });
          await sleep(20);
        }
      }
    };
    const workers = users.map((u) => worker(u.id));
    await sleep(1500);
    const beforeCrash = outcomes.filter((o) => o.ok).length;
    server.crash();
    await sleep(500);
    server.start();
    const restartedAt = outcomes.length;
    await sleep(1500);
    running = false;
    await Promise.all(workers);

    const failed = outcomes.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
    assert.ok(beforeCrash > 0, "writes succeeded before the crash");
    assert.ok(failed.length > 0, "the crash failed some calls");
    assert.ok(
      outcomes.slice(restartedAt).some((o) => o.ok),
      "writes succeed again once the server is back (the pool recovered)",
    );
    const allowed = new Set(["CONNECTION_LOST", "CONNECTION_FAILED", "COMMIT_OUTCOME_UNKNOWN"]);
    assert.deepEqual(
      failed.filter((f) => !allowed.has(f.code)).map((f) => f.code),
      [],
      "failures carry a connection code",
    );

    const check = await client(server.url);
    const { rows } = await check.query<{ op: number }>(
      "select (metadata->>'op')::int as op from public.user_activity where action = 'load.write'",
    );
    await check.end();
    const stored = new Set(rows.map((r) => r.op));
    const lost = outcomes.filter((o) => o.ok && !stored.has(o.op)).map((o) => o.op);
    assert.deepEqual(lost, [], "every write reported committed is in the database");
    const phantom = failed.filter((f) => f.code !== "COMMIT_OUTCOME_UNKNOWN" && stored.has(f.op));
    assert.deepEqual(phantom, [], "no write reported failed (and retryable) was committed");
  } finally {
    await sdk.close();
    server.stop();
  }
});
