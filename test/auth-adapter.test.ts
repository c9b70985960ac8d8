import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type pg from "pg";
import { VpbAdapter } from "../src/auth/adapter.ts";
import { generateKey } from "../src/auth/token-cipher.ts";
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
