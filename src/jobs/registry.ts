import pg from "pg";
import { embeddedBinDir, restoredUrlFor } from "../cli/commands/backup-options.ts";
import type { Config } from "../config.ts";
import { EMBEDDED_MAJOR } from "../db/embedded-server.ts";
import { connect } from "../db/target.ts";
import { evaluateAlerts } from "../monitoring/alerts.ts";
import { collectMetrics } from "../monitoring/collect.ts";
import { loadRules } from "../monitoring/rules.ts";
import { listBackups } from "../ops/backup-layout.ts";
import { takeBaseBackup } from "../ops/base-backup.ts";
import { pruneBackups } from "../ops/retention.ts";
import { verifyBackup } from "../ops/verify.ts";
import { createRunner } from "../sdk/db.ts";
import { openDriver } from "../storage/drivers/select.ts";
import { storageRoot } from "../storage/serve.ts";
import { sweepStorage } from "../storage/sweep.ts";

/** Where the jobs run: the database and what this process knows of it. */
export interface JobEnvironment {
  /** Full connection string (password included: never logged). */
  url: string;
  config: Config;
  /** The embedded server, whose data folder, WAL archive and backups this process manages. */
  embedded: boolean;
}

export interface JobContext extends JobEnvironment {
  /** Aborted when the run passes its timeout: long work checks it and stops. */
  signal: AbortSignal;
  /** The queued run's id: the same in every attempt of one slot. */
  runId: string;
  log: (line: string) => void;
}

export interface RetryPolicy {
  /** Runs after the first failure (0: none). */
  limit: number;
  /** Seconds before a retry; doubled each time when `backoff`. */
  delaySeconds: number;
  backoff: boolean;
}

export interface JobDefinition {
  /** Stable, kebab-case: the name in VPB_JOBS, `vpb-db jobs` and pg_cron (`vpb-db:NAME`). */
  name: string;
  description: string;
  /** Default schedule, cron in UTC (see schedule.ts); VPB_JOBS replaces it. */
  schedule: string;
  /** A run past this is cancelled and counts as a failure. */
  timeoutMs: number;
  retry: RetryPolicy;
  /**
   * A pure-SQL job: one statement, run by the scheduler on its own connection and installable as a
   * pg_cron schedule (Supabase). Jobs that need files or this process's tools give `run` instead.
   */
  sql?: string;
  /** Does the work; returns a small JSON summary kept in the run's history. */
  run?: (ctx: JobContext) => Promise<Record<string, unknown>>;
  /** Why the job cannot run in this environment; undefined when it can. */
  unavailable?: (env: JobEnvironment) => string | undefined;
}

const MINUTE = 60_000;
const RETRY: RetryPolicy = { limit: 2, delaySeconds: 60, backoff: true };

/** A job with the common defaults: another recurring job is one line. */
export function job(
  name: string,
  schedule: string,
  description: string,
  work: Pick<JobDefinition, "sql" | "run" | "unavailable"> &
    Partial<Pick<JobDefinition, "timeoutMs" | "retry">>,
): JobDefinition {
  return { name, schedule, description, timeoutMs: 15 * MINUTE, retry: RETRY, ...work };
}

// WAL archiving (and so a restorable base backup) is what `start` sets up for the embedded server.
const embeddedOnly = (env: JobEnvironment) =>
  env.embedded ? undefined : "base backups are taken of the embedded server (WAL archiving on) only";

