import type pg from "pg";
import { type ErrorCode, isVpbError } from "../errors.ts";
import {
  decryptToken,
  encryptToken,
  FORMAT2_MARK,
  isCurrentEnvelope,
  type KeyRing,
  tokenAad,
} from "./token-cipher.ts";

export const TOKEN_COLUMNS = ["refresh_token", "access_token", "id_token"] as const;

/** A token rotation could not re-encrypt: which account and column, and why (never the token). */
export interface RotationFailure {
  accountId: string;
  column: (typeof TOKEN_COLUMNS)[number];
  code: ErrorCode;
}

export interface RotationResult {
  /** Accounts that had at least one token rewritten. */
  accountsRewritten: number;
  tokensRewritten: number;
  /** Tokens left as they were: their key is not in the ring, or they fail authentication. */
  failures: RotationFailure[];
}

interface AccountTokens {
  id: string;
  provider: string;
  provider_account_id: string;
  refresh_token: string | null;
  access_token: string | null;
  id_token: string | null;
}

/**
 * Re-encrypts every OAuth token not in the current envelope (the ring's current key, AAD format 2),
 * in batches, each batch in its own transaction (rows locked, so a concurrent sign-in waits rather than
 * loses its write). Run it after putting a new key first in VPB_TOKEN_KEYS; afterwards the old key can
 * be removed. A token that cannot be decrypted is left as it is and reported, and the rotation goes on:
 * one lost key must not keep every other account on the old key.
 */
export async function rotateTokenKeys(
  client: pg.Client,
  ring: KeyRing,
  options: { batchSize?: number; onProgress?: (done: number) => void } = {},
): Promise<RotationResult> {
  const batchSize = options.batchSize ?? 500;
  const prefix = `v1.${ring.current}.`;
  const result: RotationResult = { accountsRewritten: 0, tokensRewritten: 0, failures: [] };
  // Current means: this key's prefix, then the 16-character IV and its dot, then the format 2 mark.
  const stale = (column: string) =>
    `not (left(${column}, $2) = $3 and substr(${column}, $2 + 18, ${FORMAT2_MARK.length}) = $4)`;
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    await client.query("begin");
    try {
      const { rows } = await client.query<AccountTokens>(
        `select id, provider, provider_account_id, refresh_token, access_token, id_token
           from public.accounts
          where id > $1 and (${TOKEN_COLUMNS.map(stale).join(" or ")})
          order by id limit $5 for update`,
        [after, prefix.length, prefix, FORMAT2_MARK, batchSize],
      );
      for (const row of rows) {
        const next: Record<string, string | null> = {};
        let rewritten = 0;
        for (const column of TOKEN_COLUMNS) {
          const value = row[column];
          next[column] = value;
          if (value === null || isCurrentEnvelope(ring, value)) continue;
          const slot = tokenAad(column, row.provider, row.provider_account_id);
          try {
            next[column] = encryptToken(ring, decryptToken(ring, value, slot), slot);
            rewritten++;
          } catch (e) {
            if (!isVpbError(e)) throw e;
            result.failures.push({ accountId: row.id, column, code: e.code });
          }
        }
        if (rewritten === 0) continue;
        await client.query(
          "update public.accounts set refresh_token = $2, access_token = $3, id_token = $4 where id = $1",
          [row.id, next.refresh_token, next.access_token, next.id_token],
        );
        result.accountsRewritten++;
        result.tokensRewritten += rewritten;
      }
      await client.query("commit");
      options.onProgress?.(result.accountsRewritten);
      if (rows.length < batchSize) return result;
      after = (rows.at(-1) as AccountTokens).id;
    } catch (e) {
      await client.query("rollback").catch(() => {});
      throw e;
    }
  }
}
