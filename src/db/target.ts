import { existsSync, statSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import type { Config } from "../config.ts";
import { redactUrl } from "../config.ts";
import { VpbError } from "../errors.ts";
import { backupPaths } from "../ops/backup-layout.ts";
import { embeddedPaths, type ServerRelease, startEmbedded } from "./embedded-server.ts";

export const MIN_SERVER_VERSION_NUM = 150000;

/** The database a command works on: the external one named by DATABASE_URL, or the embedded server. */
export interface Target {
  /** Full connection string, password included: never print it, print `display`. */
  url: string;
  /** The connection string with its password masked. */
  display: string;
  embedded: boolean;
  /** Loopback or a Unix socket: destructive commands need no --force there. */
  local: boolean;
  /**
   * Ends this command's use of the embedded server (stopping it if it is the last user that owns it);
   * undefined for a DATABASE_URL, which is never stopped.
   */
  close(): Promise<ServerRelease | undefined>;
  /** For the embedded server: false once its postmaster is gone. */
  isRunning?(): Promise<boolean>;
  /** The embedded server's log file. */
  logFile?: string;
}

export function isLocalUrl(url: string): boolean {
  const u = new URL(url);
  const host = decodeURIComponent(u.hostname).replace(/^\[|\]$/g, "");
  const hostParam = u.searchParams.get("host") ?? "";
  if (host === "" || host.startsWith("/")) return hostParam === "" || hostParam.startsWith("/");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether the data folder holds the embedded server's database (a file there is startEmbedded's to report). */
export function hasDatabase(dataDir: string): boolean {
  const found = statSync(dataDir, { throwIfNoEntry: false });
  if (found && !found.isDirectory()) return true;
  return existsSync(path.join(embeddedPaths(dataDir).pgData, "PG_VERSION"));
}

/**
 * Resolves the configured database, starting the embedded server when no DATABASE_URL is set
 * (or attaching to the one `vpb-db start` already runs).
 */
export async function openTarget(
  config: Config,
  onProgress?: (line: string) => void,
  options: { existing?: boolean } = {},
): Promise<Target> {
  if (options.existing && !config.databaseUrl && !hasDatabase(config.dataDir)) {
    // A command that only reads (jobs, inspect, doctor…) has nothing to show in a new folder: a mistyped
    // VPB_DATA_DIR would otherwise cost an initdb and report an empty database as if it were the app's.
    throw new VpbError(
      "CONFIG_INVALID",
      `No database in ${config.dataDir} (VPB_DATA_DIR): the embedded server has not been set up there.`,
      "Check VPB_DATA_DIR (the folder `npm start` uses is .vpb in the project by default), or run `npm start` once to create the database there.",
    );
  }
  if (config.databaseUrl) {
    const url = config.databaseUrl;
    return {
      url,
      display: redactUrl(url),
      embedded: false,
      local: isLocalUrl(url),
      close: async () => undefined,
    };
  }
  const server = await startEmbedded({
    dataDir: config.dataDir,
    port: config.port,
    // Every commit since the last base backup stays recoverable (see `vpb-db backup`).
    archiveDir: backupPaths(config.backupDir).wal,
    archiveTimeoutSeconds: config.archiveTimeoutSeconds,
    ...(onProgress ? { onProgress } : {}),
  });
  return {
    url: server.url,
    display: redactUrl(server.url),
    embedded: true,
    local: true,
    close: server.stop,
    isRunning: server.isRunning,
    logFile: server.logFile,
  };
}

/** Connects a client, turning failures into CONNECTION_FAILED without the password or URL in the text. */
export async function connect(url: string, applicationName = "vpb-db"): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  try {
    await client.connect();
  } catch (cause) {
    await client.end().catch(() => {});
    const u = new URL(url);
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new VpbError(
      "CONNECTION_FAILED",
      `Cannot connect to ${u.hostname || "the local socket"}:${u.port || 5432}${u.pathname}: ${reason}`,
      "Check that the server runs and that DATABASE_URL (host, port, user, password, database) is right.",
      { cause },
    );
  }
  // A server-side error on an idle client must not crash the process; the next query reports it.
  client.on("error", () => {});
  const { rows } = await client.query<{ v: string }>("select current_setting('server_version_num') as v");
  if (Number(rows[0]?.v) < MIN_SERVER_VERSION_NUM) {
    await client.end();
    throw new VpbError(
      "SERVER_TOO_OLD",
      `The server runs PostgreSQL ${rows[0]?.v}; vpb-db needs 15 or newer.`,
      "Upgrade the server, or unset DATABASE_URL to use the embedded PostgreSQL 17.",
    );
  }
  return client;
}
