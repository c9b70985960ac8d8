import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type pg from "pg";
import { VpbAdapter } from "../src/auth/adapter.ts";
import { generateKey } from "../src/auth/token-cipher.ts";
import { type ErrorCode, isVpbError } from "../src/errors.ts";
import { client, createDatabase } from "./support/harness.ts";
import { PGBOUNCER, startPgBouncer } from "./support/pgbouncer.ts";

// The same suite runs on a direct connection and through PgBouncer in transaction mode.
const routes = [
  { name: "direct", skip: false as const },
  {
    name: "PgBouncer (transaction mode)",
    skip: existsSync(PGBOUNCER) || process.env.CI ? (false as const) : `${PGBOUNCER} is not installed`,
  },
];

for (const route of routes) {
  describe(`Auth.js adapter, ${route.name}`, { skip: route.skip }, () => {
    let adapter: ReturnType<typeof VpbAdapter>;
    let c: pg.Client;
    // Every method is defined: the non-null assertions below only satisfy Adapter's optional members.
    const a = () => adapter as Required<ReturnType<typeof VpbAdapter>>;

    let stopBouncer: (() => Promise<void>) | undefined;
    let url: string;

    before(async () => {
      const db = await createDatabase();
      c = await client(db.url);
      url = db.url;
      if (route.name !== "direct") {
        const bouncer = await startPgBouncer(db.url, "transaction");
        stopBouncer = bouncer.stop;
        url = bouncer.url(db.name);
      }
      adapter = VpbAdapter({ connectionString: url, tokenKeys: generateKey(), max: 2 });
    });
    after(async () => {
      await adapter?.close();
      await stopBouncer?.();
    });

    const newUser = (email = `ada-${randomUUID()}@example.com`) =>
      a().createUser({ id: randomUUID(), email, emailVerified: null, name: "Ada", image: null });

    test("users: create, get by id and by email (any case), update, unknown ids", async () => {
      const email = `Grace-${randomUUID()}@Example.com`;
      const u = await newUser(email);
      assert.equal(u.email, email);
      assert.deepEqual(await a().getUser(u.id), u);
      assert.deepEqual(await a().getUserByEmail(email.toLowerCase()), u);
      assert.equal(await a().getUser(randomUUID()), null);
      assert.equal(await a().getUser("not-a-uuid"), null);
      assert.equal(await a().getUserByEmail("nobody@example.com"), null);
      const verified = new Date("2026-01-02T03:04:05Z");
      const updated = await a().updateUser({ id: u.id, name: "Grace", emailVerified: verified });
      assert.equal(updated.name, "Grace");
      assert.equal(updated.emailVerified?.toISOString(), verified.toISOString());
      assert.equal(updated.email, email, "fields not given stay");
    });

    test("accounts: linked with encrypted tokens, found by provider id, unlinked without reading the tokens", async () => {
      const u = await newUser();
      const providerAccountId = randomUUID();
      await a().linkAccount({
        userId: u.id,
        type: "oauth",
        provider: "github",
        providerAccountId,
        access_token: "gho_live_access",
        refresh_token: "ghr_live_refresh",
        expires_at: 1_800_000_000,
        token_type: "bearer",
        scope: "read:user",
      });
      const raw = (
        await c.query(
          "select access_token, refresh_token, id_token from accounts where provider_account_id = $1",
          [providerAccountId],
        )
      ).rows[0];
      assert.match(raw.access_token, /^v1\./);
      assert.ok(!JSON.stringify(raw).includes("gho_live_access"), "no plaintext token in the table");
      assert.equal(raw.id_token, null);
      assert.deepEqual(await a().getUserByAccount({ provider: "github", providerAccountId }), u);
      const removed = await a().unlinkAccount({ provider: "github", providerAccountId });
      assert.deepEqual(removed, {
        userId: u.id,
        type: "oauth",
        provider: "github",
        providerAccountId,
        expires_at: 1_800_000_000,
        token_type: "bearer",
        scope: "read:user",
      });
      assert.equal(await a().getUserByAccount({ provider: "github", providerAccountId }), null);
      assert.equal(await a().unlinkAccount({ provider: "github", providerAccountId }), undefined);
    });

    test("a sign-up whose linkAccount fails is undone, so the next sign-in works", async () => {
      const email = `oauth-${randomUUID()}@example.com`;
      const account = (userId: string, scope: string) => ({
        userId,
        type: "oauth" as const,
        provider: "github",
        providerAccountId: randomUUID(),
        access_token: "gho_signup",
        scope,
      });
      // Auth.js's new OAuth user: createUser, then linkAccount, two calls.
      const first = await newUser(email);
      await assert.rejects(
        async () => a().linkAccount(account(first.id, "x".repeat(3000))),
        (e: unknown) => {
          assert.ok(isVpbError(e, "INVALID_INPUT"), String(e));
          return true;
        },
      );
      assert.equal(await a().getUserByEmail(email), null, "no user is left without its account");
      // The retry Auth.js makes at the next sign-in: no OAuthAccountNotLinked, no duplicate e-mail.
      const again = await newUser(email);
      const linked = account(again.id, "read:user");
      await a().linkAccount(linked);
      assert.deepEqual(
        await a().getUserByAccount({ provider: "github", providerAccountId: linked.providerAccountId }),
        again,
      );

      // A user the adapter did not just sign up (or one signed in since) is never removed.
      const existing = await newUser();
      await a().linkAccount(account(existing.id, "first"));
      await assert.rejects(async () => a().linkAccount(account(existing.id, "y".repeat(3000))));
      const signedIn = await newUser();
      await a().createSession({
        sessionToken: randomUUID(),
        userId: signedIn.id,
        expires: new Date(Date.now() + 60_000),
      });
      await assert.rejects(async () => a().linkAccount(account(signedIn.id, "z".repeat(3000))));
      // Another process's sign-up is not this adapter's to undo.
      const elsewhere = await newUser();
      const other = VpbAdapter({ connectionString: url, tokenKeys: generateKey(), max: 1 });
      try {
        await assert.rejects(async () =>
          (other as Required<typeof other>).linkAccount(account(elsewhere.id, "w".repeat(3000))),
        );
      } finally {
        await other.close();
      }
      for (const u of [existing, signedIn, elsewhere, again]) assert.deepEqual(await a().getUser(u.id), u);
    });

    test("an account whose key is lost can still be unlinked", async () => {
      const u = await newUser();
      const providerAccountId = randomUUID();
      await a().linkAccount({
        userId: u.id,
        type: "oauth",
        provider: "github",
        providerAccountId,
        access_token: "gho_orphaned",
      });
      // The same database seen by a deployment whose ring no longer holds the key that sealed the token.
      const lost = VpbAdapter({ connectionString: url, tokenKeys: generateKey(), max: 1 });
      try {
        const removed = await lost.unlinkAccount?.({ provider: "github", providerAccountId });
        assert.deepEqual(removed, { userId: u.id, type: "oauth", provider: "github", providerAccountId });
      } finally {
        await lost.close();
      }
      assert.equal(await a().getUserByAccount({ provider: "github", providerAccountId }), null);
    });

    test("sessions: stored as digests, read back, updated, deleted; an expired one is gone", async () => {
      const u = await newUser();
      const sessionToken = randomUUID();
      const expires = new Date(Date.now() + 86400_000);
      await a().createSession({ sessionToken, userId: u.id, expires });
      const stored = (
        await c.query("select encode(session_token_hash, 'hex') as h from sessions where user_id = $1", [
          u.id,
        ])
      ).rows[0].h;
      assert.notEqual(stored, Buffer.from(sessionToken).toString("hex"));
      const found = await a().getSessionAndUser(sessionToken);
      assert.equal(found?.user.id, u.id);
      assert.equal(found?.session.expires.getTime(), expires.getTime());
      const later = new Date(Date.now() + 7 * 86400_000);
      assert.equal(
        (await a().updateSession({ sessionToken, expires: later }))?.expires.getTime(),
        later.getTime(),
      );
      assert.equal(await a().getSessionAndUser(randomUUID()), null);
      assert.equal((await a().deleteSession(sessionToken))?.userId, u.id);
      assert.equal(await a().getSessionAndUser(sessionToken), null);

      const stale = randomUUID();
      await a().createSession({ sessionToken: stale, userId: u.id, expires: new Date(Date.now() - 1000) });
      assert.equal(await a().getSessionAndUser(stale), null);
      assert.equal(
        (await c.query("select count(*)::int as n from sessions where user_id = $1", [u.id])).rows[0].n,
        0,
      );
    });

    test("verification tokens: digests only, and a token works once", async () => {
      const token = randomUUID();
      const expires = new Date(Date.now() + 600_000);
      await a().createVerificationToken({ identifier: "ada@example.com", token, expires });
      const digest = createHash("sha256").update(token).digest();
      const stored = await c.query(
        "select token_hash from verification_tokens where identifier = 'ada@example.com'",
      );
      assert.deepEqual(
        stored.rows.map((r) => r.token_hash),
        [digest],
        "only the sha256 of the token is stored",
      );
      const used = await a().useVerificationToken({ identifier: "ada@example.com", token });
      assert.deepEqual(used, { identifier: "ada@example.com", token, expires });
      assert.equal(
        await a().useVerificationToken({ identifier: "ada@example.com", token }),
        null,
        "second use",
      );
      assert.equal(
        await a().useVerificationToken({ identifier: "eve@example.com", token: randomUUID() }),
        null,
      );
    });

    test("deleting a user removes their accounts and sessions", async () => {
      const u = await newUser();
      await a().linkAccount({
        userId: u.id,
        type: "oidc",
        provider: "google",
        providerAccountId: randomUUID(),
        id_token: "eyJ.live.token",
      });
      await a().createSession({
        sessionToken: randomUUID(),
        userId: u.id,
        expires: new Date(Date.now() + 60_000),
      });
      assert.equal((await a().deleteUser(u.id))?.id, u.id);
      for (const table of ["accounts", "sessions", "users"]) {
        const col = table === "users" ? "id" : "user_id";
        assert.equal(
          (await c.query(`select count(*)::int as n from ${table} where ${col} = $1`, [u.id])).rows[0].n,
          0,
          table,
        );
      }
      assert.equal(await a().deleteUser(u.id), null);
    });
  });
}

