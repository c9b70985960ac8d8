/**
 * An Auth.js adapter over the auth tables (users, accounts, sessions, verification_tokens).
 *
 * - Session and verification tokens are stored as sha256 digests: the table never holds a usable
 *   token. Lookups hash the token they are given.
 * - OAuth tokens (access, refresh, id) are encrypted with the key ring (VPB_TOKEN_KEYS) before they
 *   are stored, and decrypted when read back. unlinkAccount deletes without decrypting and returns the
 *   account without its tokens.
 * - Every call is one transaction as service_role, so the connection needs no more than that role.
 *
 * @example
 * import NextAuth from "next-auth";
 * import { VpbAdapter } from "vpb-db/auth-adapter";
 * export const { handlers } = NextAuth({ adapter: VpbAdapter({ connectionString, tokenKeys: process.env.VPB_TOKEN_KEYS! }) });
 */
import { createHash } from "node:crypto";
import type {
  Adapter,
  AdapterAccount,
  AdapterSession,
  AdapterUser,
  VerificationToken,
} from "@auth/core/adapters";
import { VpbError } from "../errors.ts";
import { type Actor, createRunner, type DbOptions, inTransaction, type Tx } from "../sdk/db.ts";
import { decryptToken, encryptToken, type KeyRing, requireKeyRing, tokenAad } from "./token-cipher.ts";
import { TOKEN_COLUMNS } from "./token-rotation.ts";

export interface VpbAdapterOptions extends DbOptions {
  /** The key ring, or VPB_TOKEN_KEYS' text (`id:base64key,...`). */
  tokenKeys: KeyRing | string;
}

const SERVICE: Actor = { role: "service_role", userId: undefined };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const USER_COLUMNS = 'id, email, email_verified as "emailVerified", name, image';

const digest = (token: string) => createHash("sha256").update(token, "utf8").digest();

interface AccountRow {
  user_id: string;
  type: AdapterAccount["type"];
  provider: string;
  provider_account_id: string;
  refresh_token: string | null;
  access_token: string | null;
  id_token: string | null;
  expires_at: string | null;
  token_type: string | null;
  scope: string | null;
  session_state: string | null;
}

/** How long after createUser a failed linkAccount still undoes the sign-up it belongs to. */
const SIGN_UP_WINDOW_MS = 5 * 60_000;

