import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import { currentProcess, type ProcessId, stillRuns } from "../db/process-identity.ts";
import { VpbError } from "../errors.ts";
import { backupPaths, listBackups, type Manifest, noBackup } from "./backup-layout.ts";
import { copyChecksummed, type FileChecksum, mapConcurrent } from "./file-copy.ts";
import { byteCounter, ignoreProgress, type OnProgress } from "./progress.ts";
import { checkArchive } from "./wal-archive.ts";

/**
 * Where recovery stops: a point in time, the end of the archived WAL, the backup's own end, or a named
 * restore point after it (a consistent point, see consistent-point.ts) and the segment that holds it.
 */
export type RecoveryTarget =
  | { time: Date }
  | { latest: true }
  | { immediate: true }
  | { restorePoint: { name: string; wal: string } };

export interface RestoreOptions {
  backupDir: string;
  /** A data folder that must not exist yet (or be empty). */
  pgData: string;
  logFile: string;
  /** initdb/pg_ctl/postgres of the backup's major. */
  binDir: string;
  /** The major of those binaries: a backup of another major is refused. */
  major: number;
  target: RecoveryTarget;
  /** A specific base backup; by default the newest one that can reach the target. */
  backupId?: string;
  /** Builds a connection string for the restored server on `port` (its roles are the source's). */
  urlFor: (port: number) => string;
  /** Extra server settings (a throwaway verification copy needs no fsync). */
  settings?: Record<string, string>;
  onProgress?: OnProgress;
}

export interface RestoredServer {
  backup: Manifest;
  pgData: string;
  port: number;
  url: string;
  /** Copy and WAL replay, in milliseconds. */
  copyMs: number;
  recoveryMs: number;
  stop(): void;
}

