import type { Command } from "commander";
import { connect } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { installPgCron, uninstallPgCron } from "../../jobs/pg-cron.ts";
import { resolveJobs } from "../../jobs/scheduler.ts";
import { loadConfig, withTarget } from "../context.ts";

function requirePgCron(flags: { pgCron?: boolean }): void {
  if (!flags.pgCron) {
    throw new VpbError(
      "INVALID_ARGUMENT",
      "Say which scheduler: --pg-cron (the only one this command manages; `start` and `worker` run the rest)",
      "Add --pg-cron.",
    );
  }
}

export function register(program: Command): void {
  const schedule = program
    .command("schedule")
    .description("install the pure-SQL recurring jobs into the database's own scheduler (Supabase: pg_cron)");
  schedule
    .command("install")
    .description(
      "schedule every pure-SQL job as a pg_cron job named vpb-db:NAME (schedules from VPB_JOBS); re-running " +
        "updates them and removes ours that are off",
    )
    .option("--pg-cron", "use pg_cron (required)")
    .action(async (flags: { pgCron?: boolean }) => {
      requirePgCron(flags);
      const config = loadConfig();
      const result = await withTarget(config, async (target) => {
        const jobs = resolveJobs({ url: target.url, config, embedded: target.embedded });
        const client = await connect(target.url, "vpb-db schedule");
        try {
          return await installPgCron(client, jobs);
        } finally {
          await client.end();
        }
      });
      process.stdout.write(
        `pg_cron: scheduled ${result.scheduled.join(", ") || "nothing"}` +
          (result.removed.length ? `; removed ${result.removed.join(", ")}` : "") +
          "\n",
      );
    });
  schedule
    .command("uninstall")
    .description("remove our pg_cron jobs (vpb-db:*), leaving every other pg_cron job alone")
    .option("--pg-cron", "use pg_cron (required)")
    .action(async (flags: { pgCron?: boolean }) => {
      requirePgCron(flags);
      const config = loadConfig();
      const result = await withTarget(config, async (target) => {
        const client = await connect(target.url, "vpb-db schedule");
        try {
          return await uninstallPgCron(client);
        } finally {
          await client.end();
        }
      });
      process.stdout.write(`pg_cron: removed ${result.removed.join(", ") || "nothing"}\n`);
    });
}
