import fs from "node:fs/promises";
import path from "node:path";
import { backupPaths, listBackups, MANIFEST, type Manifest } from "./backup-layout.ts";
import { removeAbandonedPartials } from "./base-backup.ts";
import { readVerification } from "./verify.ts";

export interface PruneOptions {
  backupDir: string;
  /** Days of backups to keep: the newest backup of each of the `keepDays` most recent days that have one. */
  keepDays: number;
  /** Say what would go, remove nothing. */
  dryRun?: boolean;
}

export interface PrunePlan {
  /** Backups kept, oldest first, and why each is kept. */
  keep: { id: string; why: string }[];
  /** Backups removed (or, with dryRun, that would be). */
  remove: string[];
  /** WAL segments older than what the oldest kept backup needs. */
  walRemove: string[];
  bytesFreed: number;
  dryRun: boolean;
}

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.[0-9A-F]{8}\.backup|\.partial)?$/;

/** A segment's place in the WAL, whatever its timeline; undefined for other files (.history). */
function walPosition(name: string): number | undefined {
  const m = SEGMENT.exec(name);
  if (!m) return undefined;
  return Number.parseInt(m[2] as string, 16) * 0x100 + Number.parseInt(m[3] as string, 16);
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile())
      total += (
        await fs.stat(path.join(entry.parentPath ?? entry.path, entry.name)).catch(() => ({ size: 0 }))
      ).size;
  }
  return total;
}

/**
 * Retention: keeps the newest base backup of each of the `keepDays` most recent days that have one
 * (days in UTC), plus the newest backup whose verification passed when none of those has, so the only
 * verified backup is never pruned; removes every other backup and the WAL segments older than the
 * oldest kept backup's start (timeline history files are always kept). Counting days that have a
 * backup, not calendar days, means a scheduler that stopped for a week does not prune everything.
 * A backup is removed manifest first, so a prune cut short never leaves something taken for a backup.
 * The scheduler calls this; `vpb-db backup prune` is the same.
 */
export async function pruneBackups(options: PruneOptions): Promise<PrunePlan> {
  const dryRun = options.dryRun ?? false;
  const { base, wal } = backupPaths(options.backupDir);
  if (!dryRun) await removeAbandonedPartials(options.backupDir);
  const all = await listBackups(options.backupDir);
  const keep = new Map<string, string>();
  const newestOfDay = new Map<string, Manifest>();
  for (const m of all) newestOfDay.set(m.startedAt.slice(0, 10), m); // oldest first: the last one wins
  const days = [...newestOfDay.keys()].sort().reverse().slice(0, options.keepDays);
  for (const day of days) keep.set((newestOfDay.get(day) as Manifest).id, `newest of ${day}`);

  const verified: string[] = [];
  for (const m of all) if ((await readVerification(options.backupDir, m.id))?.ok) verified.push(m.id);
  if (!verified.some((id) => keep.has(id))) {
    const last = verified.at(-1);
    if (last) keep.set(last, "the newest verified backup");
  }
  const remove = all.filter((m) => !keep.has(m.id)).map((m) => m.id);

  const oldestKept = all.find((m) => keep.has(m.id));
  const from = oldestKept ? walPosition(oldestKept.startWal) : undefined;
  const walRemove =
    from === undefined
      ? []
      : (await fs.readdir(wal).catch(() => [] as string[]))
          .filter((name) => {
            const at = walPosition(name);
            return at !== undefined && at < from;
          })
          .sort();

  let bytesFreed = 0;
  for (const id of remove) bytesFreed += await folderBytes(path.join(base, id));
  for (const name of walRemove)
    bytesFreed += (await fs.stat(path.join(wal, name)).catch(() => ({ size: 0 }))).size;

  if (!dryRun) {
    for (const id of remove) {
      await fs.rm(path.join(base, id, MANIFEST), { force: true });
      await fs.rm(path.join(base, id), { recursive: true, force: true });
    }
    for (const name of walRemove) await fs.rm(path.join(wal, name), { force: true });
  }
  return {
    keep: all.filter((m) => keep.has(m.id)).map((m) => ({ id: m.id, why: keep.get(m.id) as string })),
    remove,
    walRemove,
    bytesFreed,
    dryRun,
  };
}