test("the adapter refuses missing or malformed token keys when it is created, before any call", () => {
  const url = "postgres://nobody@127.0.0.1:1/none";
  const refuses = (tokenKeys: unknown, code: ErrorCode, pattern?: RegExp) =>
    assert.throws(
      () => VpbAdapter({ connectionString: url, tokenKeys: tokenKeys as string }),
      (e: unknown) => {
        assert.ok(
          isVpbError(e, code),
          `${String(tokenKeys).slice(0, 20)}: expected ${code}, got ${String(e)}`,
        );
        if (pattern) assert.match(e.message, pattern);
        return true;
      },
    );
  // `tokenKeys: process.env.VPB_TOKEN_KEYS!` with the variable unset, or set empty.
  refuses(undefined, "TOKEN_KEYS_MISSING");
  refuses("", "TOKEN_KEYS_MISSING");
  refuses("  ", "TOKEN_KEYS_MISSING");
  const secret = Buffer.alloc(16, 9).toString("base64");
  refuses(`k1:${secret}`, "TOKEN_KEYS_INVALID", /not 32 bytes/);
  refuses("no-colon-here", "TOKEN_KEYS_INVALID");
  refuses(`${generateKey()},${generateKey().replace(/:.*/, ":!!!")}`, "TOKEN_KEYS_INVALID");
  refuses({ current: "k1", keys: new Map() }, "TOKEN_KEYS_INVALID", /current key id/);
  refuses({ current: "k1", keys: new Map([["k1", Buffer.alloc(16)]]) }, "TOKEN_KEYS_INVALID");
  assert.throws(
    () => VpbAdapter({ connectionString: url, tokenKeys: `k1:${secret}` }),
    (e: Error) => !e.message.includes(secret),
    "the message never quotes a key",
  );
  const ok = VpbAdapter({ connectionString: url, tokenKeys: generateKey() });
  return ok.close();
});
