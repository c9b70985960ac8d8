import assert from "node:assert/strict";
import { createCipheriv, randomBytes, randomUUID } from "node:crypto";
import { test } from "node:test";
import {
  decryptToken,
  encryptToken,
  envelopeKeyId,
  generateKey,
  type KeyRing,
  parseKeyRing,
  tokenAad,
} from "../src/auth/token-cipher.ts";
import { rotateTokenKeys } from "../src/auth/token-rotation.ts";
import { isVpbError } from "../src/errors.ts";
import { runCli } from "./support/cli.ts";
import { client, createDatabase } from "./support/harness.ts";
import { insert, user } from "./support/rows.ts";

const ring = (text: string): KeyRing => {
  const parsed = parseKeyRing(text);
  assert.deepEqual(parsed.problems, []);
  return parsed.ring as KeyRing;
};

test("tokens round-trip, and the envelope names its key and hides the plaintext", () => {
  const r = ring(generateKey());
  const aad = tokenAad("access_token", "github", "42");
  const envelope = encryptToken(r, "gho_secret_token", aad);
  assert.match(envelope, /^v1\.k\d{8}-[0-9a-f]{12}\.[A-Za-z0-9_-]{16}\.AADjson2[A-Za-z0-9_-]+$/);
  assert.ok(!envelope.includes("secret"));
  assert.equal(envelopeKeyId(envelope), r.current);
  assert.equal(decryptToken(r, envelope, aad), "gho_secret_token");
  assert.notEqual(encryptToken(r, "gho_secret_token", aad), envelope, "a fresh IV every time");
});

test("a token moved to another row or column, or altered, does not decrypt", () => {
  const r = ring(generateKey());
  const envelope = encryptToken(r, "token", tokenAad("access_token", "github", "42"));
  for (const aad of [tokenAad("refresh_token", "github", "42"), tokenAad("access_token", "github", "43")]) {
    assert.throws(
      () => decryptToken(r, envelope, aad),
      (e: unknown) => isVpbError(e, "TOKEN_DECRYPT_FAILED"),
    );
  }
  const last = envelope.at(-1) === "A" ? "B" : "A";
  const altered = envelope.slice(0, -1) + last;
  assert.throws(
    () => decryptToken(r, altered, tokenAad("access_token", "github", "42")),
    (e: unknown) => isVpbError(e, "TOKEN_DECRYPT_FAILED"),
  );
});

test("key ring problems are listed without echoing key material", () => {
  const secret = Buffer.alloc(16, 7).toString("base64");
  const { ring: r, problems } = parseKeyRing(
    `bad id:${secret},short:${secret},k1:${Buffer.alloc(32).toString("base64")},k1:x`,
  );
  assert.equal(r, undefined);
  assert.equal(problems.length, 3);
  assert.ok(problems.every((p) => !p.includes(secret)));
  const unknown = ring(generateKey());
  const other = ring(`old:${Buffer.alloc(32, 1).toString("base64")}`);
  const slot = tokenAad("access_token", "github", "1");
  assert.throws(
    () => decryptToken(unknown, encryptToken(other, "t", slot), slot),
    (e: unknown) => isVpbError(e, "TOKEN_KEY_UNKNOWN"),
  );
});

test("a key that is not clean base64 is refused, not decoded around its stray characters", () => {
  const key = Buffer.alloc(32, 5).toString("base64");
  assert.equal(parseKeyRing(`k1:${key}`).problems.length, 0);
  assert.equal(parseKeyRing(`k1:${Buffer.alloc(32, 5).toString("base64url")}`).problems.length, 0);
  for (const bad of [
    `${key.slice(0, 10)}*${key.slice(10)}`,
    `${key.slice(0, 10)} ${key.slice(10)}`,
    `${key}=`,
  ]) {
    const { ring: r, problems } = parseKeyRing(`k1:${bad}`);
    assert.equal(r, undefined, bad);
    assert.match(problems.join("\n"), /key "k1" is not valid base64/);
    assert.ok(
      problems.every((p) => !p.includes(key.slice(0, 10))),
      "no key material in the problem",
    );
  }
});

