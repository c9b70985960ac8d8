import path from "node:path";
import { type KeyRing, parseKeyRing } from "./auth/token-cipher.ts";
import { VpbError } from "./errors.ts";
import { parseSchedule, type Schedule } from "./jobs/schedule.ts";
import { PACKAGE_ROOT } from "./package-root.ts";

/** Untrusted input: the environment and command-line options, all strings. */
export interface Settings {
  DATABASE_URL?: string | undefined;
  VPB_DATA_DIR?: string | undefined;
  VPB_PG_PORT?: string | undefined;
  VPB_MIGRATIONS_DIR?: string | undefined;
  VPB_ROLLBACKS_DIR?: string | undefined;
  VPB_APP_MIGRATIONS_DIR?: string | undefined;
  VPB_APP_ROLLBACKS_DIR?: string | undefined;
  VPB_LOCK_TIMEOUT?: string | undefined;
  VPB_STATEMENT_TIMEOUT?: string | undefined;
  VPB_MIGRATION_LOCK_WAIT?: string | undefined;
  VPB_TOKEN_KEYS?: string | undefined;
  VPB_BACKUP_DIR?: string | undefined;
  VPB_STORAGE_PORT?: string | undefined;
  VPB_SCHEDULER?: string | undefined;
  VPB_JOBS?: string | undefined;
  VPB_JOBS_POLL_INTERVAL?: string | undefined;
}

/** Trusted configuration: parsed once, every value checked. */
export interface Config {
  /** An external server; undefined means the embedded one. */
  databaseUrl: string | undefined;
  /** Folder of the embedded server's data, log and credentials. */
  dataDir: string;
  /** Preferred port of the embedded server; a busy port makes it choose another. */
  port: number;
  /** vpb-db's own migrations: the installed package's, wherever the command runs from. */
  migrationsDir: string;
  rollbacksDir: string;
  /** The app's own migrations, applied after vpb-db's and tracked as `app/NNN_name`; undefined for none. */
  appMigrationsDir: string | undefined;
  appRollbacksDir: string | undefined;
  /** PostgreSQL interval text, applied with SET LOCAL in every migration transaction. */
  lockTimeout: string;
  statementTimeout: string;
  /** How long a run waits for another run's migration lock, in milliseconds. */
  migrationLockWaitMs: number;
  /** Keys that encrypt the OAuth tokens; undefined when VPB_TOKEN_KEYS is unset. */
  tokenKeys: KeyRing | undefined;
  /** Base backups (`base/`) and archived WAL (`wal/`); may be on another disk. */
  backupDir: string;
  /** Preferred port of the storage service `start` runs; 0 takes any free port. */
  storagePort: number;
  /** Whether `start` runs the recurring jobs (`worker` runs them regardless). */
  scheduler: boolean;
  /** Schedules that replace a job's default, by job name (checked against the registry when it loads). */
  jobSchedules: ReadonlyMap<string, Schedule>;
  /** How often an idle scheduler asks for due work, in milliseconds. */
  jobPollMs: number;
}

export const DEFAULTS = {
  VPB_DATA_DIR: ".vpb",
  VPB_PG_PORT: "54329",
  VPB_MIGRATIONS_DIR: "database/migrations",
  VPB_ROLLBACKS_DIR: "database/rollbacks",
  VPB_LOCK_TIMEOUT: "10s",
  VPB_STATEMENT_TIMEOUT: "0",
  VPB_MIGRATION_LOCK_WAIT: "60s",
  VPB_STORAGE_PORT: "54321",
  VPB_SCHEDULER: "on",
  VPB_JOBS_POLL_INTERVAL: "2s",
} as const;

const DURATION = /^(\d+)\s*(ms|s|min|h)?$/;
const UNIT_MS = { ms: 1, s: 1000, min: 60_000, h: 3_600_000 } as const;

/** Parses `500ms`, `10s`, `5min`, `1h` or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? "ms") as keyof typeof UNIT_MS;
  return Number(m[1]) * UNIT_MS[unit];
}

/**
 * Parses settings into a Config, reporting every problem at once.
 * @example parseConfig(process.env, process.cwd())
 */
