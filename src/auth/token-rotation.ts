import type pg from "pg";
import { decryptToken, encryptToken, envelopeKeyId, type KeyRing, tokenAad } from "./token-cipher.ts";

export const TOKEN_COLUMNS = ["refresh_token", "access_token", "id_token"] as const;

export interface RotationResult {
  /** Accounts that had at least one token under an old key. */
  accountsRewritten: number;
  tokensRewritten: number;
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
 * Re-encrypts every OAuth token not under the ring's current key, in batches, each batch in its own
 * transaction (rows locked, so a concurrent sign-in waits rather than loses its write). Run it after
 * putting a new key first in VPB_TOKEN_KEYS; afterwards the old key can be removed.
 */
export async function rotateTokenKeys(
  client: pg.Client,
  ring: KeyRing,
  options: { batchSize?: number; onProgress?: (done: number) => void } = {},
): Promise<RotationResult> {
  const batchSize = options.batchSize ?? 500;
  const prefix = `v1.${ring.current}.`;
  const result: RotationResult = { accountsRewritten: 0, tokensRewritten: 0 };
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    await client.query("begin");
    try {
      const { rows } = await client.query<AccountTokens>(
        `select id, provider, provider_account_id, refresh_token, access_token, id_token
           from public.accounts
          where id > $1 and (left(refresh_token, $2) <> $3 or left(access_token, $2) <> $3 or left(id_token, $2) <> $3)
          order by id limit $4 for update`,
        [after, prefix.length, prefix, batchSize],
      );
      for (const row of rows) {
        const next: Record<string, string | null> = {};
        for (const column of TOKEN_COLUMNS) {
          const value = row[column];
          if (value === null || envelopeKeyId(value) === ring.current) {
            next[column] = value;
            continue;
          }
          const aad = tokenAad(column, row.provider, row.provider_account_id);
          next[column] = encryptToken(ring, decryptToken(ring, value, aad), aad);
          result.tokensRewritten++;
        }
        await client.query(
          "update public.accounts set refresh_token = $2, access_token = $3, id_token = $4 where id = $1",
          [row.id, next.refresh_token, next.access_token, next.id_token],
        );
        result.accountsRewritten++;
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