/** An envelope as the first release wrote it: the AAD is the parts joined with ':'. */
function format1Envelope(r: KeyRing, plaintext: string, column: string, provider: string, pid: string) {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", r.keys.get(r.current) as Buffer, iv);
  cipher.setAAD(Buffer.from(`accounts.${column}:${provider}:${pid}`, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `v1.${r.current}.${iv.toString("base64url")}.${body.toString("base64url")}`;
}

test("the AAD keeps row parts apart that ':' joined ambiguously; old envelopes still decrypt", () => {
  const r = ring(generateKey());
  // Provider "gh:enterprise" with account "7" and provider "gh" with account "enterprise:7".
  const sealed = encryptToken(r, "token", tokenAad("access_token", "gh:enterprise", "7"));
  assert.throws(
    () => decryptToken(r, sealed, tokenAad("access_token", "gh", "enterprise:7")),
    (e: unknown) => isVpbError(e, "TOKEN_DECRYPT_FAILED"),
  );
  const old = format1Envelope(r, "legacy", "access_token", "github", "42");
  assert.equal(decryptToken(r, old, tokenAad("access_token", "github", "42")), "legacy");
  assert.throws(
    () => decryptToken(r, old, tokenAad("refresh_token", "github", "42")),
    (e: unknown) => isVpbError(e, "TOKEN_DECRYPT_FAILED"),
  );
});

test("the database refuses a plaintext token", async () => {
  const c = await client((await createDatabase()).url);
  const u = await user(c);
  await assert.rejects(
    insert(c, "accounts", {
      user_id: u.id,
      type: "oauth",
      provider: "github",
      provider_account_id: "1",
      access_token: "gho_plaintext",
    }),
    (e: { constraint?: string }) => e.constraint === "accounts_tokens_encrypted",
  );
});

test("two keys generated the same day get different ids, both parse in one ring and pass the envelope CHECK", async () => {
  const lines: string[] = [];
  for (let i = 0; i < 2; i++) {
    const run = await runCli(["keys", "generate"], {});
    assert.equal(run.code, 0, run.stderr);
    lines.push(run.stdout.trim());
  }
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, "");
  const ids = lines.map((l) => l.split(":")[0] as string);
  for (const id of ids) assert.match(id, new RegExp(`^k(${day}|\\d{8})-[0-9a-f]{12}$`));
  assert.notEqual(ids[0], ids[1], "the README's rotate-at-once after a leak needs a new id");
  const sameDay = new Date("2026-11-25T10:00:00Z");
  assert.notEqual(generateKey(sameDay).split(":")[0], generateKey(sameDay).split(":")[0]);
  const both = ring(lines.join(","));
  assert.equal(both.current, ids[0]);
  const c = await client((await createDatabase()).url);
  const u = await user(c);
  for (const [i, kid] of ids.entries()) {
    const slot = tokenAad("access_token", "github", `same-day-${i}`);
    const envelope = encryptToken({ current: kid, keys: both.keys }, "gho_token", slot);
    await insert(c, "accounts", {
      user_id: u.id,
      type: "oauth",
      provider: "github",
      provider_account_id: `same-day-${i}`,
      access_token: envelope,
    });
    assert.equal(decryptToken(both, envelope, slot), "gho_token");
  }
});

test("rotation re-encrypts every token under the new key; the old key can then be dropped", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const oldKey = `old:${Buffer.alloc(32, 3).toString("base64")}`;
  const newKey = `new:${Buffer.alloc(32, 4).toString("base64")}`;
  const before = ring(oldKey);
  const u = await user(c);
  const plain = new Map<string, string>();
  for (let i = 0; i < 7; i++) {
    const pid = randomUUID();
    const token = `access-${i}`;
    plain.set(pid, token);
    await insert(c, "accounts", {
      user_id: u.id,
      type: "oauth",
      provider: "github",
      provider_account_id: pid,
      access_token: encryptToken(before, token, tokenAad("access_token", "github", pid)),
      refresh_token:
        i % 2 ? encryptToken(before, `refresh-${i}`, tokenAad("refresh_token", "github", pid)) : null,
    });
  }
  const both = ring(`${newKey},${oldKey}`);
  const progress: number[] = [];
  const result = await rotateTokenKeys(c, both, { batchSize: 3, onProgress: (n) => progress.push(n) });
  assert.deepEqual(result, { accountsRewritten: 7, tokensRewritten: 10, failures: [] });
  assert.deepEqual(progress, [3, 6, 7]);
  assert.deepEqual(
    await rotateTokenKeys(c, both),
    { accountsRewritten: 0, tokensRewritten: 0, failures: [] },
    "nothing left under the old key",
  );

  const after = ring(newKey);
  const { rows } = await c.query(
    "select provider_account_id as pid, access_token from accounts where user_id = $1",
    [u.id],
  );
  for (const row of rows) {
    assert.equal(envelopeKeyId(row.access_token), "new");
    assert.equal(
      decryptToken(after, row.access_token, tokenAad("access_token", "github", row.pid)),
      plain.get(row.pid),
    );
  }

  const cli = await runCli(["keys", "rotate", "--json"], {
    DATABASE_URL: db.url,
    VPB_TOKEN_KEYS: `${oldKey},${newKey}`,
  });
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual(JSON.parse(cli.stdout), { accountsRewritten: 7, tokensRewritten: 10, failures: [] });
  assert.ok(!cli.stdout.includes(Buffer.alloc(32, 3).toString("base64")) && !cli.stderr.includes("AwMD"));
  const missing = await runCli(["keys", "rotate"], { DATABASE_URL: db.url, VPB_TOKEN_KEYS: "" });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /TOKEN_KEYS_MISSING/);
});

