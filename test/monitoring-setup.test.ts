import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import pg from "pg";
import { parseConfig } from "../src/config.ts";
import { isVpbError } from "../src/errors.ts";
import { loadRules, parseRules } from "../src/monitoring/rules.ts";
import { statementStatus } from "../src/monitoring/statements.ts";
import { signBody, verifySignature } from "../src/monitoring/webhook.ts";
import { client, createDatabase } from "./support/harness.ts";

test("the default alert rules load; a bad rules file lists every problem and changes nothing", async () => {
  const rules = await loadRules();
  assert.equal(rules.error_spike.window, 5 * 60_000);
  assert.equal(rules.unusual_access.ip_lookback, 720 * 3_600_000);
  assert.throws(
    () =>
      parseRules(
        {
          ...rules,
          storage_quota: { warning_percent: 120, critical_percent: 100 },
          slow_query: { ...rules.slow_query, window: "soon", mean_ms: -1 },
          error_spike: undefined,
          extra: {},
        },
        "mine.json",
      ),
    (e: unknown) => {
      assert.ok(isVpbError(e, "ALERT_RULES_INVALID"));
      for (const problem of [
        "slow_query.window",
        "slow_query.mean_ms",
        '"error_spike" is missing',
        '"extra"',
        "warning_percent",
      ])
        assert.ok(e.message.includes(problem), `names ${problem}: ${e.message}`);
      assert.match(e.message, /mine\.json/);
      return true;
    },
  );
  const dir = await mkdtemp(path.join(os.tmpdir(), "vpb-rules-"));
  await writeFile(path.join(dir, "broken.json"), "{ not json");
  await assert.rejects(loadRules(path.join(dir, "broken.json")), (e: unknown) =>
    isVpbError(e, "ALERT_RULES_INVALID"),
  );
  await assert.rejects(loadRules(path.join(dir, "absent.json")), (e: unknown) =>
    isVpbError(e, "ALERT_RULES_INVALID"),
  );
});

test("the webhook settings: URL and secret together, neither ever echoed", () => {
  const url = "https://hooks.example.com/T000/secret-path-token";
  const c = parseConfig({ VPB_ALERT_WEBHOOK_URL: url, VPB_ALERT_WEBHOOK_SECRET: "0123456789abcdef" }, "/");
  assert.deepEqual(c.alertWebhook, { url, secret: "0123456789abcdef" });
  assert.equal(parseConfig({}, "/").alertWebhook, undefined);
  for (const settings of [
    { VPB_ALERT_WEBHOOK_URL: url },
    { VPB_ALERT_WEBHOOK_URL: url, VPB_ALERT_WEBHOOK_SECRET: "short" },
    { VPB_ALERT_WEBHOOK_URL: "ftp://x/secret-path-token", VPB_ALERT_WEBHOOK_SECRET: "0123456789abcdef-xyz" },
    { VPB_ALERT_WEBHOOK_SECRET: "0123456789abcdef-xyz" },
  ]) {
    assert.throws(
      () => parseConfig(settings, "/"),
      (e: unknown) => {
        assert.ok(isVpbError(e, "CONFIG_INVALID"));
        assert.match(e.message, /VPB_ALERT_WEBHOOK/);
        assert.doesNotMatch(e.message, /secret-path-token|0123456789abcdef|short/);
        return true;
      },
    );
  }
});

test("a signature is refused for another body, another secret or an old timestamp", () => {
  const now = 1_800_000_000;
  const header = signBody("s3cret-s3cret-s3cret", '{"a":1}', now);
  assert.ok(verifySignature("s3cret-s3cret-s3cret", '{"a":1}', header, 300, now));
  assert.ok(!verifySignature("s3cret-s3cret-s3cret", '{"a":2}', header, 300, now));
  assert.ok(!verifySignature("another-secret-value", '{"a":1}', header, 300, now));
  assert.ok(!verifySignature("s3cret-s3cret-s3cret", '{"a":1}', header, 300, now + 301));
  assert.ok(!verifySignature("s3cret-s3cret-s3cret", '{"a":1}', undefined, 300, now));
});

