import os from "node:os";
import pg from "pg";
import { VpbError } from "../errors.ts";
import { listTables, pinSession } from "./export-format.ts";
import { digestTables, type TableDigest } from "./table-digests.ts";
import { archiveCurrentWal } from "./wal-archive.ts";

export type { TableDigest } from "./table-digests.ts";

/**
 * A point in the WAL where the app's tables are exactly as a snapshot saw them: a named restore point
 * (`recovery_target_name`), the segment holding it (archived), and every table's digest in that
 * snapshot. `backup verify` marks one on the live database, recovers the backup to it and compares.
 * Backups of vpb-db versions before that carry one in their manifest, marked after their end.
 */
export interface ConsistentPoint {
  name: string;
  lsn: string;
  /** The WAL segment that holds the restore point: recovery to it needs the archive up to here. */
  wal: string;
  /** The database the digests are of (the marking connection's). */
  database: string;
  /** By schema-qualified table name (as the export's manifest names them). */
  tables: Record<string, TableDigest>;
}

/** A point marked and archived, its snapshot held open until `digests` has computed every table's. */
export interface MarkedPoint {
  point: Omit<ConsistentPoint, "tables">;
  /** Every app table's digest in the point's snapshot; the snapshot's connections end with it. */
  digests: Promise<Record<string, TableDigest>>;
}

/** The restore point's name for a verification of backup `backupId` at `at`: unique, and names both. */
export function verifyPointName(backupId: string, at: Date): string {
  return `vpb-verify-${backupId}-${at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}`;
}

const LOCK_NOT_AVAILABLE = "55P03";
const LOCK_TIMEOUT_MS = 500;
const ATTEMPTS = 20;

/**
 * Marks a consistent point named `name` on the server of `client`. The WAL's own positions are no
 * snapshot (replay ends mid-flight for every open transaction), so one is made: `client` takes SHARE
 * locks on the app's tables in one short transaction, which waits only for the writers in flight
 * (lock_timeout, retried, so new writers queue behind it for at most that long); while no transaction
 * can hold a write on those tables, a second connection starts a REPEATABLE READ snapshot and the
 * restore point is written, so the snapshot and the WAL up to the restore point hold the same
 * committed rows. The locks are released (a write pause of milliseconds); the digests start in the
 * snapshot (`connections` connections sharing it, each table split in parts) and go on after this
 * returns, which it does once the segment holding the restore point is switched and archived.
 */
export async function markConsistentPoint(
  client: pg.Client,
  name: string,
  connections = Math.min(Math.max(os.availableParallelism(), 2), 8),
): Promise<MarkedPoint> {
  const tables = await listTables(client);
  const readers: pg.Client[] = [];
  const open = async () => {
    const c = new pg.Client({
      host: client.host,
      port: client.port,
      ...(client.user !== undefined ? { user: client.user } : {}),
      ...(client.database !== undefined ? { database: client.database } : {}),
      ...(client.password !== undefined ? { password: client.password } : {}),
      ssl: client.ssl,
      application_name: "vpb-db verify digests",
    });
    c.on("error", () => {});
    readers.push(c);
    await c.connect();
    await pinSession(c);
    return c;
  };
  const close = async () => {
    for (const c of readers) await c.end().catch(() => {});
  };
  try {
    const reader = await open();
    let snapshot = "";
    let point: { lsn: string; wal: string; database: string } | undefined;
    for (let attempt = 1; !point; attempt++) {
      await client.query("begin");
      try {
        await client.query(`set local lock_timeout = ${LOCK_TIMEOUT_MS}`);
        if (tables.length > 0)
          await client.query(`lock table ${tables.map((t) => t.name).join(", ")} in share mode`);
        await reader.query("begin isolation level repeatable read, read only");
        // The snapshot is taken by the transaction's first query, while the locks are held; exported
        // so that the other digest connections compute in it too.
        const { rows: snap } = await reader.query<{ id: string }>("select pg_export_snapshot() as id");
        snapshot = snap[0]?.id ?? "";
        const { rows } = await client.query<{ lsn: string; wal: string; database: string }>(
          `select lsn::text, pg_walfile_name(lsn) as wal, current_database() as database
             from pg_create_restore_point($1) as lsn`,
          [name],
        );
        await client.query("commit");
        point = rows[0];
        if (!point) throw new Error("pg_create_restore_point returned no row");
      } catch (e) {
        await client.query("rollback").catch(() => {});
        await reader.query("rollback").catch(() => {});
        if ((e as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw e;
        if (attempt >= ATTEMPTS) {
          throw new VpbError(
            "BACKUP_LOCK_TIMEOUT",
            `backup verify could not mark its consistent point: writers held the app's tables through ${ATTEMPTS} tries of ${LOCK_TIMEOUT_MS} ms.`,
            "Run the verification again when long write transactions are done (pg_stat_activity shows them).",
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
    // Connections of the one snapshot take the tables' parts in turn (see digestTables). Their own
    // parallel workers would only crowd the same cores.
    while (readers.length < Math.max(1, connections)) {
      const c = await open();
      await c.query("begin isolation level repeatable read, read only");
      await c.query(`set transaction snapshot '${snapshot.replaceAll("'", "''")}'`);
    }
    for (const c of readers) await c.query("set local max_parallel_workers_per_gather = 0");
    const digests = (async () => {
      try {
        const result = await digestTables(readers, tables);
        for (const c of readers) await c.query("commit");
        return result;
      } finally {
        await close();
      }
    })();
    digests.catch(() => {}); // the caller awaits it; a failure before then must not go unhandled
    if (!(await archiveCurrentWal(client))) {
      throw new VpbError(
        "BACKUP_ARCHIVE_STALLED",
        `The WAL segment ${point.wal} holding backup verify's consistent point was not archived within a minute.`,
        "Check the server log for archive failures (a missing or unwritable archive folder), then run the verification again.",
      );
    }
    return { point: { name, ...point }, digests };
  } catch (e) {
    await close();
    throw e;
  }
}
