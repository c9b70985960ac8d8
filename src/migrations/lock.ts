import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { VpbError } from "../errors.ts";

/** The advisory lock key of migration runs: 'vpb_mig' as a bigint, shared by every vpb-db version. */
export const MIGRATION_LOCK_KEY = "33337615061969255";

/**
 * Takes the session-level migration lock, retrying with growing pauses until `waitMs` has passed,
 * so that concurrent runs serialise instead of failing. The caller releases it with `releaseLock`.
 */
export async function acquireLock(
  client: pg.Client,
  waitMs: number,
  onWait?: (holderPid: number | undefined) => void,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  let pause = 50;
  let told = false;
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>("select pg_try_advisory_lock($1::bigint) as ok", [
      MIGRATION_LOCK_KEY,
    ]);
    if (rows[0]?.ok) return;
    const holder = await lockHolder(client);
    if (!told) {
      onWait?.(holder);
      told = true;
    }
    if (Date.now() >= deadline) {
      throw new VpbError(
        "LOCK_TIMEOUT",
        `Another migration run${holder ? ` (backend pid ${holder})` : ""} held the migration lock for the whole ${waitMs} ms wait.`,
        "Wait for it to finish, or raise VPB_MIGRATION_LOCK_WAIT; pg_stat_activity shows what it runs.",
      );
    }
    await sleep(Math.min(pause, Math.max(0, deadline - Date.now())) + Math.random() * 25);
    pause = Math.min(pause * 2, 1000);
  }
}

export async function releaseLock(client: pg.Client): Promise<void> {
  await client.query("select pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]);
}

async function lockHolder(client: pg.Client): Promise<number | undefined> {
  // A bigint key is stored as two 32-bit halves: classid the high part, objid the low part.
  const { rows } = await client.query<{ pid: number }>(
    `select pid from pg_locks
      where locktype = 'advisory' and granted and objsubid = 1
        and classid::bigint = ($1::bigint >> 32) and objid::bigint = ($1::bigint & 4294967295)
        and database = (select oid from pg_database where datname = current_database())
      limit 1`,
    [MIGRATION_LOCK_KEY],
  );
  return rows[0]?.pid;
}