export function parseConfig(settings: Settings, cwd: string): Config {
  const problems: string[] = [];
  const pick = <K extends keyof typeof DEFAULTS>(key: K): string => {
    const value = settings[key];
    return value === undefined || value === "" ? DEFAULTS[key] : value;
  };

  let databaseUrl: string | undefined;
  if (settings.DATABASE_URL) {
    try {
      const url = new URL(settings.DATABASE_URL);
      if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
        problems.push("DATABASE_URL must start with postgres:// or postgresql://");
      }
      databaseUrl = settings.DATABASE_URL;
    } catch {
      problems.push("DATABASE_URL is not a valid URL (its value is not shown: it may hold a password)");
    }
  }

  const portText = pick("VPB_PG_PORT");
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1024 || port > 65535) {
    problems.push(`VPB_PG_PORT must be a port number from 1024 to 65535, got "${portText}"`);
  }

  const storagePortText = pick("VPB_STORAGE_PORT");
  const storagePort = Number(storagePortText);
  if (!/^\d+$/.test(storagePortText) || storagePort > 65535 || (storagePort > 0 && storagePort < 1024)) {
    problems.push(
      `VPB_STORAGE_PORT must be 0 (any free port) or a port number from 1024 to 65535, got "${storagePortText}"`,
    );
  }

  const interval = (key: "VPB_LOCK_TIMEOUT" | "VPB_STATEMENT_TIMEOUT" | "VPB_MIGRATION_LOCK_WAIT") => {
    const text = pick(key);
    const ms = parseDuration(text);
    if (ms === undefined)
      problems.push(`${key} must be a duration such as 500ms, 10s, 5min or 0, got "${text}"`);
    return { text: text.replace(/\s+/g, ""), ms: ms ?? 0 };
  };
  const lockTimeout = interval("VPB_LOCK_TIMEOUT");
  const statementTimeout = interval("VPB_STATEMENT_TIMEOUT");
  const lockWait = interval("VPB_MIGRATION_LOCK_WAIT");

  let tokenKeys: KeyRing | undefined;
  if (settings.VPB_TOKEN_KEYS) {
    const parsed = parseKeyRing(settings.VPB_TOKEN_KEYS);
    problems.push(...parsed.problems);
    tokenKeys = parsed.ring;
  }

  const schedulerText = pick("VPB_SCHEDULER");
  if (schedulerText !== "on" && schedulerText !== "off") {
    problems.push(`VPB_SCHEDULER must be on or off, got "${schedulerText}"`);
  }
  const jobSchedules = new Map<string, Schedule>();
  for (const entry of (settings.VPB_JOBS ?? "").split(";")) {
    if (entry.trim() === "") continue;
    const eq = entry.indexOf("=");
    const name = entry.slice(0, Math.max(eq, 0)).trim();
    if (eq < 1 || !/^[a-z][a-z0-9-]*$/.test(name)) {
      problems.push(`VPB_JOBS entries are name=schedule separated by ";", got "${entry.trim()}"`);
      continue;
    }
    const schedule = parseSchedule(entry.slice(eq + 1));
    if (typeof schedule === "string") problems.push(`VPB_JOBS ${name}: ${schedule}`);
    else jobSchedules.set(name, schedule);
  }
  const pollText = pick("VPB_JOBS_POLL_INTERVAL");
  const jobPollMs = parseDuration(pollText);
  if (jobPollMs === undefined || jobPollMs < 500 || jobPollMs > 600_000) {
    problems.push(`VPB_JOBS_POLL_INTERVAL must be a duration from 500ms to 10min, got "${pollText}"`);
  }

  const appMigrations = settings.VPB_APP_MIGRATIONS_DIR
    ? path.resolve(cwd, settings.VPB_APP_MIGRATIONS_DIR)
    : undefined;

  if (problems.length > 0) {
    throw new VpbError(
      "CONFIG_INVALID",
      `Invalid configuration:\n  - ${problems.join("\n  - ")}`,
      "Fix the variables listed above (see the Configuration table in the README).",
    );
  }

  const dataDir = path.resolve(cwd, pick("VPB_DATA_DIR"));
  return {
    databaseUrl,
    dataDir,
    port,
    // Relative defaults are the package's own folders; values given are relative to the working folder.
    migrationsDir: path.resolve(settings.VPB_MIGRATIONS_DIR ? cwd : PACKAGE_ROOT, pick("VPB_MIGRATIONS_DIR")),
    rollbacksDir: path.resolve(settings.VPB_ROLLBACKS_DIR ? cwd : PACKAGE_ROOT, pick("VPB_ROLLBACKS_DIR")),
    appMigrationsDir: appMigrations,
    appRollbacksDir:
      appMigrations &&
      (settings.VPB_APP_ROLLBACKS_DIR
        ? path.resolve(cwd, settings.VPB_APP_ROLLBACKS_DIR)
        : path.join(path.dirname(appMigrations), "rollbacks")),
    lockTimeout: `${lockTimeout.ms}ms`,
    statementTimeout: `${statementTimeout.ms}ms`,
    migrationLockWaitMs: lockWait.ms,
    tokenKeys,
    backupDir: settings.VPB_BACKUP_DIR
      ? path.resolve(cwd, settings.VPB_BACKUP_DIR)
      : path.join(dataDir, "backups"),
    storagePort,
    scheduler: schedulerText === "on",
    jobSchedules,
    jobPollMs: jobPollMs ?? 2000,
  };
}

/** A connection string fit to print: the password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) u.searchParams.set(key, "***");
    }
    return u.toString();
  } catch {
    return "(unparseable connection string)";
  }
}
