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
  VPB_ALERT_WEBHOOK_URL?: string | undefined;
  VPB_ALERT_WEBHOOK_SECRET?: string | undefined;
  VPB_ALERT_RULES?: string | undefined;
  VPB_DASHBOARD_PORT?: string | undefined;
  VPB_STORAGE_DRIVER?: string | undefined;
  VPB_S3_BUCKET?: string | undefined;
  VPB_S3_REGION?: string | undefined;
  VPB_S3_ENDPOINT?: string | undefined;
  VPB_S3_FORCE_PATH_STYLE?: string | undefined;
  VPB_S3_PREFIX?: string | undefined;
  VPB_S3_ACCESS_KEY_ID?: string | undefined;
  VPB_S3_SECRET_ACCESS_KEY?: string | undefined;
  VPB_BACKUP_KEEP?: string | undefined;
  VPB_ARCHIVE_TIMEOUT?: string | undefined;
  VPB_STORAGE_UPLOAD_URL_TTL?: string | undefined;
  VPB_STORAGE_SIGNED_URL_MAX?: string | undefined;
  VPB_SCHEDULER?: string | undefined;
  VPB_JOBS?: string | undefined;
  VPB_JOBS_POLL_INTERVAL?: string | undefined;
}

/** Where the storage service keeps object bytes. */
export type StorageBackend = { driver: "disk" } | { driver: "s3"; s3: S3Settings };

export interface S3Settings {
  bucket: string;
  region: string;
  /** An S3-compatible server's URL; undefined for AWS. */
  endpoint: string | undefined;
  forcePathStyle: boolean;
  prefix: string;
  /** Undefined: the AWS SDK's default credential chain. Never printed. */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
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
  /** Where alerts are POSTed, signed with the secret; undefined: the log only. */
  alertWebhook: { url: string; secret: string } | undefined;
  /** The alert rules file; undefined: the package's database/monitoring/alerts.json. */
  alertRulesFile: string | undefined;
  /** Preferred port of the monitoring dashboard (`start`, `vpb-db dashboard`); 0 takes any free port. */
  dashboardPort: number;
  /** The storage service's driver: disk under the data folder, or an S3 bucket. */
  storage: StorageBackend;
  /** Signed URLs of the storage service, in seconds: an upload URL's lifetime, a download URL's longest. */
  signedUrls: { uploadSeconds: number; downloadMaxSeconds: number };
  /** Daily base backups retention keeps (the newest of each of that many days). */
  backupKeep: number;
  /** The longest a commit waits before its WAL segment is archived, in seconds: the RPO of a lost disk. */
  archiveTimeoutSeconds: number;
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
  VPB_DASHBOARD_PORT: "54323",
  VPB_STORAGE_DRIVER: "disk",
  VPB_S3_REGION: "us-east-1",
  VPB_S3_FORCE_PATH_STYLE: "false",
  VPB_BACKUP_KEEP: "7",
  VPB_ARCHIVE_TIMEOUT: "5min",
  VPB_STORAGE_UPLOAD_URL_TTL: "2h",
  VPB_STORAGE_SIGNED_URL_MAX: "7d",
  VPB_SCHEDULER: "on",
  VPB_JOBS_POLL_INTERVAL: "2s",
} as const;

