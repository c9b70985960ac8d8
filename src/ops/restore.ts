import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { VpbError } from "../errors.ts";
import { backupPaths, listBackups, type Manifest, noBackup } from "./backup-layout.ts";
import { checkArchive } from "./wal-archive.ts";

/** Where recovery stops: a point in time, the end of the archived WAL, or the backup's own end. */
export type RecoveryTarget = { time: Date } | { latest: true } | { immediate: true };

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
  onProgress?: (line: string) => void;
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
    if (!found) throw noBackup(backupDir, `with the id ${id}`);
    return found;
  }
  const usable = "time" in target ? all.filter((m) => new Date(m.stoppedAt) <= target.time) : all;
  const chosen = usable.at(-1);
  if (!chosen) {
    throw noBackup(backupDir, "time" in target ? `that ended before ${target.time.toISOString()}` : "");
  }
  return chosen;
}

/**
 * Copies the base backup into `dest`, checking every file against its sha256 in the manifest, and
 * returns the files that differ (all of them, so one run names every damaged file).
 */
async function copyChecked(source: string, dest: string, manifest: Manifest): Promise<string[]> {
  const bad: string[] = [];
  for (const dir of manifest.directories)
    await fs.mkdir(path.join(dest, dir), { recursive: true, mode: 0o700 });
  await fs.mkdir(path.join(dest, "pg_wal", "archive_status"), { recursive: true, mode: 0o700 });
  for (const file of manifest.files) {
    const hash = createHash("sha256");
    let size = 0;
    try {
      await pipeline(
        createReadStream(path.join(source, file.path)),
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(path.join(dest, file.path), { mode: 0o600 }),
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      bad.push(`${file.path} (missing)`);
      continue;
    }
    if (size !== file.size || hash.digest("hex") !== file.sha256) bad.push(file.path);
  }
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

/**
 * Builds a new data folder from a base backup and replays archived WAL to the target, then starts it
 * on a free port and waits until recovery has ended and the server is promoted. The new server runs
 * with archiving off, so a trial restore never adds a timeline to the archive it reads.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoredServer> {
  const progress = options.onProgress ?? (() => {});
  const { pgData, target } = options;
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
  const { base, wal } = backupPaths(options.backupDir);
  const lastWal = await checkArchive(wal, manifest.startWal, manifest.stopWal);
  progress(`restoring base backup ${manifest.id} (WAL ${manifest.startWal} to ${lastWal} archived)`);

  const copyStarted = performance.now();
  await fs.mkdir(path.dirname(pgData), { recursive: true, mode: 0o750 });
  await fs.mkdir(pgData, { recursive: true, mode: 0o700 });
  await fs.chmod(pgData, 0o700);
  const bad = await copyChecked(path.join(base, manifest.id), pgData, manifest);
  if (bad.length > 0) {
    await fs.rm(pgData, { recursive: true, force: true });
    throw new VpbError(
      "BACKUP_CORRUPT",
      `Base backup ${manifest.id} is damaged: ${bad.length} file(s) differ from their sha256 in the manifest: ${bad.slice(0, 10).join(", ")}${bad.length > 10 ? ", …" : ""}.`,
      "Restore from an older base backup with --backup ID, and take a new backup now.",
    );
  }
  await fs.writeFile(path.join(pgData, "recovery.signal"), "");
  const copyMs = performance.now() - copyStarted;

  // As root the server runs as the backup source's user; its files must belong to it.
  let ids: { uid: number; gid: number } | Record<string, never> = {};
  if (process.getuid?.() === 0) {
    const owner = await fs.stat(wal);
    ids = { uid: owner.uid, gid: owner.gid };
    spawnSync("chown", ["-R", `${owner.uid}:${owner.gid}`, pgData]);
    // The log sits beside the data folder, which the server's user must be able to write in.
    await fs.chown(path.dirname(pgData), owner.uid, owner.gid);
    await fs.writeFile(options.logFile, "", { flag: "a" });
    await fs.chown(options.logFile, owner.uid, owner.gid);
  }

  const port = await freePort();
  // Command-line settings win over postgresql.auto.conf, which travels with the copy.
  const settings: Record<string, string> = {
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
    ...options.settings,
  };
  const flags = Object.entries(settings)
    .map(([k, v]) => `-c ${sq(`${k}=${v}`)}`)
    .join(" ");
  const pgCtl = path.join(options.binDir, "pg_ctl");
  const stop = () => {
    spawnSync(pgCtl, ["-D", pgData, "-m", "fast", "-w", "stop"], { ...ids, stdio: "ignore" });
  };
  const recoveryStarted = performance.now();
  const started = spawnSync(
    pgCtl,
    ["-D", pgData, "-l", options.logFile, "-o", flags, "-w", "-t", "600", "start"],
    {
      ...ids,
      encoding: "utf8",
    },
  );
  const failed = async (why: string) =>
    new VpbError(
      "RESTORE_FAILED",
      `The restored server ${why}. Last lines of ${options.logFile}:\n${await tail(options.logFile, 12)}`,
      "Read the log above: a target before the backup's end or after the last archived commit cannot be reached; choose another --to.",
    );
  if (started.status !== 0) {
    stop();
    throw await failed(`did not start (${started.stderr.trim()})`);
  }
  // pg_ctl -w returns once connections are accepted, which is before recovery ends.
  const url = options.urlFor(port);
  for (let waited = 0; ; waited += 200) {
    const client = new pg.Client({ connectionString: url });
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
    if (waited > 600_000) {
      stop();
      throw await failed("was still recovering after 10 minutes");
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const recoveryMs = performance.now() - recoveryStarted;
  progress(
    `recovered to ${"time" in target ? target.time.toISOString() : "latest" in target ? "the end of the archive" : "the end of the backup"} in ${(recoveryMs / 1000).toFixed(1)} s`,
  );
  return { backup: manifest, pgData, port, url, copyMs, recoveryMs, stop };
}
