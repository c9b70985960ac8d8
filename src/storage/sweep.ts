import { VpbError } from "../errors.ts";
import { type Actor, inTransaction, type Runner } from "../sdk/db.ts";
import type { StorageDriver } from "./drivers/driver.ts";

const SERVICE: Actor = { role: "service_role", userId: undefined };

export interface SweepReport {
  /** Entries of private.storage_deletions settled (their files removed with the orphans). */
  queued: number;
  /** Files no storage.objects row names (deleted projects and users, failed replacements). */
  orphanFiles: number;
  /** storage.objects rows whose file is gone; removed, since nothing can serve them. */
  orphanRows: number;
  /** Temporary uploads left by a crash. */
  tempFiles: number;
}

/**
 * Reconciles the files with storage.objects. Only what is older than `graceMs` is touched: a file is
 * renamed into place just before its row commits and a temporary file grows while its upload runs,
 * so younger ones may belong to an upload in flight. Files are named by version, and a row names its
 * version, so an orphan is a file no row names: the queue of migration 009 needs no lookup, and its
 * entries older than the grace are settled by the same pass.
 */
export async function sweepStorage(
  runner: Runner,
  driver: StorageDriver,
  options: {
    graceMs: number;
    /** Remove the rows of missing files even when most are missing (the files are known to be lost). */
    forceMissing?: boolean;
  },
): Promise<SweepReport> {
  const cutoff = new Date(Date.now() - options.graceMs);
  const tempFiles = await driver.removeStaleTemp(cutoff);
  const service = <T>(what: string, fn: Parameters<typeof inTransaction<T>>[3]) =>
    inTransaction(runner, SERVICE, what, fn, false);

  const rows = await service("storage sweep rows", async (tx) => {
    const { rows } = await tx.query<{ key: string }>(
      "select bucket_id || '/' || version as key from storage.objects where version is not null",
    );
    return new Set(rows.map((r) => r.key));
  });
  const listed = new Set<string>();
  const unnamed: string[] = [];
  for await (const file of driver.list()) {
    listed.add(file.key);
    if (!rows.has(file.key) && file.modified < cutoff) unnamed.push(file.key);
  }
  // A storage that holds none or few of the rows' files is far more often the wrong place (a data
  // folder restored without its storage/, another S3 prefix) than files all lost: nothing is removed
  // then, files or rows, unless the caller knows the files are gone.
  const missing = [...rows].filter((k) => !listed.has(k));
  if (
    missing.length > 0 &&
    !options.forceMissing &&
    (listed.size === 0 || missing.length > Math.max(10, rows.size / 2))
  ) {
    throw new VpbError(
      "STORAGE_SWEEP_REFUSED",
      `${missing.length} of ${rows.size} storage.objects rows have no file in the storage, which holds ${listed.size} files: it looks missing or misconfigured rather than emptied, so nothing was removed.`,
      "Check that VPB_DATA_DIR (its storage/ folder) or the VPB_S3_* settings point at the files; if they are really lost, `vpb-db storage sweep --force-missing` removes their rows.",
    );
  }
  // Asked again just before deleting: a row committed since the first read keeps its file.
  const orphans = unnamed.length
    ? await service("storage sweep recheck", async (tx) => {
        const { rows: named } = await tx.query<{ key: string }>(
          "select bucket_id || '/' || version as key from storage.objects " +
            "where bucket_id || '/' || version = any($1::text[])",
          [unnamed],
        );
        const keep = new Set(named.map((r) => r.key));
        return unnamed.filter((k) => !keep.has(k));
      })
    : [];
  for (let i = 0; i < orphans.length; i += 1000) await driver.delete(orphans.slice(i, i + 1000));

  const settled = await service("storage sweep settle", async (tx) => {
    // The version must still be the one whose file is missing: a replacement since then has a file.
    await tx.query("select set_config('storage.allow_delete_query', 'true', true)");
    const gone = missing.length
      ? await tx.query(
          "delete from storage.objects where bucket_id || '/' || version = any($1::text[]) " +
            "and coalesce(updated_at, created_at) < $2",
          [missing, cutoff],
        )
      : { rowCount: 0 };
    const queued = await tx.query("delete from private.storage_deletions where queued_at < $1", [cutoff]);
    return { orphanRows: gone.rowCount ?? 0, queued: queued.rowCount ?? 0 };
  });
  return { queued: settled.queued, orphanFiles: orphans.length, orphanRows: settled.orphanRows, tempFiles };
}