const DURATION = /^(\d+)\s*(ms|s|min|h|d)?$/;
const UNIT_MS = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `500ms`, `10s`, `5min`, `1h`, `7d` or a bare number of milliseconds. */
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

  const dashboardPortText = pick("VPB_DASHBOARD_PORT");
  const dashboardPort = Number(dashboardPortText);
  if (
    !/^\d+$/.test(dashboardPortText) ||
    dashboardPort > 65535 ||
    (dashboardPort > 0 && dashboardPort < 1024)
  ) {
    problems.push(
      `VPB_DASHBOARD_PORT must be 0 (any free port) or a port number from 1024 to 65535, got "${dashboardPortText}"`,
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

  const keepText = pick("VPB_BACKUP_KEEP");
  const backupKeep = Number(keepText);
  if (!/^\d+$/.test(keepText) || backupKeep < 1 || backupKeep > 3650) {
    problems.push(`VPB_BACKUP_KEEP must be a number of days from 1 to 3650, got "${keepText}"`);
  }
  const archiveTimeoutText = pick("VPB_ARCHIVE_TIMEOUT");
  const archiveTimeoutMs = parseDuration(archiveTimeoutText);
  // PostgreSQL accepts 1 s and up (0 disables it: a quiet server would never archive its last commits).
  if (archiveTimeoutMs === undefined || archiveTimeoutMs < 1000 || archiveTimeoutMs > 86_400_000) {
    problems.push(
      `VPB_ARCHIVE_TIMEOUT must be a duration from 1s to 24h such as 60s or 5min, got "${archiveTimeoutText}"`,
    );
  }

  // Signed URLs: whole seconds from 1 s; an upload URL lives at most a week (Supabase's lives 2 h), a
  // download URL may ask for up to a year.
  const seconds = (key: "VPB_STORAGE_UPLOAD_URL_TTL" | "VPB_STORAGE_SIGNED_URL_MAX", maxDays: number) => {
    const text = pick(key);
    const ms = parseDuration(text);
    if (ms === undefined || ms < 1000 || ms % 1000 !== 0 || ms > maxDays * 86_400_000) {
      problems.push(`${key} must be whole seconds from 1s to ${maxDays}d such as 2h, got "${text}"`);
      return 0;
    }
    return ms / 1000;
  };
  const signedUrls = {
    uploadSeconds: seconds("VPB_STORAGE_UPLOAD_URL_TTL", 7),
    downloadMaxSeconds: seconds("VPB_STORAGE_SIGNED_URL_MAX", 365),
  };

  let tokenKeys: KeyRing | undefined;
  if (settings.VPB_TOKEN_KEYS) {
    const parsed = parseKeyRing(settings.VPB_TOKEN_KEYS);
    problems.push(...parsed.problems);
    tokenKeys = parsed.ring;
  }

  let alertWebhook: Config["alertWebhook"];
  const hookUrl = settings.VPB_ALERT_WEBHOOK_URL;
  const hookSecret = settings.VPB_ALERT_WEBHOOK_SECRET;
  if (hookUrl) {
    let ok = false;
    try {
      ok = ["http:", "https:"].includes(new URL(hookUrl).protocol);
    } catch {}
    // The URL is not echoed: webhook URLs often carry a token in their path.
    if (!ok)
      problems.push("VPB_ALERT_WEBHOOK_URL must be an http:// or https:// URL (its value is not shown)");
    if (!hookSecret || hookSecret.length < 16)
      problems.push(
        "VPB_ALERT_WEBHOOK_SECRET must be set, at least 16 characters, when VPB_ALERT_WEBHOOK_URL is",
      );
    else if (ok) alertWebhook = { url: hookUrl, secret: hookSecret };
  } else if (hookSecret) {
    problems.push("VPB_ALERT_WEBHOOK_SECRET is set without VPB_ALERT_WEBHOOK_URL");
  }
  const storage = parseStorage(settings, pick, problems);
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
    alertWebhook,
    alertRulesFile: settings.VPB_ALERT_RULES ? path.resolve(cwd, settings.VPB_ALERT_RULES) : undefined,
    dashboardPort,
    backupKeep,
    archiveTimeoutSeconds: Math.floor((archiveTimeoutMs ?? 0) / 1000),
    storage,
    signedUrls,
    scheduler: schedulerText === "on",
    jobSchedules,
    jobPollMs: jobPollMs ?? 2000,
  };
}

/** VPB_STORAGE_DRIVER and, for s3, the VPB_S3_* variables; a problem names the variable, never a key. */
function parseStorage(
  settings: Settings,
  pick: (key: "VPB_STORAGE_DRIVER" | "VPB_S3_REGION" | "VPB_S3_FORCE_PATH_STYLE") => string,
  problems: string[],
): StorageBackend {
  const driver = pick("VPB_STORAGE_DRIVER");
  if (driver === "disk") return { driver: "disk" };
  if (driver !== "s3") {
    problems.push(`VPB_STORAGE_DRIVER must be disk or s3, got "${driver}"`);
    return { driver: "disk" };
  }
  const bucket = settings.VPB_S3_BUCKET ?? "";
  // S3's bucket naming rules (3-63 lower-case letters, digits, dots and hyphens).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    problems.push(`VPB_S3_BUCKET must be an S3 bucket name (VPB_STORAGE_DRIVER=s3), got "${bucket}"`);
  const region = pick("VPB_S3_REGION");
  if (!/^[a-z0-9-]{1,40}$/.test(region))
    problems.push(`VPB_S3_REGION must be a region name, got "${region}"`);
  let endpoint: string | undefined;
  if (settings.VPB_S3_ENDPOINT) {
    try {
      const url = new URL(settings.VPB_S3_ENDPOINT);
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("scheme");
      if (url.username || url.password) throw new Error("credentials");
      endpoint = settings.VPB_S3_ENDPOINT;
    } catch {
      problems.push("VPB_S3_ENDPOINT must be an http:// or https:// URL without credentials");
    }
  }
  const pathStyle = pick("VPB_S3_FORCE_PATH_STYLE");
  if (pathStyle !== "true" && pathStyle !== "false")
    problems.push(`VPB_S3_FORCE_PATH_STYLE must be true or false, got "${pathStyle}"`);
  const prefix = settings.VPB_S3_PREFIX ?? "";
  if (!/^([A-Za-z0-9_.-]+\/)*$/.test(prefix) || prefix.length > 200)
    problems.push(
      `VPB_S3_PREFIX must be empty or folder names each ending in /, such as vpb/, got "${prefix}"`,
    );
  const accessKeyId = settings.VPB_S3_ACCESS_KEY_ID ?? "";
  const secretAccessKey = settings.VPB_S3_SECRET_ACCESS_KEY ?? "";
  if ((accessKeyId === "") !== (secretAccessKey === ""))
    problems.push(
      "VPB_S3_ACCESS_KEY_ID and VPB_S3_SECRET_ACCESS_KEY go together: set both, or neither for the AWS default credentials",
    );
  return {
    driver: "s3",
    s3: {
      bucket,
      region,
      endpoint,
      forcePathStyle: pathStyle === "true",
      prefix,
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    },
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
