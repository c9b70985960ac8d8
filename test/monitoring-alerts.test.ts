import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { after, before, test } from "node:test";
import pg from "pg";
import { evaluateAlerts, fireTestAlert } from "../src/monitoring/alerts.ts";
import { collectMetrics } from "../src/monitoring/collect.ts";
import { type AlertRules, loadRules } from "../src/monitoring/rules.ts";
import { StorageHttpStats } from "../src/storage/http-stats.ts";
import { runCli } from "./support/cli.ts";
import { client, createDatabase } from "./support/harness.ts";
import { audioPath, project, user } from "./support/rows.ts";
import { jwt, startStorage } from "./support/storage.ts";

const SECRET = "webhook-secret-for-the-test";
const MIB = 1024 * 1024;

interface Received {
  body: string;
  signature: string | undefined;
}

/** A webhook receiver that answers 503 to its first request (the sender must retry), 200 after. */
async function webhookServer(): Promise<{
  url: string;
  received: Received[];
  server: Server;
  refused: number;
}> {
  const state = { received: [] as Received[], refused: 0 };
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      if (state.refused === 0) {
        state.refused += 1;
        res.writeHead(503).end();
        return;
      }
      const signature = req.headers["x-vpb-signature"];
      state.received.push({ body, signature: typeof signature === "string" ? signature : undefined });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    url: `http://127.0.0.1:${address.port}/hooks/alerts`,
    server,
    get received() {
      return state.received;
    },
    get refused() {
      return state.refused;
    },
  };
}

/** Checks the signature as a receiver would, with its own HMAC (not the sender's helper). */
function verified(r: Received): { event: string; alert: { rule: string; subject: string; state: string } } {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(r.signature ?? "");
  assert.ok(m, `a signature header in the expected form, got ${r.signature}`);
  const expected = createHmac("sha256", SECRET).update(`${m[1]}.${r.body}`).digest("hex");
  assert.equal(m[2], expected, "the HMAC-SHA256 of the timestamp and body with the shared secret");
  assert.ok(Math.abs(Date.now() / 1000 - Number(m[1])) < 120, "a current timestamp");
  return JSON.parse(r.body);
}

const db = await createDatabase();
const c = await client(db.url);
const pool = new pg.Pool({ connectionString: db.url, max: 3 });
// The harness drops the database after the file, ending idle connections: not a failure.
pool.on("error", () => {});
const stats = new StorageHttpStats();
const storage = await startStorage(db.url, { stats });
const hook = await webhookServer();
const defaults = await loadRules();
// The defaults, with the slow-query threshold low enough for a short test.
const rules: AlertRules = { ...defaults, slow_query: { ...defaults.slow_query, mean_ms: 500 } };
const webhook = { url: hook.url, secret: SECRET, backoffMs: 50, timeoutMs: 3000 };
const logged: string[] = [];
const log = (line: string) => logged.push(line);

before(async () => {
  // The first sample only sets the statement baseline (and creates the extension).
  const first = await collectMetrics(pool, { storageStats: stats });
  assert.equal(
    first.statements,
    "on",
    `pg_stat_statements is loaded by the test server: ${first.notes.join("; ")}`,
  );
});

after(async () => {
  await pool.end();
  await storage.close();
  await new Promise<void>((resolve) => hook.server.close(() => resolve()));
});