/** Every recurring job, in the order `vpb-db jobs` lists them. */
export const JOBS: readonly JobDefinition[] = [
  job("auth-cleanup", "17 * * * *", "delete expired sessions and verification tokens", {
    sql: "select * from public.cleanup_expired_auth()",
    timeoutMs: 5 * MINUTE,
  }),
  job("projects-purge", "30 3 * * *", "delete projects soft-deleted more than 30 days ago", {
    sql: "select count(*) as purged from public.purge_deleted_projects()",
  }),
  job("partitions-create", "10 2 * * *", "create the analytics tables' monthly partitions 3 months ahead", {
    sql:
      "select count(p) as created from unnest(public.analytics_partitioned_tables()) as t (name) " +
      "cross join lateral public.create_monthly_partitions(t.name, 3) as p",
  }),
  job(
    "partitions-retention",
    "20 2 * * *",
    "sweep each analytics table's default partition (sweep_default_partition), then drop partitions past retention",
    { sql: "select count(*) as dropped from public.cleanup_analytics_partitions()" },
  ),
  job("storage-sweep", "45 * * * *", "reconcile stored files with storage.objects (vpb-db storage sweep)", {
    run: async (ctx) => {
      const runner = createRunner({
        connectionString: ctx.url,
        max: 2,
        applicationName: "vpb-db job storage-sweep",
      });
      try {
        const driver = await openDriver(ctx.config.storage, storageRoot(ctx.config.dataDir));
        try {
          return { ...(await sweepStorage(runner, driver, { graceMs: 15 * MINUTE })) };
        } finally {
          driver.close?.();
        }
      } finally {
        await runner.pool.end();
      }
    },
  }),
  job("backup-base", "0 2 * * *", "take a base backup into VPB_BACKUP_DIR (vpb-db backup)", {
    unavailable: embeddedOnly,
    timeoutMs: 6 * 60 * MINUTE,
    retry: { limit: 1, delaySeconds: 600, backoff: false },
    run: async (ctx) => {
      const client = await connect(ctx.url, "vpb-db job backup-base");
      try {
        const { rows } = await client.query<{ dir: string }>(
          "select current_setting('data_directory') as dir",
        );
        const manifest = await takeBaseBackup({
          client,
          pgData: rows[0]?.dir ?? "",
          backupDir: ctx.config.backupDir,
          onProgress: () => {},
        });
        return {
          id: manifest.id,
          files: manifest.files.length,
          bytes: manifest.files.reduce((s, f) => s + f.size, 0),
        };
      } finally {
        await client.end();
      }
    },
  }),
  job("backup-verify", "0 4 * * *", "restore the newest base backup into a scratch server and check it", {
    unavailable: embeddedOnly,
    timeoutMs: 6 * 60 * MINUTE,
    retry: { limit: 1, delaySeconds: 600, backoff: false },
    run: async (ctx) => {
      // Before the first base backup there is nothing to prove (and nothing is wrong).
      if ((await listBackups(ctx.config.backupDir)).length === 0) return { skipped: "no base backup yet" };
      // Compared with the live database at a point marked now: the base backup and its WAL since.
      const live = await connect(ctx.url, "vpb-db job backup-verify");
      const result = await verifyBackup({
        backupDir: ctx.config.backupDir,
        binDir: await embeddedBinDir(),
        major: EMBEDDED_MAJOR,
        urlFor: await restoredUrlFor(ctx.config),
        live,
      }).finally(() => live.end());
      return {
        backupId: result.backupId,
        restoreMs: result.restoreMs,
        indexesChecked: result.indexesChecked,
      };
    },
  }),
  job(
    "backup-retention",
    "30 4 * * *",
    "keep VPB_BACKUP_KEEP days of base backups and the WAL they need (vpb-db backup prune)",
    {
      unavailable: embeddedOnly,
      run: async (ctx) => {
        const plan = await pruneBackups({ backupDir: ctx.config.backupDir, keepDays: ctx.config.backupKeep });
        return { kept: plan.keep.length, removed: plan.remove.length };
      },
    },
  ),
  // Collection and evaluation in one run, so the rules always read the sample just taken. A minute
  // missed is not retried: the next run's deltas cover it.
  job("monitoring", "* * * * *", "sample metrics into performance_metrics, then evaluate the alert rules", {
    timeoutMs: 50_000,
    retry: { limit: 0, delaySeconds: 0, backoff: false },
    run: async (ctx) => {
      const pool = new pg.Pool({
        connectionString: ctx.url,
        max: 1,
        application_name: "vpb-db job monitoring",
      });
      pool.on("error", () => {}); // an idle client's loss surfaces on the next query
      try {
        const sample = await collectMetrics(pool);
        const rules = await loadRules(ctx.config.alertRulesFile);
        const evaluated = await evaluateAlerts(pool, {
          rules,
          webhook: ctx.config.alertWebhook,
          log: ctx.log,
        });
        // Webhook deliveries go on in the background (retried with backoff); the run does not wait.
        void evaluated.delivered;
        return {
          rows: sample.rows,
          statements: sample.statements,
          events: evaluated.events.length,
          firing: evaluated.firing.length,
        };
      } finally {
        await pool.end();
      }
    },
  }),
];