export function VpbAdapter(options: VpbAdapterOptions): Adapter & { close(): Promise<void> } {
  // Refused here, before any call: TOKEN_KEYS_MISSING when absent, TOKEN_KEYS_INVALID when malformed.
  const ring = requireKeyRing(options.tokenKeys);
  /**
   * Users this adapter created and has not linked yet (id -> when). Auth.js signs a new OAuth user up
   * with two calls, createUser then linkAccount, in one request of one process; if linkAccount fails,
   * the user is removed again, or the next sign-in finds a user by e-mail without an account and
   * Auth.js refuses it (OAuthAccountNotLinked). Users created elsewhere are never removed.
   */
  const pendingSignUps = new Map<string, number>();
  const forgetStaleSignUps = () => {
    const oldest = Date.now() - SIGN_UP_WINDOW_MS;
    for (const [id, at] of pendingSignUps) if (at < oldest) pendingSignUps.delete(id);
  };
  const runner = createRunner({ applicationName: "vpb-db auth adapter", ...options });
  const run = <T>(operation: string, fn: (tx: Tx) => Promise<T>) =>
    inTransaction(runner, SERVICE, `auth.${operation}`, fn);

  const toAccount = (row: AccountRow): AdapterAccount => {
    const tokens: Record<string, string> = {};
    for (const column of TOKEN_COLUMNS) {
      const value = row[column];
      if (value !== null)
        tokens[column] = decryptToken(ring, value, tokenAad(column, row.provider, row.provider_account_id));
    }
    return {
      userId: row.user_id,
      type: row.type,
      provider: row.provider,
      providerAccountId: row.provider_account_id,
      ...tokens,
      ...(row.expires_at !== null ? { expires_at: Number(row.expires_at) } : {}),
      ...(row.token_type !== null ? { token_type: row.token_type as Lowercase<string> } : {}),
      ...(row.scope !== null ? { scope: row.scope } : {}),
      ...(row.session_state !== null ? { session_state: row.session_state } : {}),
    };
  };

  return {
    async createUser(user) {
      return run("createUser", async (tx) => {
        const { rows } = await tx.query<AdapterUser>(
          `insert into public.users (id, email, email_verified, name, image) values (coalesce($1::uuid, gen_random_uuid()), $2, $3, $4, $5)
           returning ${USER_COLUMNS}`,
          [
            UUID.test(user.id ?? "") ? user.id : null,
            user.email,
            user.emailVerified,
            user.name ?? null,
            user.image ?? null,
          ],
        );
        const created = rows[0] as AdapterUser;
        forgetStaleSignUps();
        pendingSignUps.set(created.id, Date.now());
        return created;
      });
    },

    async getUser(id) {
      if (!UUID.test(id)) return null;
      return run(
        "getUser",
        async (tx) =>
          (await tx.query<AdapterUser>(`select ${USER_COLUMNS} from public.users where id = $1`, [id]))
            .rows[0] ?? null,
      );
    },

    async getUserByEmail(email) {
      return run(
        "getUserByEmail",
        async (tx) =>
          (
            await tx.query<AdapterUser>(
              `select ${USER_COLUMNS} from public.users where lower(email) = lower($1)`,
              [email],
            )
          ).rows[0] ?? null,
      );
    },

    async getUserByAccount({ provider, providerAccountId }) {
      return run("getUserByAccount", async (tx) => {
        const { rows } = await tx.query<AdapterUser>(
          `select ${USER_COLUMNS.split(", ")
            .map((c) => `u.${c}`)
            .join(", ")} from public.users u
             join public.accounts a on a.user_id = u.id where a.provider = $1 and a.provider_account_id = $2`,
          [provider, providerAccountId],
        );
        return rows[0] ?? null;
      });
    },

    async updateUser(user) {
      return run("updateUser", async (tx) => {
        const { rows } = await tx.query<AdapterUser>(
          `update public.users set
             email = case when $2 then $3 else email end,
             email_verified = case when $4 then $5::timestamptz else email_verified end,
             name = case when $6 then $7 else name end,
             image = case when $8 then $9 else image end
           where id = $1 returning ${USER_COLUMNS}`,
          [
            user.id,
            "email" in user,
            user.email ?? null,
            "emailVerified" in user,
            user.emailVerified ?? null,
            "name" in user,
            user.name ?? null,
            "image" in user,
            user.image ?? null,
          ],
        );
        if (!rows[0])
          throw new VpbError(
            "INVALID_ARGUMENT",
            "updateUser: no such user.",
            "Pass the id of an existing user.",
          );
        return rows[0];
      });
    },

    async deleteUser(userId) {
      if (!UUID.test(userId)) return null;
      // accounts and sessions go with the user (on delete cascade).
      return run(
        "deleteUser",
        async (tx) =>
          (
            await tx.query<AdapterUser>(`delete from public.users where id = $1 returning ${USER_COLUMNS}`, [
              userId,
            ])
          ).rows[0] ?? null,
      );
    },

    async linkAccount(account) {
      const sealed = (column: (typeof TOKEN_COLUMNS)[number]) => {
        const value = account[column];
        return typeof value === "string"
          ? encryptToken(ring, value, tokenAad(column, account.provider, account.providerAccountId))
          : null;
      };
      const signUp = pendingSignUps.get(account.userId);
      pendingSignUps.delete(account.userId);
      try {
        await run("linkAccount", (tx) =>
          tx.query(
            `insert into public.accounts (user_id, type, provider, provider_account_id, refresh_token, access_token, id_token,
                                        expires_at, token_type, scope, session_state)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
            [
              account.userId,
              account.type,
              account.provider,
              account.providerAccountId,
              sealed("refresh_token"),
              sealed("access_token"),
              sealed("id_token"),
              account.expires_at ?? null,
              account.token_type ?? null,
              account.scope ?? null,
              typeof account.session_state === "string" ? account.session_state : null,
            ],
          ),
        );
      } catch (e) {
        if (signUp !== undefined && Date.now() - signUp < SIGN_UP_WINDOW_MS) {
          // Undo the sign-up this link completes, unless something got attached to the user meanwhile.
          // If this fails too (the database is gone), the original error is what the caller needs.
          await run("linkAccount.undoSignUp", (tx) =>
            tx.query(
              `delete from public.users u where u.id = $1
                 and not exists (select 1 from public.accounts a where a.user_id = u.id)
                 and not exists (select 1 from public.sessions s where s.user_id = u.id)`,
              [account.userId],
            ),
          ).catch(() => {});
        }
        throw e;
      }
      return account;
    },

    async unlinkAccount({ provider, providerAccountId }) {
      // Deleting needs no key: an account whose tokens no longer decrypt (key lost, value damaged)
      // must still be removable. So the tokens are not read back, and the result carries none.
      return run("unlinkAccount", async (tx) => {
        const { rows } = await tx.query<AccountRow>(
          `delete from public.accounts where provider = $1 and provider_account_id = $2
           returning user_id, type, provider, provider_account_id, null as refresh_token, null as access_token,
                     null as id_token, expires_at, token_type, scope, session_state`,
          [provider, providerAccountId],
        );
        return rows[0] ? toAccount(rows[0]) : undefined;
      });
    },

    async createSession(session) {
      pendingSignUps.delete(session.userId);
      await run("createSession", (tx) =>
        tx.query("insert into public.sessions (session_token_hash, user_id, expires) values ($1, $2, $3)", [
          digest(session.sessionToken),
          session.userId,
          session.expires,
        ]),
      );
      return session;
    },

    async getSessionAndUser(sessionToken) {
      return run("getSessionAndUser", async (tx) => {
        const { rows } = await tx.query<{ user_id: string; expires: Date; expired: boolean } & AdapterUser>(
          `select s.user_id, s.expires, s.expires <= now() as expired, ${USER_COLUMNS.split(", ")
            .map((c) => `u.${c}`)
            .join(", ")}
             from public.sessions s join public.users u on u.id = s.user_id where s.session_token_hash = $1`,
          [digest(sessionToken)],
        );
        const row = rows[0];
        if (!row) return null;
        if (row.expired) {
          // An expired session is as good as none: remove it now rather than at the next cleanup.
          await tx.query("delete from public.sessions where session_token_hash = $1", [digest(sessionToken)]);
          return null;
        }
        const { user_id, expires, expired: _, ...user } = row;
        return { session: { sessionToken, userId: user_id, expires }, user };
      });
    },

    async updateSession(session) {
      return run("updateSession", async (tx) => {
        const { rows } = await tx.query<{ user_id: string; expires: Date }>(
          `update public.sessions set expires = coalesce($2, expires), user_id = coalesce($3, user_id)
            where session_token_hash = $1 returning user_id, expires`,
          [digest(session.sessionToken), session.expires ?? null, session.userId ?? null],
        );
        const row = rows[0];
        return row
          ? ({
              sessionToken: session.sessionToken,
              userId: row.user_id,
              expires: row.expires,
            } satisfies AdapterSession)
          : null;
      });
    },

    async deleteSession(sessionToken) {
      return run("deleteSession", async (tx) => {
        const { rows } = await tx.query<{ user_id: string; expires: Date }>(
          "delete from public.sessions where session_token_hash = $1 returning user_id, expires",
          [digest(sessionToken)],
        );
        const row = rows[0];
        return row ? { sessionToken, userId: row.user_id, expires: row.expires } : null;
      });
    },

    async createVerificationToken(token) {
      await run("createVerificationToken", (tx) =>
        tx.query(
          "insert into public.verification_tokens (identifier, token_hash, expires) values ($1, $2, $3)",
          [token.identifier, digest(token.token), token.expires],
        ),
      );
      return token;
    },

    async useVerificationToken({ identifier, token }) {
      // Deleting is using: a second use finds nothing.
      return run("useVerificationToken", async (tx) => {
        const { rows } = await tx.query<{ expires: Date }>(
          "delete from public.verification_tokens where identifier = $1 and token_hash = $2 returning expires",
          [identifier, digest(token)],
        );
        return rows[0] ? ({ identifier, token, expires: rows[0].expires } satisfies VerificationToken) : null;
      });
    },

    close: () => runner.pool.end(),
  };
}