/** Single-quotes a value for /bin/sh (pg_ctl passes -o through the shell). */
function sq(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The backup to restore from: the given one, or the newest that ended before the target time. */
export async function chooseBackup(
  backupDir: string,
  target: RecoveryTarget,
  id?: string,
): Promise<Manifest> {
  const all = await listBackups(backupDir);
  if (id) {
    const found = all.find((m) => m.id === id);
    if (!found) throw noBackup(backupDir, `with the id ${id}`, all);
    return found;
  }
  const usable = "time" in target ? all.filter((m) => new Date(m.stoppedAt) <= target.time) : all;
  const chosen = usable.at(-1);
  if (!chosen) {
    throw noBackup(backupDir, "time" in target ? `that ended before ${target.time.toISOString()}` : "", all);
  }
  return chosen;
}

/**
 * Copies the base backup into `dest`, checking every file against its checksum in the manifest (of
 * the algorithm it names; sha256 in manifests that name none), and
 * returns the files that differ (all of them, so one run names every damaged file).
 */
async function copyChecked(
  source: string,
  dest: string,
  manifest: Manifest,
  onBytes: (n: number) => void,
): Promise<string[]> {
  const bad: string[] = [];
  const algorithm = manifest.checksum ?? "sha256";
  for (const dir of manifest.directories)
    await fs.mkdir(path.join(dest, dir), { recursive: true, mode: 0o700 });
  await fs.mkdir(path.join(dest, "pg_wal", "archive_status"), { recursive: true, mode: 0o700 });
  await mapConcurrent(manifest.files, 4, async (file) => {
    let copied: FileChecksum;
    try {
      copied = await copyChecksummed(
        path.join(source, file.path),
        path.join(dest, file.path),
        algorithm,
        onBytes,
        file.size,
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      bad.push(`${file.path} (missing)`);
      return;
    }
    const want = file[algorithm];
    if (copied.size !== file.size || want === undefined || copied[algorithm] !== want) bad.push(file.path);
  });
  bad.sort(); // copies finish in any order; the message names them in a stable one
  for (const name of ["backup_label", "tablespace_map"]) {
    if (existsSync(path.join(source, name)))
      await fs.copyFile(path.join(source, name), path.join(dest, name));
  }
  return bad;
}

async function tail(file: string, lines: number): Promise<string> {
  const text = await fs.readFile(file, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Marks a data folder as a restore in progress, naming its process; removed once recovery has ended. */
export const RESTORE_MARKER = ".vpb-restore-incomplete";

/** Runs a command as the restored server's OS user (the archive's owner, when this process is root). */
type Ids = { uid: number; gid: number } | Record<string, never>;

async function serverIds(walDir: string): Promise<Ids> {
  if (process.getuid?.() !== 0) return {};
  const owner = await fs.stat(walDir);
  return { uid: owner.uid, gid: owner.gid };
}

/**
 * Clears a folder that an earlier restore left unfinished (its process killed, its machine crashed):
 * the half-recovered server it may have started is stopped, and the folder removed. A folder without
 * the marker, or whose restore still runs, is never touched.
 */
async function clearAbandonedRestore(pgData: string, pgCtl: string, ids: Ids): Promise<boolean> {
  let owner: ProcessId;
  try {
    owner = JSON.parse(await fs.readFile(path.join(pgData, RESTORE_MARKER), "utf8")) as ProcessId;
  } catch {
    return false;
  }
  if (await stillRuns(owner)) return false;
  spawnSync(pgCtl, ["-D", pgData, "-m", "immediate", "-w", "stop"], { ...ids, stdio: "ignore" });
  await fs.rm(pgData, { recursive: true, force: true });
  return true;
}

/**
 * Builds a new data folder from a base backup and replays archived WAL to the target, then starts it
 * on a free port and waits until recovery has ended and the server is promoted. The new server runs
 * with archiving off, so a trial restore never adds a timeline to the archive it reads.
 *
 * Until recovery has ended the folder holds RESTORE_MARKER: a failed run stops its server and removes
 * the folder, and a killed run's folder is cleared by the next run into it.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoredServer> {
  const progress = options.onProgress ?? ignoreProgress;
  const note = (text: string) => progress({ kind: "note", text });
  const { pgData, target } = options;
  const { base, wal } = backupPaths(options.backupDir);
  const pgCtl = path.join(options.binDir, "pg_ctl");
  const ids = await serverIds(wal).catch((): Ids => ({}));
  if (await clearAbandonedRestore(pgData, pgCtl, ids))
    note(`removed ${pgData}, left by a restore that did not finish`);
  if (existsSync(pgData) && (await fs.readdir(pgData)).length > 0) {
    throw new VpbError(
      "RESTORE_TARGET_EXISTS",
      `The folder ${pgData} exists and is not empty: restore never writes over data.`,
      "Choose a new folder with --into.",
    );
  }
  const manifest = await chooseBackup(options.backupDir, target, options.backupId);
  if (manifest.major !== options.major) {
    throw new VpbError(
      "BACKUP_UNSUPPORTED",
      `Base backup ${manifest.id} is of PostgreSQL ${manifest.major}; these binaries are PostgreSQL ${options.major}.`,
      "Restore it with the binaries of its major (pg_ctl of that version).",
    );
  }
  const point = "restorePoint" in target ? target.restorePoint : undefined;
  const lastWal = await checkArchive(wal, manifest.startWal, point?.wal ?? manifest.stopWal);
  note(`restoring base backup ${manifest.id} (WAL ${manifest.startWal} to ${lastWal} archived)`);

  const stop = () => {
    spawnSync(pgCtl, ["-D", pgData, "-m", "fast", "-w", "stop"], { ...ids, stdio: "ignore" });
  };
  let done = false;
  try {
    const copyStarted = performance.now();
    await fs.mkdir(path.dirname(pgData), { recursive: true, mode: 0o750 });
    await fs.mkdir(pgData, { recursive: true, mode: 0o700 });
    await fs.chmod(pgData, 0o700);
    await fs.writeFile(path.join(pgData, RESTORE_MARKER), JSON.stringify(await currentProcess()));
    const counter = byteCounter(
      progress,
      "restore copy",
      manifest.files.reduce((sum, f) => sum + f.size, 0),
    );
    const bad = await copyChecked(path.join(base, manifest.id), pgData, manifest, counter.add);
    counter.end();
    if (bad.length > 0) {
      throw new VpbError(
        "BACKUP_CORRUPT",
        `Base backup ${manifest.id} is damaged: ${bad.length} file(s) differ from their ${manifest.checksum ?? "sha256"} checksum in the manifest: ${bad.slice(0, 10).join(", ")}${bad.length > 10 ? ", …" : ""}.`,
        "Restore from an older base backup with --backup ID, and take a new backup now.",
      );
    }
    await fs.writeFile(path.join(pgData, "recovery.signal"), "");
    const copyMs = performance.now() - copyStarted;

    // As root the server runs as the backup source's user; its files must belong to it.
    if ("uid" in ids) {
      spawnSync("chown", ["-R", `${ids.uid}:${ids.gid}`, pgData]);
      // The log sits beside the data folder, which the server's user must be able to write in.
      await fs.chown(path.dirname(pgData), ids.uid, ids.gid);
      await fs.writeFile(options.logFile, "", { flag: "a" });
      await fs.chown(options.logFile, ids.uid, ids.gid);
    }

    const port = await freePort();
    // Command-line settings win over postgresql.auto.conf, which travels with the copy.
    const settings: Record<string, string> = {
      // At least the source's max_connections and the like, or recovery aborts.
      ...manifest.recoverySettings,
      port: String(port),
      listen_addresses: "127.0.0.1",
      unix_socket_directories: "",
      archive_mode: "off",
      restore_command: `cp ${sq(path.join(wal, "%f"))} "%p"`,
      recovery_target_timeline: "current",
      recovery_target_action: "promote",
      ...("time" in target
        ? { recovery_target_time: target.time.toISOString().replace("T", " ").replace("Z", "+00") }
        : {}),
      ...("immediate" in target ? { recovery_target: "immediate" } : {}),
      ...(point ? { recovery_target_name: point.name } : {}),
      ...options.settings,
    };
    const flags = Object.entries(settings)
      .map(([k, v]) => `-c ${sq(`${k}=${v}`)}`)
      .join(" ");
    const recoveryStarted = performance.now();
    const started = spawnSync(
      pgCtl,
      ["-D", pgData, "-l", options.logFile, "-o", flags, "-w", "-t", "600", "start"],
      { ...ids, encoding: "utf8" },
    );
    const failed = async (why: string) =>
      new VpbError(
        "RESTORE_FAILED",
        `The restored server ${why}. Last lines of ${options.logFile}:\n${await tail(options.logFile, 12)}`,
        "Read the log above: a target before the backup's end or after the last archived commit cannot be reached; choose another --to.",
      );
    if (started.status !== 0) throw await failed(`did not start (${started.stderr.trim()})`);
    note(`replaying WAL on port ${port}…`);
    // pg_ctl -w returns once connections are accepted, which is before recovery ends.
    const url = options.urlFor(port);
    for (let waited = 0; ; waited += 200) {
      const client = new pg.Client({ connectionString: url });
      // A server that dies under this probe must fail the restore below, not crash the process.
      client.on("error", () => {});
      try {
        await client.connect();
        const { rows } = await client.query<{ r: boolean }>("select pg_is_in_recovery() as r");
        if (rows[0]?.r === false) break;
      } catch {
        // Not ready yet, or gone: the status check below tells.
      } finally {
        await client.end().catch(() => {});
      }
      if (spawnSync(pgCtl, ["-D", pgData, "status"], { ...ids, stdio: "ignore" }).status !== 0)
        throw await failed("stopped during recovery");
      if (waited > 600_000) throw await failed("was still recovering after 10 minutes");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const recoveryMs = performance.now() - recoveryStarted;
    await fs.rm(path.join(pgData, RESTORE_MARKER));
    done = true;
    note(
      `recovered to ${"time" in target ? target.time.toISOString() : "latest" in target ? "the end of the archive" : point ? `the restore point ${point.name}` : "the end of the backup"} in ${(recoveryMs / 1000).toFixed(1)} s`,
    );
    return { backup: manifest, pgData, port, url, copyMs, recoveryMs, stop };
  } finally {
    if (!done) {
      // Nothing half-restored stays behind: stop the server if it started, remove the folder.
      stop();
      await fs.rm(pgData, { recursive: true, force: true });
    }
  }
}
