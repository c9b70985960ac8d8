import type pg from "pg";
import { VpbError } from "../errors.ts";
import type { ScheduledJob } from "./scheduler.ts";

/** Our pg_cron jobs are named `vpb-db:NAME`, so that uninstalling never touches anyone else's. */
export const PG_CRON_PREFIX = "vpb-db:";

export interface PgCronResult {
  /** Job names scheduled (created or updated). */
  scheduled: string[];
  /** Job names of ours removed (turned off, or no longer pure SQL). */
  removed: string[];
}

async function pgCronVersion(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ extversion: string }>(
    "select extversion from pg_extension where extname = 'pg_cron'",
  );
  if (rows[0]) return rows[0].extversion;
  try {
    // Supabase and a server with pg_cron preloaded allow creating it here (in cron.database_name).
    await client.query("create extension if not exists pg_cron");
  } catch (cause) {
    throw new VpbError(
      "PG_CRON_UNAVAILABLE",
      `The pg_cron extension is not installed in this database and could not be created: ${(cause as Error).message}`,
      "On Supabase enable pg_cron (Database, Extensions); elsewhere set shared_preload_libraries = 'pg_cron' and " +
        "cron.database_name to this database, restart, and run the command again.",
      { cause },
    );
  }
  return pgCronVersion(client);
}

/** pg_cron's form of a schedule: 5-field cron, or `N seconds` from pg_cron 1.5 on. */
function pgCronSchedule(job: ScheduledJob, version: string): string | { problem: string } {
  const s = job.schedule;
  if (s.kind === "every") {
    const [major = 0, minor = 0] = version.split(/[.-]/).map(Number);
    return major > 1 || (major === 1 && minor >= 5)
      ? s.text
      : {
          problem: `${job.definition.name}: "${s.text}" needs pg_cron 1.5 or newer (this one is ${version})`,
        };
  }
  if (s.kind === "cron" && s.seconds) {
    return {
      problem: `${job.definition.name}: pg_cron takes 5 cron fields, not "${s.text}" (seconds first)`,
    };
  }
  return s.text;
}

/**
 * Installs every pure-SQL job that is on as a pg_cron schedule named `vpb-db:NAME`: re-running updates
 * the schedules in place (cron.schedule replaces a job of the same name), and removes ours that are
 * no longer wanted. One transaction: a problem leaves the schedules as they were.
 */
export async function installPgCron(client: pg.Client, jobs: readonly ScheduledJob[]): Promise<PgCronResult> {
  const version = await pgCronVersion(client);
  const wanted = jobs.filter((j) => j.definition.sql !== undefined && j.schedule.kind !== "off");
  const planned = wanted.map((j) => ({ job: j, schedule: pgCronSchedule(j, version) }));
  const problems = planned.flatMap((p) => (typeof p.schedule === "string" ? [] : [p.schedule.problem]));
  if (problems.length > 0) {
    throw new VpbError(
      "PG_CRON_UNAVAILABLE",
      `pg_cron cannot run these schedules:\n  - ${problems.join("\n  - ")}`,
      "Give those jobs a 5-field cron schedule in VPB_JOBS.",
    );
  }
  const names = planned.map((p) => `${PG_CRON_PREFIX}${p.job.definition.name}`);
  await client.query("begin");
  try {
    for (const [i, p] of planned.entries()) {
      await client.query("select cron.schedule($1, $2, $3)", [names[i], p.schedule, p.job.definition.sql]);
    }
    const { rows } = await client.query<{ jobname: string }>(
      `select jobname from cron.job
        where starts_with(jobname, $1) and jobname <> all($2::text[]) and username = current_user
        order by jobname`,
      [PG_CRON_PREFIX, names],
    );
    for (const r of rows) await client.query("select cron.unschedule($1)", [r.jobname]);
    await client.query("commit");
    return { scheduled: names, removed: rows.map((r) => r.jobname) };
  } catch (e) {
    await client.query("rollback");
    throw e;
  }
}

/** Removes our pg_cron schedules (`vpb-db:*`) and nothing else. */
export async function uninstallPgCron(client: pg.Client): Promise<PgCronResult> {
  const { rows: ext } = await client.query("select from pg_extension where extname = 'pg_cron'");
  if (ext.length === 0) return { scheduled: [], removed: [] };
  const { rows } = await client.query<{ jobname: string }>(
    "select jobname from cron.job where starts_with(jobname, $1) and username = current_user order by jobname",
    [PG_CRON_PREFIX],
  );
  for (const r of rows) await client.query("select cron.unschedule($1)", [r.jobname]);
  return { scheduled: [], removed: rows.map((r) => r.jobname) };
}
