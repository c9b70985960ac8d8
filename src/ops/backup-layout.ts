import fs from "node:fs/promises";
import path from "node:path";
import { VpbError } from "../errors.ts";
import type { ChecksumAlgorithm } from "./checksum.ts";
import type { ConsistentPoint } from "./consistent-point.ts";

/**
 * The backup folder: `base/<id>/` holds one base backup (data files, backup_label, manifest.json),
 * `wal/` the archived WAL segments. A base backup is written to `base/<id>.partial/` and renamed
 * only once complete, so nothing half-done is ever taken for a backup.
 */
export function backupPaths(backupDir: string) {
  return { base: path.join(backupDir, "base"), wal: path.join(backupDir, "wal") };
}

/** A copied file: its checksum under the manifest's algorithm's name (`crc32`, or `sha256`). */
export interface ManifestFile {
  path: string;
  size: number;
  crc32?: string;
  sha256?: string;
}

export interface Manifest {
  version: 1;
  id: string;
  /** PostgreSQL major of the server the files belong to: only its binaries can restore them. */
  major: number;
  timeline: number;
  startLsn: string;
  stopLsn: string;
  /** First and last WAL segment recovery needs to reach a consistent state. */
  startWal: string;
  stopWal: string;
  startedAt: string;
  stoppedAt: string;
  /** Folders to recreate, including those whose contents are skipped (pg_wal, pg_notify, ...). */
  directories: string[];
  /** The algorithm of every file's checksum; absent in older manifests, which are all sha256. */
  checksum?: ChecksumAlgorithm;
  files: ManifestFile[];
  /**
   * The source's settings that recovery requires at least as high (max_connections and the like:
   * PostgreSQL aborts a recovery with lower ones); a restore starts with them.
   */
  recoverySettings?: Record<string, string>;
  /**
   * A restore point after the backup's end and the app tables' digests as of it: written by the
   * vpb-db versions whose backup marked it (`backup verify` without a live connection compares them);
   * absent in older and newer backups (verify now marks its own point). `stoppedAt` is the backup's end.
   */
  consistentPoint?: ConsistentPoint;
}

/** Settings a server replaying WAL must have at least as high as the server that wrote it. */
export const RECOVERY_SETTINGS = [
  "max_connections",
  "max_worker_processes",
  "max_wal_senders",
  "max_prepared_transactions",
  "max_locks_per_transaction",
] as const;

export const MANIFEST = "manifest.json";

/** The complete base backups, oldest first (ids are UTC timestamps, so they sort by time). */
export async function listBackups(backupDir: string): Promise<Manifest[]> {
  const { base } = backupPaths(backupDir);
  let names: string[];
  try {
    names = await fs.readdir(base);
  } catch {
    return [];
  }
  const manifests: Manifest[] = [];
  for (const name of names.filter((n) => !n.endsWith(".partial")).sort()) {
    try {
      manifests.push(JSON.parse(await fs.readFile(path.join(base, name, MANIFEST), "utf8")) as Manifest);
    } catch {
      // No readable manifest: not a complete backup.
    }
  }
  return manifests;
}

/** BACKUP_NOT_FOUND, with a remedy that fits: no backup at all, or none of those there (`existing`) fits. */
export function noBackup(backupDir: string, why: string, existing: readonly Manifest[] = []): VpbError {
  const oldest = existing[0];
  return new VpbError(
    "BACKUP_NOT_FOUND",
    `No base backup in ${backupDir}${why ? ` ${why}` : ""}.`,
    oldest
      ? `The oldest of the ${existing.length} backups there (${oldest.id}) ended at ${oldest.stoppedAt}: choose a later --to, or name one with --backup ID.`
      : "Run `vpb-db backup` first, or point VPB_BACKUP_DIR at the folder that holds the backups.",
  );
}