test("rotation rewrites old-format envelopes under the current key, and reports rows it cannot read but goes on", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const keyText = `cur:${Buffer.alloc(32, 8).toString("base64")}`;
  const lostText = `lost:${Buffer.alloc(32, 9).toString("base64")}`;
  const r = ring(keyText);
  const lost = ring(lostText);
  const u = await user(c);
  const account = async (pid: string, access: string, refresh: string | null = null) =>
    (
      await insert(c, "accounts", {
        user_id: u.id,
        type: "oauth",
        provider: "github",
        provider_account_id: pid,
        access_token: access,
        refresh_token: refresh,
      })
    ).id;
  // Ids are random, so the bad rows fall anywhere among the good ones; batches of 1 make every row a batch.
  const good = [];
  for (let i = 0; i < 4; i++) {
    const pid = `old-${i}`;
    good.push({ pid, id: await account(pid, format1Envelope(r, `t${i}`, "access_token", "github", pid)) });
  }
  const keyGone = await account("gone", encryptToken(lost, "x", tokenAad("access_token", "github", "gone")));
  // Sealed for another row: fails authentication here. Its refresh token is fine and gets rewritten.
  const moved = await account(
    "moved",
    format1Envelope(r, "x", "access_token", "github", "elsewhere"),
    format1Envelope(r, "refresh", "refresh_token", "github", "moved"),
  );

  const result = await rotateTokenKeys(c, r, { batchSize: 1 });
  assert.equal(result.tokensRewritten, 5);
  assert.equal(result.accountsRewritten, 5);
  assert.deepEqual(
    [...result.failures].sort((x, y) => x.accountId.localeCompare(y.accountId)),
    [
      { accountId: keyGone, column: "access_token", code: "TOKEN_KEY_UNKNOWN" },
      { accountId: moved, column: "access_token", code: "TOKEN_DECRYPT_FAILED" },
    ].sort((x, y) => x.accountId.localeCompare(y.accountId)),
  );
  for (const { pid, id } of good) {
    const { rows } = await c.query("select access_token from accounts where id = $1", [id]);
    assert.match(rows[0].access_token, /^v1\.cur\.[A-Za-z0-9_-]{16}\.AADjson2/, "rewritten in format 2");
    assert.equal(
      decryptToken(r, rows[0].access_token, tokenAad("access_token", "github", pid)),
      `t${pid.slice(4)}`,
    );
  }
  const { rows } = await c.query("select refresh_token from accounts where id = $1", [moved]);
  assert.equal(
    decryptToken(r, rows[0].refresh_token, tokenAad("refresh_token", "github", "moved")),
    "refresh",
  );

  const cli = await runCli(["keys", "rotate"], { DATABASE_URL: db.url, VPB_TOKEN_KEYS: keyText });
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(
    cli.stderr,
    /error \[TOKEN_ROTATION_INCOMPLETE\]: 2 tokens of 2 accounts could not be re-encrypted/,
  );
  assert.ok(cli.stderr.includes(`account ${keyGone} access_token: TOKEN_KEY_UNKNOWN`), cli.stderr);
  assert.ok(cli.stderr.includes(`account ${moved} access_token: TOKEN_DECRYPT_FAILED`), cli.stderr);
  assert.match(cli.stdout, /Re-encrypted 0 tokens of 0 accounts/);
  const material = (await c.query("select access_token from accounts where id = any($1)", [[keyGone, moved]]))
    .rows;
  for (const { access_token } of material) {
    assert.ok(!cli.stderr.includes(access_token.split(".")[3].slice(8, 30)), "no ciphertext in the report");
  }
  await c.end();
});
