import { chown, mkdir, open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { VpbError } from "../errors.ts";

/**
 * Server settings that archive every completed WAL segment into `walDir` with PostgreSQL's own
 * `basic_archive` module (it writes to a temporary file and renames, so a crash leaves no half segment).
 * `archive_timeout` bounds the data a lost disk can take with it to that many seconds of commits.
 */
export function archiveSettings(walDir: string, timeoutSeconds = 300): Record<string, string> {
  return {
    archive_mode: "on",
    archive_library: "basic_archive",
    "basic_archive.archive_directory": walDir,
    archive_timeout: `${timeoutSeconds}s`,
  };
}

/**
 * Creates the archive folder (and the backup folder holding it), owned by the server's OS user: a
 * missing or unwritable archive folder makes PostgreSQL retry silently instead of failing.
 */
export async function prepareArchiveDir(walDir: string, owner?: { uid: number; gid: number }): Promise<void> {
  await mkdir(walDir, { recursive: true, mode: 0o700 });
  if (owner) {
    await chown(path.dirname(walDir), owner.uid, owner.gid);
    await chown(walDir, owner.uid, owner.gid);
  }
}

/** The uid and gid that own `dir` when this process is root (then the server runs as that user). */
export async function ownerWhenRoot(dir: string): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const s = await stat(dir);
  return { uid: s.uid, gid: s.gid };
}

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
/** Segments per 4 GB "log id" for the default 16 MB segment size. */
const PER_LOG = 0x100;

function segmentNumber(name: string): { timeline: number; n: number } | undefined {
  const m = SEGMENT.exec(name);
  if (!m) return undefined;
  return {
    timeline: Number.parseInt(m[1] as string, 16),
    n: Number.parseInt(m[2] as string, 16) * PER_LOG + Number.parseInt(m[3] as string, 16),
  };
}

function segmentName(timeline: number, n: number): string {
  const hex = (v: number) => v.toString(16).toUpperCase().padStart(8, "0");
  return `${hex(timeline)}${hex(Math.floor(n / PER_LOG))}${hex(n % PER_LOG)}`;
}

/**
 * Checks that the archive holds every segment from `fromWal` to `toWal` and returns the last segment
 * of the unbroken run after it. Recovery without a target promotes silently at the first missing
 * segment (losing what follows), so a gap is refused here, by name, before any restore starts.
 */
export async function checkArchive(walDir: string, fromWal: string, toWal: string): Promise<string> {
  const from = segmentNumber(fromWal);
  const to = segmentNumber(toWal);
  if (!from || !to) throw new Error(`not WAL segment names: ${fromWal}, ${toWal}`);
  const present = new Set<number>();
  for (const name of await readdir(walDir).catch(() => [] as string[])) {
    const seg = segmentNumber(name);
    if (seg && seg.timeline === from.timeline) present.add(seg.n);
  }
  for (let n = from.n; n <= to.n; n++) {
    if (!present.has(n)) {
      throw new VpbError(
        "WAL_MISSING",
        `The WAL archive ${walDir} lacks segment ${segmentName(from.timeline, n)}, which the base backup needs (${fromWal} to ${toWal}).`,
        "The backup cannot be restored: take a new base backup (`vpb-db backup`), and check that archiving works (the server log names archive failures).",
      );
    }
  }
  let last = to.n;
  while (present.has(last + 1)) last++;
  const beyond = [...present].filter((n) => n > last);
  if (beyond.length > 0) {
    throw new VpbError(
      "WAL_MISSING",
      `The WAL archive ${walDir} lacks segment ${segmentName(from.timeline, last + 1)} while later ones exist: recovery would stop there and lose what follows.`,
      "Restore to a time before the gap with --to, or take a new base backup; check the server log for archive failures.",
    );
  }
  return segmentName(from.timeline, last);
}

/**
 * Closes the server's open WAL segment (pg_switch_wal) and waits until the archiver has stored it, so
 * that a restore reaches the newest commits; returns false if it was not archived within `timeoutMs`.
 */
export async function archiveCurrentWal(client: import("pg").Client, timeoutMs = 60_000): Promise<boolean> {
  // The switch returns the end of the segment it closed (the next one's first byte: minus one names the
  // closed one), or, when the open segment is still empty, its start: then the one before is the last.
  const { rows } = await client.query<{ wal: string }>("select pg_walfile_name(pg_switch_wal() - 1) as wal");
  const wal = rows[0]?.wal ?? "";
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    const { rows: a } = await client.query<{ last: string | null }>(
      "select last_archived_wal as last from pg_stat_archiver",
    );
    if ((a[0]?.last ?? "") >= wal) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/**
 * The database system a WAL segment belongs to: the system identifier in its first page's long header
 * (XLogLongPageHeaderData.xlp_sysid, little-endian at byte 24), as pg_control_system() reports it;
 * undefined when the file is missing or too short.
 */
export async function segmentSystemId(file: string): Promise<string | undefined> {
  let handle: import("node:fs/promises").FileHandle;
  try {
    handle = await open(file, "r");
  } catch {
    return undefined;
  }
  try {
    const header = Buffer.alloc(32);
    const { bytesRead } = await handle.read(header, 0, 32, 0);
    return bytesRead === 32 ? header.readBigUInt64LE(24).toString() : undefined;
  } finally {
    await handle.close();
  }
}