test("generated load fires exactly the expected alerts once, to the signed webhook, and they resolve when it stops", async () => {
  // The actors: a free-plan user who uploads past 80% of the 1 GiB quota, a user whose files a
  // prober tries to read, the prober, and a bystander within quota.
  const uploader = await user(c, { plan: "free" });
  const victim = await user(c, { plan: "free" });
  const prober = await user(c, { plan: "free" });
  const bystander = await user(c, { plan: "free" });
  const uploaderProject = await project(c, uploader.id);
  const victimProject = await project(c, victim.id);
  const bystanderProject = await project(c, bystander.id);
  const object = (owner: string, projectId: string, file: string, bytes: number) =>
    c.query(
      `insert into storage.objects (bucket_id, name, owner, owner_id, metadata)
       values ('audio-recordings', $1, $2::uuid, $2::text, jsonb_build_object('size', $3::bigint, 'mimetype', 'audio/webm'))`,
      [audioPath(owner, projectId, file), owner, bytes],
    );
  for (let i = 0; i < 9; i++) await object(uploader.id, uploaderProject.id, `take-${i}.webm`, 100 * MIB);
  for (let i = 0; i < 3; i++) await object(victim.id, victimProject.id, `take-${i}.webm`, MIB);
  await object(bystander.id, bystanderProject.id, "take.webm", 10 * MIB);
  // API calls: counted with their cost in USD (the unit migration 015 adds, in every partition).
  for (const cost of [0.25, 0.5])
    await c.query(
      "insert into public.api_usage (user_id, provider, model, cost_usd) values ($1, 'openai', 'gpt-bench', $2)",
      [bystander.id, cost],
    );

  // Slow statements: pg_sleep, 0.7 s twice (mean above the 500 ms threshold).
  for (let i = 0; i < 2; i++) await c.query("select pg_sleep($1)", [0.7]);
  const ext = await c.query<{ schema: string }>(
    "select extnamespace::regnamespace::text as schema from pg_extension where extname = 'pg_stat_statements'",
  );
  const sleep = await c.query<{ queryid: string }>(
    `select queryid::text from ${ext.rows[0]?.schema}.pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database()) and query like 'select pg_sleep($1)%'`,
  );
  const sleepId = sleep.rows[0]?.queryid;
  assert.ok(sleepId, "pg_stat_statements saw the slow statement");

  // A burst of 30 errors of one code through log_error (the floor is 20 per 5 minutes).
  for (let i = 0; i < 30; i++)
    await c.query("select public.log_error('error', 'api.generate', 'upstream timed out', 'E_UPSTREAM')");
  // Two errors of another code: under the floor, no alert.
  for (let i = 0; i < 2; i++)
    await c.query("select public.log_error('error', 'web', 'render failed', 'E_RENDER')");

  // The prober asks the storage server for the victim's files, 25 times: each is refused as missing.
  const token = await jwt({ sub: prober.id, role: "authenticated" });
  for (let i = 0; i < 25; i++) {
    const res = await fetch(
      `${storage.base}/object/authenticated/audio-recordings/${audioPath(victim.id, victimProject.id, `take-${i % 3}.webm`)}`,
      { headers: { authorization: `Bearer ${token}`, apikey: storage.anonKey } },
    );
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { statusCode: string }).statusCode, "404");
  }
  const sample = await collectMetrics(pool, { storageStats: stats });
  const t1 = sample.sampledAt;
  const metric = async (name: string, tag: string, value: string) =>
    (
      await c.query<{ v: number }>(
        "select sum(value) as v from public.performance_metrics where metric = $1 and tags ->> $2 = $3 and occurred_at = $4",
        [name, tag, value, t1],
      )
    ).rows[0]?.v;
  assert.equal(await metric("errors.count", "code", "E_UPSTREAM"), 30);
  assert.equal(await metric("db.statement.calls", "queryid", sleepId), 2);
  assert.equal(await metric("storage_http.denied", "user_id", prober.id), 25);
  assert.equal(await metric("storage.user.bytes", "user_id", uploader.id), 900 * MIB);
  assert.equal(await metric("storage_http.requests", "status", "4xx"), 25);
  assert.equal(await metric("api.calls", "model", "gpt-bench"), 2);
  assert.equal(await metric("api.cost", "model", "gpt-bench"), 0.75);

  const first = await evaluateAlerts(pool, { rules, now: t1, webhook, log });
  const fired = first.events.map((e) => `${e.event} ${e.alert.rule} ${e.alert.subject}`).sort();
  assert.deepEqual(
    fired,
    [
      `fired error_spike E_UPSTREAM`,
      `fired slow_query ${sleepId}`,
      `fired storage_quota ${uploader.id}`,
      `fired unusual_access ${prober.id}`,
    ].sort(),
  );
  const quota = first.events.find((e) => e.alert.rule === "storage_quota")?.alert;
  assert.equal(quota?.severity, "warning", "88% is over 80% and under 100%");
  const deliveries = await first.delivered;
  assert.equal(deliveries.length, 4);
  assert.ok(
    deliveries.every((d) => d.ok),
    JSON.stringify(deliveries),
  );
  assert.equal(hook.refused, 1, "the receiver refused one request");
  assert.equal(
    deliveries.reduce((n, d) => n + d.attempts, 0),
    5,
    "the refused delivery was retried once",
  );
  assert.equal(hook.received.length, 4);
  const bodies = hook.received.map(verified);
  assert.deepEqual(
    bodies.map((b) => `${b.event} ${b.alert.rule} ${b.alert.subject} ${b.alert.state}`).sort(),
    fired.map((f) => `${f} firing`).sort(),
  );
  assert.equal(logged.filter((l) => JSON.parse(l).alert === "fired").length, 4, "each fired alert is logged");
  assert.ok(!logged.some((l) => l.includes(SECRET) || l.includes(hook.url)), "no secret or URL in the log");

  // Evaluated again while the causes last: nothing new is sent.
  const again = await evaluateAlerts(pool, { rules, now: new Date(t1.getTime() + 30_000), webhook, log });
  assert.deepEqual(again.events, []);
  assert.equal(again.firing.length, 4);
  await again.delivered;
  assert.equal(hook.received.length, 4, "deduplicated while firing");

  // The causes stop: the uploader deletes most files, no more errors, sleeps or probes. Six
  // minutes later (the windows are 5), the next sample and evaluation resolve all four.
  await c.query("begin");
  await c.query("set local storage.allow_delete_query = 'true'");
  await c.query("delete from storage.objects where owner = $1 and name not like '%take-0.webm'", [
    uploader.id,
  ]);
  await c.query("commit");
  const later = new Date(t1.getTime() + 6 * 60_000);
  await collectMetrics(pool, { storageStats: stats, now: later });
  const resolved = await evaluateAlerts(pool, { rules, now: later, webhook, log });
  assert.deepEqual(
    resolved.events.map((e) => `${e.event} ${e.alert.rule} ${e.alert.subject}`).sort(),
    fired.map((f) => f.replace(/^fired/, "resolved")).sort(),
  );
  assert.equal(resolved.firing.length, 0);
  assert.ok((await resolved.delivered).every((d) => d.ok));
  assert.equal(hook.received.length, 8);
  assert.ok(
    hook.received
      .slice(4)
      .map(verified)
      .every((b) => b.event === "resolved" && b.alert.state === "resolved"),
  );

  const rows = await c.query<{ rule: string; state: string; n: number }>(
    "select rule, state, count(*)::int as n from private.alerts group by 1, 2 order by 1, 2",
  );
  assert.deepEqual(
    rows.rows.map((r) => `${r.rule} ${r.state} ${r.n}`),
    [
      "error_spike resolved 1",
      "slow_query resolved 1",
      "storage_quota resolved 1",
      "unusual_access resolved 1",
    ],
    "one row per alert: fired once, resolved once",
  );
});

