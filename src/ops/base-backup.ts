import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { VpbError } from "../errors.ts";
import { backupPaths, MANIFEST, type Manifest, type ManifestFile } from "./backup-layout.ts";

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
  onProgress?: (line: string) => void;
}

async function copyWithHash(src: string, dst: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  await pipeline(
    createReadStream(src),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(dst, { mode: 0o600 }),
  );
  return { size, sha256: hash.digest("hex") };
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

/**
 * Takes a base backup with the non-exclusive low-level API: pg_backup_start and pg_backup_stop on the
 * one connection `client`, kept open across the copy (closing it would abort the backup), every file
 * hashed while copied, and pg_backup_stop waiting until the WAL up to the stop point is archived.
 */
export async function takeBaseBackup(options: BackupOptions): Promise<Manifest> {
  const { client, pgData, backupDir } = options;
  const progress = options.onProgress ?? (() => {});
  const { rows: conf } = await client.query<{ mode: string; major: number }>(
    "select current_setting('archive_mode') as mode, current_setting('server_version_num')::int / 10000 as major",
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
  const started = new Date();
  const id = backupId(started);
  const { base } = backupPaths(backupDir);
  const partial = path.join(base, `${id}.partial`);
  await fs.mkdir(partial, { recursive: true, mode: 0o700 });
  const inside = path.relative(pgData, path.resolve(backupDir));
  const backupInsideData = !inside.startsWith("..") && !path.isAbsolute(inside);

  await client.query("select pg_backup_start($1, true)", [`vpb-db ${id}`]);
  let stopped = false;
  try {
    const files: ManifestFile[] = [];
    const directories: string[] = [];
    let bytes = 0;
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
          await fs.mkdir(path.join(partial, relPath), { recursive: true, mode: 0o700 });
          if (!(rel === "" && SKIP_CONTENTS.has(entry.name)) && !entry.name.startsWith("pgsql_tmp"))
            await walk(relPath);
        } else if (entry.isSymbolicLink()) {
          throw new VpbError(
            "BACKUP_UNSUPPORTED",
            `The data folder holds a link (${relPath}): tablespaces and linked folders are not backed up yet.`,
            "Back up this server with pg_basebackup, or move the tablespace back into the data folder.",
          );
        } else if (entry.isFile() && !SKIP_FILES.has(entry.name) && !entry.name.startsWith("pgsql_tmp")) {
          try {
            const copied = await copyWithHash(path.join(pgData, relPath), path.join(partial, relPath));
            files.push({ path: relPath, ...copied });
            bytes += copied.size;
          } catch (e) {
            if (!isMissing(e)) throw e;
          }
        }
      }
    };
    await walk("");
    progress(`copied ${files.length} files, ${(bytes / 1e6).toFixed(1)} MB`);

    const { rows } = await client.query<{ lsn: string; labelfile: string; spcmapfile: string }>(
      "select lsn::text, labelfile, spcmapfile from pg_backup_stop(true)",
    );
    stopped = true;
    const stop = rows[0];
    if (!stop) throw new Error("pg_backup_stop returned no row");
    await fs.writeFile(path.join(partial, "backup_label"), stop.labelfile, { mode: 0o600 });
    if (stop.spcmapfile)
      await fs.writeFile(path.join(partial, "tablespace_map"), stop.spcmapfile, { mode: 0o600 });
    const { rows: walRows } = await client.query<{ stop_wal: string }>(
      "select pg_walfile_name($1::pg_lsn) as stop_wal",
      [stop.lsn],
    );
    const label = (key: string) => new RegExp(`^${key}: (.*)$`, "m").exec(stop.labelfile)?.[1] ?? "";
    const startLine = label("START WAL LOCATION"); // "0/2000028 (file 000000010000000000000002)"
    const manifest: Manifest = {
      version: 1,
      id,
      major: conf[0]?.major ?? 0,
      timeline: Number(label("START TIMELINE")),
      startLsn: startLine.split(" ")[0] ?? "",
      stopLsn: stop.lsn,
      startWal: /file ([0-9A-F]{24})/.exec(startLine)?.[1] ?? "",
      stopWal: walRows[0]?.stop_wal ?? "",
      startedAt: started.toISOString(),
      stoppedAt: new Date().toISOString(),
      directories,
      files,
    };
    await fs.writeFile(path.join(partial, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`, {
      mode: 0o600,
    });
    await fs.rename(partial, path.join(base, id));
    return manifest;
  } catch (e) {
    // The backup is abandoned: end it on the server (if the connection lives) and remove the copy.
    if (!stopped) await client.query("select pg_backup_stop(false)").catch(() => {});
    await fs.rm(partial, { recursive: true, force: true });
    throw e;
  }
}
