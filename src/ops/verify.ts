import fs from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { VpbError } from "../errors.ts";
import { backupPaths } from "./backup-layout.ts";
import { restoreBackup } from "./restore.ts";
import { ownerWhenRoot } from "./wal-archive.ts";

export interface VerifyOptions {
  backupDir: string;
  binDir: string;
  /** The major of those binaries. */
  major: number;
  /** Which base backup; the newest by default. */
  backupId?: string;
  urlFor: (port: number) => string;
  onProgress?: (line: string) => void;
}

export interface VerifyResult {
  backupId: string;
  restoreMs: number;
  /** Row count of every table in the restored copy, by schema-qualified name. */
  tables: Record<string, number>;
  indexesChecked: number;
}

/**
 * Proves a base backup restorable: restores it (every file checked against its sha256, the archived
 * WAL from its start to its end checked for gaps) into a scratch folder on a free port, recovering
 * only to the backup's own consistent point, then runs amcheck's bt_index_check on every B-tree index
 * and counts every table's rows. The scratch server and folder are removed whatever happens.
 */
export async function verifyBackup(options: VerifyOptions): Promise<VerifyResult> {
  const scratch = await fs.mkdtemp(path.join(options.backupDir, ".verify-"));
  const pgData = path.join(scratch, "data");
  // As root the restored server runs as the archive's owner, which must be able to enter the folder.
  const owner = await ownerWhenRoot(backupPaths(options.backupDir).wal);
  if (owner) await fs.chown(scratch, owner.uid, owner.gid);
  try {
    const restored = await restoreBackup({
      backupDir: options.backupDir,
      pgData,
      logFile: path.join(scratch, "postgres.log"),
      binDir: options.binDir,
      major: options.major,
      target: { immediate: true },
      // The copy is thrown away: durability would only slow the check.
      settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
      ...(options.backupId ? { backupId: options.backupId } : {}),
      urlFor: options.urlFor,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    try {
      const tables: Record<string, number> = {};
      let indexesChecked = 0;
      const { rows: dbs } = await withClient(restored.url, (c) =>
        c.query<{ datname: string }>("select datname from pg_database where datallowconn order by datname"),
      );
      for (const { datname } of dbs) {
        const url = new URL(restored.url);
        url.pathname = `/${encodeURIComponent(datname)}`;
        await withClient(url.toString(), async (c) => {
          await c.query("create extension if not exists amcheck");
          const { rows: indexes } = await c.query<{ oid: number; name: string }>(
            `select i.indexrelid::int as oid, i.indexrelid::regclass::text as name
               from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am a on a.oid = c.relam
              where a.amname = 'btree' and i.indisvalid and c.relpersistence <> 't'`,
          );
          for (const index of indexes) {
            try {
              await c.query("select bt_index_check($1::regclass, true)", [index.oid]);
            } catch (cause) {
              throw new VpbError(
                "VERIFY_FAILED",
                `Index ${index.name} in database ${datname} of backup ${restored.backup.id} fails amcheck: ${(cause as Error).message}`,
                "Do not rely on this backup: restore from an older one and take a new base backup.",
                { cause },
              );
            }
            indexesChecked++;
          }
          const { rows: rels } = await c.query<{ name: string }>(
            `select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and c.relpersistence = 'p'
              order by 1`,
          );
          for (const rel of rels) {
            const { rows } = await c.query<{ n: number }>(`select count(*)::int as n from ${rel.name}`);
            tables[`${datname}:${rel.name}`] = rows[0]?.n ?? 0;
          }
        });
      }
      return {
        backupId: restored.backup.id,
        restoreMs: restored.copyMs + restored.recoveryMs,
        tables,
        indexesChecked,
      };
    } finally {
      restored.stop();
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "vpb-db backup verify" });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