test("a webhook that does not answer never holds up evaluation, and a test alert is signed and delivered", async () => {
  const silent = createServer(() => {
    // Never answers.
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const address = silent.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  try {
    const slowHook = {
      url: `http://127.0.0.1:${address.port}/`,
      secret: SECRET,
      attempts: 2,
      backoffMs: 10,
      timeoutMs: 1000,
    };
    const started = performance.now();
    const { alert, delivery } = await fireTestAlert(pool, { webhook: webhook, log });
    assert.equal(alert.rule, "test");
    assert.equal(delivery?.ok, true);
    const body = verified(hook.received.at(-1) as Received);
    assert.equal(body.event, "test");
    assert.equal(body.alert.subject, alert.subject);

    // Past the windows of the first test's load (its metrics are of the real time).
    const evaluation = await evaluateAlerts(pool, {
      rules,
      webhook: slowHook,
      log,
      now: new Date(Date.now() + 20 * 60_000),
    });
    const evaluatedMs = performance.now() - started;
    assert.deepEqual(
      evaluation.events.map((e) => `${e.event} ${e.alert.rule}`),
      ["resolved test"],
      "the next evaluation resolves the test alert",
    );
    assert.ok(evaluatedMs < 1000, `evaluation returned in ${evaluatedMs} ms, before the webhook's timeout`);
    const [failed] = await evaluation.delivered;
    assert.deepEqual(
      { ok: failed?.ok, attempts: failed?.attempts, error: failed?.error },
      { ok: false, attempts: 2, error: "no answer within 1000 ms" },
    );
    assert.ok(logged.some((l) => JSON.parse(l).alert === "delivery_failed"));
  } finally {
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

test("vpb-db alerts test sends a signed test alert; vpb-db alerts lists firing ones first; a dead webhook fails with its code", async () => {
  const env = { DATABASE_URL: db.url, VPB_ALERT_WEBHOOK_URL: hook.url, VPB_ALERT_WEBHOOK_SECRET: SECRET };
  const before = hook.received.length;
  const sent = await runCli(["alerts", "test"], env);
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stdout, /delivered to the webhook \(HTTP 204/);
  assert.equal(hook.received.length, before + 1);
  assert.equal(verified(hook.received.at(-1) as Received).event, "test");

  const listed = await runCli(["alerts", "--json"], env);
  assert.equal(listed.code, 0, listed.stderr);
  const alerts = JSON.parse(listed.stdout) as { rule: string; state: string }[];
  assert.equal(alerts[0]?.state, "firing", "the firing test alert comes first");
  assert.equal(alerts[0]?.rule, "test");
  assert.ok(alerts.slice(1).every((a) => a.state === "resolved"));
  const text = await runCli(["alerts"], env);
  assert.match(text.stdout.split("\n")[0] ?? "", /^firing +warning +test /);

  const dead = await runCli(["alerts", "test"], {
    ...env,
    VPB_ALERT_WEBHOOK_URL: "http://127.0.0.1:9/hook-token",
  });
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, /ALERT_DELIVERY_FAILED/);
  assert.doesNotMatch(dead.stderr + dead.stdout, /hook-token|webhook-secret/);
});
