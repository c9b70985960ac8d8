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
