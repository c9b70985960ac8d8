import { existsSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type pg from "pg";
import { currentProcess, type ProcessId, stillRuns } from "../db/process-identity.ts";
import { VpbError } from "../errors.ts";
import {
  backupPaths,
  MANIFEST,
  type Manifest,
  type ManifestFile,
  RECOVERY_SETTINGS,
} from "./backup-layout.ts";
import { type ChecksumAlgorithm, DEFAULT_CHECKSUM } from "./checksum.ts";
import { copyChecksummed, mapConcurrent } from "./file-copy.ts";
import { byteCounter, ignoreProgress, type OnProgress } from "./progress.ts";
import { segmentSystemId } from "./wal-archive.ts";

/**
 * What PostgreSQL's documentation ("Making a Base Backup Using the Low Level API") says not to copy:
 * the contents of these folders (the folders themselves are recreated empty), and these files anywhere.
 */
const SKIP_CONTENTS = new Set([
  "pg_wal",
  "pg_dynshmem",
  "pg_notify",
  "pg_replslot",
  "pg_serial",
  "pg_snapshots",
  "pg_stat_tmp",
  "pg_subtrans",
]);
const SKIP_FILES = new Set([
  "postmaster.pid",
  "postmaster.opts",
  "backup_label",
  "tablespace_map",
  "backup_manifest",
  "recovery.signal",
  "standby.signal",
  "pg_internal.init",
]);

export interface BackupOptions {
  /** A superuser connection to the server whose data folder is `pgData`. */
  client: pg.Client;
  pgData: string;
  backupDir: string;
  /** Every file's checksum in the manifest: CRC-32 by default, sha256 on request (see checksum.ts). */
  checksum?: ChecksumAlgorithm;
  onProgress?: OnProgress;
  /** Give up when the archiver has stored nothing for this long while the backup's WAL waits (default 5 min). */
  archiveStallMs?: number;
}

/**
 * Makes the copied files durable before the manifest is written. The fsyncs run 32 at a time: the
 * file system commits its journal once for many of them, so 1,000 files took 0.7-1.0 s here against
 * 10 s one after another (a syncfs of the whole file system costs as much and flushes others' writes).
 */
async function flushToDisk(folder: string, files: string[]): Promise<void> {
  await mapConcurrent(files, 32, (file) => syncFile(path.join(folder, file)));
}

async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Files from this size are flushed as soon as they are copied, by their copy's worker: the disk writes
 * them while the other workers copy, instead of all the data waiting in the page cache for one flush at
 * the end (which took as long as the copy itself). Smaller ones, thousands of them, are flushed
 * together at the end, where one journal commit covers many.
 */
const FLUSH_AT_ONCE = 1 << 20;

/**
 * Waits until the archiver has stored every WAL file in `names`: the check pg_backup_stop(true) makes
 * (XLogArchiveIsBusy on the server's archive_status files), every 10 ms instead of every second.
 * Gives up when the archiver stores nothing for `stallMs` (a failing archive; pg_backup_stop would wait forever).
 */
async function waitForArchive(
  client: pg.Client,
  pgData: string,
  names: string[],
  stallMs: number,
): Promise<void> {
  const walDir = path.join(pgData, "pg_wal");
  const status = path.join(walDir, "archive_status");
  if (!existsSync(status) || names.some((n) => !n)) throw new Error(`cannot watch ${status} for ${names}`);
  const has = (name: string, suffix: string) => existsSync(path.join(status, `${name}${suffix}`));
  const archived = (name: string) =>
    has(name, ".done") ||
    (!has(name, ".ready") && (has(name, ".done") || !existsSync(path.join(walDir, name))));
  const archivedCount = async () =>
    (await client.query<{ n: string }>("select archived_count::text as n from pg_stat_archiver")).rows[0]?.n;
  let count = await archivedCount();
  let progressAt = Date.now();
  for (let polls = 1; !names.every(archived); polls++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (polls % 100 !== 0) continue;
    const now = await archivedCount();
    if (now !== count) {
      count = now;
      progressAt = Date.now();
    } else if (Date.now() - progressAt >= stallMs) {
      const { rows } = await client.query<{ failed: string | null }>(
        "select last_failed_wal as failed from pg_stat_archiver",
      );
      throw new VpbError(
        "BACKUP_ARCHIVE_STALLED",
        `The WAL the backup needs (${names.join(", ")}) was not archived: the archiver stored nothing for ${Math.round(stallMs / 1000)} s${rows[0]?.failed ? ` and last failed on ${rows[0].failed}` : ""}.`,
        "Check the server log for archive failures (a missing or unwritable archive folder), then take the backup again.",
      );
    }
  }
}

/**
 * Checks that the server archived the backup's last segment into this backup folder's `wal/`: a server
 * that archives elsewhere (DATABASE_URL naming another vpb-db's server, say) would leave a backup no
 * restore can complete, and a same-named segment of another server there would pass for its WAL.
 */
async function checkArchivedHere(client: pg.Client, walDir: string, segment: string): Promise<void> {
  const { rows } = await client.query<{ id: string }>(
    "select system_identifier::text as id from pg_control_system()",
  );
  const server = rows[0]?.id;
  const archived = await segmentSystemId(path.join(walDir, segment));
  if (archived === server) return;
  throw new VpbError(
    "BACKUP_ARCHIVE_ELSEWHERE",
    archived === undefined
      ? `The server archived ${segment}, but not into ${walDir}: it archives its WAL somewhere else, so a backup here could not be restored.`
      : `${walDir} holds a segment ${segment} of another database system (${archived}; this server is ${server}): the server archives its WAL somewhere else.`,
    "Point VPB_BACKUP_DIR at the backup folder whose wal/ the server archives into (`show basic_archive.archive_directory` names it), or back up the server with the vpb-db that started it.",
  );
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === "ENOENT";
}

/** A UTC timestamp usable as a folder name that sorts by time: 20261126T021500Z. */
function backupId(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/** Names the process writing a `.partial` folder, so a later run can tell a live backup from a killed one. */
const OWNER_FILE = ".vpb-owner";

/**
 * Removes the `.partial` folders of backups whose process is gone (killed, or its machine crashed):
 * they were never complete, and listBackups never took them for backups. A folder without an owner
 * file is left for a minute (its process may be about to write it).
 */
export async function removeAbandonedPartials(backupDir: string): Promise<string[]> {
  const { base } = backupPaths(backupDir);
  const names = await fs.readdir(base).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names.filter((n) => n.endsWith(".partial"))) {
    const folder = path.join(base, name);
    let owner: ProcessId | undefined;
    try {
      owner = JSON.parse(await fs.readFile(path.join(folder, OWNER_FILE), "utf8")) as ProcessId;
    } catch {
      const stat = await fs.stat(folder).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs < 60_000) continue;
    }
    if (owner && (await stillRuns(owner))) continue;
    await fs.rm(folder, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** fsync of a folder, so that a rename or new file in it survives a crash of the machine. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a file whole or not at all: to a temporary name, flushed, then renamed. */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await fs.writeFile(tmp, text, { mode: 0o600, flush: true });
  await fs.rename(tmp, file);
  await syncDir(path.dirname(file));
}

/**
 * Takes a base backup with the non-exclusive low-level API: pg_backup_start and pg_backup_stop on the
 * one connection `client`, kept open across the copy (closing it would abort the backup), every file
 * checksummed as copied, and a wait after pg_backup_stop until the WAL up to the stop point is archived.
 * Nothing more runs on the server: the tables' digests are `backup verify`'s, at a point it marks.
 *
 * Nothing half-done passes for a backup: the copy goes to `base/<id>.partial/`, every file is flushed
 * to disk (before the manifest), the manifest is written last (atomically), and only then is the folder renamed to
 * `base/<id>`. A run killed midway leaves a `.partial` folder, which the next run removes.
 */
export async function takeBaseBackup(options: BackupOptions): Promise<Manifest> {
  const { client, pgData, backupDir } = options;
  const progress = options.onProgress ?? ignoreProgress;
  const algorithm = options.checksum ?? DEFAULT_CHECKSUM;
  const { rows: conf } = await client.query<{
    mode: string;
    major: number;
    recovery: Record<string, string>;
  }>(
    `select current_setting('archive_mode') as mode, current_setting('server_version_num')::int / 10000 as major,
            (select jsonb_object_agg(name, setting) from pg_settings where name = any($1)) as recovery`,
    [RECOVERY_SETTINGS],
  );
  if (conf[0]?.mode === "off") {
    throw new VpbError(
      "BACKUP_ARCHIVING_OFF",
      "The server runs with archive_mode=off: a base backup without archived WAL cannot be restored.",
      "Restart the server with `vpb-db start` (it turns archiving on), or set archive_mode and an archive for an external server.",
    );
  }
  try {
    await fs.access(path.join(pgData, "PG_VERSION"));
  } catch (cause) {
    throw new VpbError(
      "BACKUP_NOT_LOCAL",
      `The data folder ${pgData} cannot be read by this process.`,
      "Run backup on the machine and as a user that can read the server's data folder.",
      { cause },
    );
  }
  for (const name of await removeAbandonedPartials(backupDir))
    progress({ kind: "note", text: `removed ${name}, left by a backup that did not finish` });
  const started = new Date();
  const { base } = backupPaths(backupDir);
  await fs.mkdir(base, { recursive: true, mode: 0o700 });
  // Ids are to the second: a second backup within the same second takes the next free one.
  let id = backupId(started);
  for (let n = 1; existsSync(path.join(base, id)) || existsSync(path.join(base, `${id}.partial`)); n++)
    id = backupId(new Date(started.getTime() + n * 1000));
  const partial = path.join(base, `${id}.partial`);
  await fs.mkdir(partial, { mode: 0o700 });
  await fs.writeFile(path.join(partial, OWNER_FILE), JSON.stringify(await currentProcess()));
  const inside = path.relative(pgData, path.resolve(backupDir));
  const backupInsideData = !inside.startsWith("..") && !path.isAbsolute(inside);

  await client.query("select pg_backup_start($1, true)", [`vpb-db ${id}`]);
  let stopped = false;
  try {
    // Listed first, so that progress can tell the total; files dropped meanwhile are skipped.
    const toCopy: { path: string; size: number }[] = [];
    const directories: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = await fs.readdir(path.join(pgData, rel), { withFileTypes: true });
      } catch (e) {
        if (isMissing(e)) return; // dropped meanwhile: WAL replay accounts for it
        throw e;
      }
      for (const entry of entries) {
        const relPath = rel ? `${rel}/${entry.name}` : entry.name;
        if (backupInsideData && path.resolve(pgData, relPath) === path.resolve(backupDir)) continue;
        if (entry.isDirectory()) {
          directories.push(relPath);
          if (!(rel === "" && SKIP_CONTENTS.has(entry.name)) && !entry.name.startsWith("pgsql_tmp"))
            await walk(relPath);
        } else if (entry.isSymbolicLink()) {
          throw new VpbError(
            "BACKUP_UNSUPPORTED",
            `The data folder holds a link (${relPath}): tablespaces and linked folders are not backed up yet.`,
            "Back up this server with pg_basebackup, or move the tablespace back into the data folder.",
          );
        } else if (entry.isFile() && !SKIP_FILES.has(entry.name) && !entry.name.startsWith("pgsql_tmp")) {
          // Synchronous: thousands of stats, each cheaper than a trip through the thread pool.
          const size = statSync(path.join(pgData, relPath), { throwIfNoEntry: false })?.size ?? 0;
          toCopy.push({ path: relPath, size });
        }
      }
    };
    await walk("");
    for (const dir of directories) await fs.mkdir(path.join(partial, dir), { recursive: true, mode: 0o700 });
    const counter = byteCounter(
      progress,
      "backup",
      toCopy.reduce((sum, f) => sum + f.size, 0),
    );
    // Four copies in flight: the reads and writes overlap each other and the hashing.
    const copied = await mapConcurrent(toCopy, 4, async (file): Promise<ManifestFile | undefined> => {
      try {
        const dest = path.join(partial, file.path);
        const c = await copyChecksummed(
          path.join(pgData, file.path),
          dest,
          algorithm,
          counter.add,
          file.size,
        );
        if (c.size >= FLUSH_AT_ONCE) await syncFile(dest);
        return { path: file.path, ...c };
      } catch (e) {
        if (!isMissing(e)) throw e;
        return undefined; // dropped meanwhile: WAL replay accounts for it
      }
    });
    const files = copied.filter((f): f is ManifestFile => f !== undefined);
    counter.end();
    // The small files are flushed while the server ends the backup and archives its WAL.
    const smallFlushed = flushToDisk(
      partial,
      files.filter((f) => f.size < FLUSH_AT_ONCE).map((f) => f.path),
    );
    smallFlushed.catch(() => {}); // awaited below; a failure before then must not go unhandled

    // Not pg_backup_stop(true): its wait for the archiver polls once a second, a second of this
    // command's ~4 s; waitForArchive makes the same check every 10 ms.
    const { rows } = await client.query<{
      lsn: string;
      labelfile: string;
      spcmapfile: string;
      stop_wal: string;
    }>(
      // lsn - 1: the segment holding the stop record's last byte, as the server's own wait names it.
      "select lsn::text, labelfile, spcmapfile, pg_walfile_name(lsn - 1) as stop_wal from pg_backup_stop(false)",
    );
    stopped = true;
    const stoppedAt = new Date();
    const stop = rows[0];
    if (!stop) throw new Error("pg_backup_stop returned no row");
    const label = (key: string) => new RegExp(`^${key}: (.*)$`, "m").exec(stop.labelfile)?.[1] ?? "";
    const startLine = label("START WAL LOCATION"); // "0/2000028 (file 000000010000000000000002)"
    // The backup history file pg_backup_stop wrote: <start segment>.<offset in it>.backup.
    const { rows: history } = await client.query<{ name: string }>(
      `select file_name || '.' || lpad(upper(to_hex(file_offset)), 8, '0') || '.backup' as name
         from pg_walfile_name_offset($1::pg_lsn)`,
      [startLine.split(" ")[0]],
    );
    await waitForArchive(
      client,
      pgData,
      [stop.stop_wal, history[0]?.name ?? ""],
      options.archiveStallMs ?? 300_000,
    );
    await checkArchivedHere(client, backupPaths(backupDir).wal, stop.stop_wal);
    await smallFlushed;
    await fs.writeFile(path.join(partial, "backup_label"), stop.labelfile, { mode: 0o600 });
    if (stop.spcmapfile)
      await fs.writeFile(path.join(partial, "tablespace_map"), stop.spcmapfile, { mode: 0o600 });
    const manifest: Manifest = {
      version: 1,
      id,
      major: conf[0]?.major ?? 0,
      timeline: Number(label("START TIMELINE")),
      startLsn: startLine.split(" ")[0] ?? "",
      stopLsn: stop.lsn,
      startWal: /file ([0-9A-F]{24})/.exec(startLine)?.[1] ?? "",
      stopWal: stop.stop_wal,
      startedAt: started.toISOString(),
      stoppedAt: stoppedAt.toISOString(),
      directories,
      checksum: algorithm,
      files,
      recoverySettings: conf[0]?.recovery ?? {},
    };
    await fs.rm(path.join(partial, OWNER_FILE));
    // Files (the large ones at their copy, the small ones above), then the folders that name them.
    await flushToDisk(partial, ["backup_label"]);
    await flushToDisk(partial, [...directories, "."]);
    // The manifest last: a folder without a complete one is no backup, whatever else it holds.
    await writeAtomically(path.join(partial, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
    await fs.rename(partial, path.join(base, id));
    await syncDir(base);
    return manifest;
  } catch (e) {
    // The backup is abandoned: end it on the server (if the connection lives) and remove the copy.
    if (!stopped) await client.query("select pg_backup_stop(false)").catch(() => {});
    await fs.rm(partial, { recursive: true, force: true });
    throw e;
  }
}