test("a role that may not read the preload list or create pg_stat_statements gets a note saying why, and nothing is created", async () => {
  const db = await createDatabase();
  const admin = await client(db.url);
  const role = `vpb_monitor_${randomBytes(4).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  await admin.query(`create role ${role} login password '${password}'`);
  try {
    const url = new URL(db.url);
    url.username = role;
    url.password = password;
    const limited = new pg.Client({ connectionString: url.toString() });
    await limited.connect();
    try {
      const status = await statementStatus(limited);
      assert.equal(status.on, false);
      assert.match(status.on ? "" : status.note, /may not create it \(SQLSTATE 42501\)/);
    } finally {
      await limited.end();
    }
    const ext = await admin.query("select from pg_extension where extname = 'pg_stat_statements'");
    assert.equal(ext.rowCount, 0, "nothing was created");
    assert.deepEqual(await statementStatus(admin), { on: true, schema: "public" }, "a superuser creates it");
  } finally {
    await admin.query(`drop owned by ${role}`);
    await admin.query(`drop role ${role}`);
  }
});

test("baselines: an error rate or a statement time that is usual does not fire, a jump over it does; new projects and sign-in addresses", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on("error", () => {});
  const rules = await loadRules();
  const now = new Date("2026-06-15T12:00:00Z");
  const ago = (min: number) => new Date(now.getTime() - min * 60_000);
  const metric = (name: string, value: number, unit: string, tags: object, at: Date) =>
    c.query(
      "insert into public.performance_metrics (metric, value, unit, tags, occurred_at) values ($1, $2, $3, $4, $5)",
      [name, value, unit, tags, at],
    );
  try {
    // E_USUAL: 2 a minute all day (10 per 5 min), 25 in the window: under 3 × 10 = 30.
    // E_JUMP: 1 a minute all day, 25 in the window: over max(3 × 5, 20).
    await c.query(
      `insert into public.performance_metrics (metric, value, unit, tags, occurred_at)
       select 'errors.count', v, 'count', jsonb_build_object('code', code), $1::timestamptz - m * interval '1 minute'
         from generate_series(6, 24 * 60 - 1) as m, (values ('E_USUAL', 2), ('E_JUMP', 1)) as x(code, v)`,
      [now],
    );
    for (const code of ["E_USUAL", "E_JUMP"]) await metric("errors.count", 25, "count", { code }, ago(1));
    // A statement at 10 ms over 100 calls a day, now at 150 ms: under the 1000 ms threshold, 15 × its baseline.
    const q = { queryid: "42", query: "select $1" };
    await metric("db.statement.calls", 100, "count", q, ago(600));
    await metric("db.statement.total_time", 1000, "ms", q, ago(600));
    await metric("db.statement.calls", 4, "count", q, ago(2));
    await metric("db.statement.total_time", 600, "ms", q, ago(2));
    // A user who touches 25 projects in the window, none before; and one who signs in from 5 new addresses.
    const explorer = (
      await c.query<{ id: string }>(
        "insert into public.users (email, name, plan) values ('e@example.com', 'E', 'enterprise') returning id",
      )
    ).rows[0]?.id;
    const traveller = (
      await c.query<{ id: string }>(
        "insert into public.users (email, name) values ('t@example.com', 'T') returning id",
      )
    ).rows[0]?.id;
    for (let i = 0; i < 25; i++) {
      const p = await c.query<{ id: string }>(
        "insert into public.projects (owner_id, name) values ($1, 'P') returning id",
        [explorer],
      );
      await c.query(
        "insert into public.user_activity (user_id, project_id, action, occurred_at) values ($1, $2, 'project.open', $3)",
        [explorer, p.rows[0]?.id, ago(1)],
      );
    }
    for (const [ip, minutes] of [
      ["10.0.0.1", 3000],
      ["10.0.0.1", 2],
      ["10.0.0.2", 2],
      ["10.0.0.3", 2],
      ["10.0.0.4", 2],
      ["10.0.0.5", 1],
      ["10.0.0.6", 1],
    ] as const)
      await c.query(
        "insert into public.user_activity (user_id, action, metadata, occurred_at) values ($1, 'auth.sign_in', $2, $3)",
        [traveller, { ip }, ago(minutes)],
      );
    const { evaluateAlerts } = await import("../src/monitoring/alerts.ts");
    const r = await evaluateAlerts(pool, { rules, now, log: () => {} });
    assert.deepEqual(
      r.events
        .map(
          (e) =>
            `${e.alert.rule} ${e.alert.subject} ${Object.keys(e.alert.details)
              .filter((k) => ["projects", "new_ips", "cause"].includes(k))
              .join(",")}`,
        )
        .sort(),
      [
        "error_spike E_JUMP ",
        "slow_query 42 cause",
        `unusual_access ${explorer} projects`,
        `unusual_access ${traveller} new_ips`,
      ].sort(),
    );
    assert.equal(r.events.find((e) => e.alert.rule === "slow_query")?.alert.details.cause, "jump");
  } finally {
    await pool.end();
  }
});

test("private.storage_usage follows every insert, update and delete of storage.objects", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const users = [];
  for (const name of ["a", "b"])
    users.push(
      (
        await c.query<{ id: string }>(
          "insert into public.users (email, name) values ($1, 'U') returning id",
          [`${name}@example.com`],
        )
      ).rows[0]?.id as string,
    );
  const [a, b] = users;
  const projectOf = async (owner: string) =>
    (
      await c.query<{ id: string }>(
        "insert into public.projects (owner_id, name) values ($1, 'P') returning id",
        [owner],
      )
    ).rows[0]?.id as string;
  const pa = await projectOf(a as string);
  const pb = await projectOf(b as string);
  const usage = async () =>
    (
      await c.query<{ k: string }>(
        "select owner_id || ' ' || bucket_id || ' ' || bytes || ' ' || objects as k from private.storage_usage where objects <> 0 or bytes <> 0 order by 1",
      )
    ).rows.map((r) => r.k);
  const truth = async () =>
    (
      await c.query<{ k: string }>(
        `select coalesce(owner, '00000000-0000-0000-0000-000000000000') || ' ' || bucket_id || ' ' || sum((metadata ->> 'size')::bigint) || ' ' || count(*) as k
           from storage.objects group by owner, bucket_id order by 1`,
      )
    ).rows.map((r) => r.k);
  await c.query(
    `insert into storage.objects (bucket_id, name, owner, metadata)
     select 'audio-recordings', $1 || '/' || $2 || '/170000000000' || i || '_t.webm', $1::uuid, jsonb_build_object('size', 1000 * i)
       from generate_series(1, 5) as i`,
    [a, pa],
  );
  await c.query(
    "insert into storage.objects (bucket_id, name, owner, metadata) values ('audio-recordings', $1, null, '{\"size\": 7}')",
    [`${b}/${pb}/1700000000000_orphan.webm`],
  );
  assert.deepEqual(await usage(), await truth());
  // A new version of one object, and one given to another owner.
  await c.query(
    "update storage.objects set metadata = '{\"size\": 50}', version = 'v2' where name like '%1_t.webm'",
  );
  await c.query("update storage.objects set owner = $1 where name like '%2_t.webm'", [b]);
  assert.deepEqual(await usage(), await truth());
  await c.query("begin");
  await c.query("set local storage.allow_delete_query = 'true'");
  await c.query("delete from storage.objects where name like '%3_t.webm' or name like '%orphan%'");
  await c.query("commit");
  assert.deepEqual(await usage(), await truth());
  assert.equal((await usage()).length, 2);
});
