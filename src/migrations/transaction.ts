import type pg from "pg";

/** Runs `fn` between BEGIN and COMMIT; any error rolls back and is rethrown as it was. */
export async function withTransaction<T>(client: pg.Client, fn: () => Promise<T>): Promise<T> {
  await client.query("begin");
  try {
    const result = await fn();
    await client.query("commit");
    return result;
  } catch (e) {
    await client.query("rollback").catch(() => {});
    throw e;
  }
}

/**
 * Proves that the transaction the migration runs in is still open: SAVEPOINT fails outside a
 * transaction block (25P01), so a statement that ended it (committing what came before) is caught
 * before the migration would be recorded.
 */
export async function assertTransactionOpen(client: pg.Client): Promise<void> {
  await client.query("savepoint vpb_migrate_still_open");
  await client.query("release savepoint vpb_migrate_still_open");
}
