import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
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
  assert.match(envelope, /^v1\.k\d{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
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
  assert.throws(
    () => decryptToken(unknown, encryptToken(other, "t", "a"), "a"),
    (e: unknown) => isVpbError(e, "TOKEN_KEY_UNKNOWN"),
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
  assert.deepEqual(result, { accountsRewritten: 7, tokensRewritten: 10 });
  assert.deepEqual(progress, [3, 6, 7]);
  assert.deepEqual(
    await rotateTokenKeys(c, both),
    { accountsRewritten: 0, tokensRewritten: 0 },
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
  assert.deepEqual(JSON.parse(cli.stdout), { accountsRewritten: 7, tokensRewritten: 10 });
  assert.ok(!cli.stdout.includes(Buffer.alloc(32, 3).toString("base64")) && !cli.stderr.includes("AwMD"));
  const missing = await runCli(["keys", "rotate"], { DATABASE_URL: db.url, VPB_TOKEN_KEYS: "" });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /TOKEN_KEYS_MISSING/);
});
