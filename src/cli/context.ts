import path from "node:path";
import { type Config, parseConfig, type Settings } from "../config.ts";
import { embeddedPaths, type ServerRelease } from "../db/embedded-server.ts";
import { stopOnSignal } from "../db/shutdown.ts";
import { openTarget, type Target } from "../db/target.ts";
import type { MigratorOptions, ProgressEvent } from "../migrations/migrator.ts";

/** Options every migrate command accepts; they override the environment. */
export interface MigrateFlags {
  lockTimeout?: string;
  statementTimeout?: string;
  allowOutOfOrder?: boolean;
  json?: boolean;
}

/** Reads the environment (and flags) once into the trusted Config. */
export function loadConfig(flags: MigrateFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const settings: Settings = {
    DATABASE_URL: env.DATABASE_URL,
    VPB_DATA_DIR: env.VPB_DATA_DIR,
    VPB_PG_PORT: env.VPB_PG_PORT,
    VPB_MIGRATIONS_DIR: env.VPB_MIGRATIONS_DIR,
    VPB_ROLLBACKS_DIR: env.VPB_ROLLBACKS_DIR,
    VPB_APP_MIGRATIONS_DIR: env.VPB_APP_MIGRATIONS_DIR,
    VPB_APP_ROLLBACKS_DIR: env.VPB_APP_ROLLBACKS_DIR,
    VPB_LOCK_TIMEOUT: flags.lockTimeout ?? env.VPB_LOCK_TIMEOUT,
    VPB_STATEMENT_TIMEOUT: flags.statementTimeout ?? env.VPB_STATEMENT_TIMEOUT,
    VPB_MIGRATION_LOCK_WAIT: env.VPB_MIGRATION_LOCK_WAIT,
    VPB_TOKEN_KEYS: env.VPB_TOKEN_KEYS,
    VPB_BACKUP_DIR: env.VPB_BACKUP_DIR,
    VPB_STORAGE_PORT: env.VPB_STORAGE_PORT,
    VPB_ALERT_WEBHOOK_URL: env.VPB_ALERT_WEBHOOK_URL,
    VPB_ALERT_WEBHOOK_SECRET: env.VPB_ALERT_WEBHOOK_SECRET,
    VPB_ALERT_RULES: env.VPB_ALERT_RULES,
    VPB_DASHBOARD_PORT: env.VPB_DASHBOARD_PORT,
    VPB_STORAGE_DRIVER: env.VPB_STORAGE_DRIVER,
    VPB_S3_BUCKET: env.VPB_S3_BUCKET,
    VPB_S3_REGION: env.VPB_S3_REGION,
    VPB_S3_ENDPOINT: env.VPB_S3_ENDPOINT,
    VPB_S3_FORCE_PATH_STYLE: env.VPB_S3_FORCE_PATH_STYLE,
    VPB_S3_PREFIX: env.VPB_S3_PREFIX,
    VPB_S3_ACCESS_KEY_ID: env.VPB_S3_ACCESS_KEY_ID,
    VPB_S3_SECRET_ACCESS_KEY: env.VPB_S3_SECRET_ACCESS_KEY,
    VPB_BACKUP_KEEP: env.VPB_BACKUP_KEEP,
    VPB_ARCHIVE_TIMEOUT: env.VPB_ARCHIVE_TIMEOUT,
    VPB_STORAGE_UPLOAD_URL_TTL: env.VPB_STORAGE_UPLOAD_URL_TTL,
    VPB_STORAGE_SIGNED_URL_MAX: env.VPB_STORAGE_SIGNED_URL_MAX,
    VPB_SCHEDULER: env.VPB_SCHEDULER,
    VPB_JOBS: env.VPB_JOBS,
    VPB_JOBS_POLL_INTERVAL: env.VPB_JOBS_POLL_INTERVAL,
  };
  return parseConfig(settings, process.cwd());
}

/** Progress goes to stderr so that stdout stays clean for --json and piping. */
export function progressLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function describeProgress(e: ProgressEvent): string | undefined {
  switch (e.kind) {
    case "lock-wait":
      return `waiting for the migration lock${e.holderPid ? ` (held by backend pid ${e.holderPid})` : ""}…`;
    case "bootstrap":
      return e.result.kind === "applied"
        ? `Supabase compatibility bootstrap applied (${e.result.missing.length} items were missing)`
        : undefined;
    case "start":
      return `${e.direction === "up" ? "applying" : "rolling back"} ${e.name}…`;
    case "done":
      return `  done in ${e.durationMs} ms`;
  }
}

export function migratorOptions(config: Config, target: Target, flags: MigrateFlags): MigratorOptions {
  return {
    url: target.url,
    migrationsDir: config.migrationsDir,
    rollbacksDir: config.rollbacksDir,
    appMigrationsDir: config.appMigrationsDir,
    appRollbacksDir: config.appRollbacksDir,
    lockTimeout: config.lockTimeout,
    statementTimeout: config.statementTimeout,
    lockWaitMs: config.migrationLockWaitMs,
    allowOutOfOrder: flags.allowOutOfOrder ?? false,
    onProgress: (e) => {
      const line = flags.json ? undefined : describeProgress(e);
      if (line) progressLine(line);
    },
  };
}

/** Stops the embedded server a command started if the command is interrupted (see stopOnSignal). */
export function closeOnSignal(target: Target): () => void {
  return stopOnSignal(target.close, progressLine);
}

/**
 * Opens the target (starting the embedded server if needed), runs `fn`, and always closes it.
 * `existing`: the command only reads, and refuses a data folder that holds no database yet.
 */
export async function withTarget<T>(
  config: Config,
  fn: (target: Target) => Promise<T>,
  options: { existing?: boolean } = {},
): Promise<T> {
  const target = await openTarget(config, progressLine, options);
  const release = closeOnSignal(target);
  try {
    return await fn(target);
  } finally {
    release();
    await target.close();
  }
}

/** What became of PostgreSQL, said truthfully: a command stops only a server it owns. */
export function releaseLine(released: ServerRelease | undefined, dataDir: string): string {
  switch (released?.kind) {
    case undefined:
      return "stopped (the database at DATABASE_URL is not ours to stop).";
    case "stopped":
      return "stopped PostgreSQL.";
    case "handed-over":
      return `PostgreSQL keeps running for vpb-db process ${released.pid}, which still uses it.`;
    case "in-use":
      return `PostgreSQL keeps running for vpb-db process ${released.pid}, which started it.`;
    case "left-running":
      return (
        "PostgreSQL keeps running: this command attached to a server it did not start (left by a process that was killed?). " +
        `Stop it with: kill -INT "$(head -1 ${path.join(embeddedPaths(dataDir).pgData, "postmaster.pid")})"`
      );
  }
}
