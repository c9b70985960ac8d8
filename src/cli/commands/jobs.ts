import type { Command } from "commander";
import { connect } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { type JobRun, jobStatuses, runJobNow } from "../../jobs/history.ts";
import { JOBS } from "../../jobs/registry.ts";
import { resolveJobs } from "../../jobs/scheduler.ts";
import { loadConfig, progressLine, withTarget } from "../context.ts";
import { toJson } from "../report.ts";

const when = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : "-");
const took = (ms: number | null) =>
  ms === null ? "-" : ms < 10_000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;

function describeRun(r: JobRun | null): string {
  if (!r) return "never run";
  const retries = r.retries > 0 ? `, ${r.retries} retr${r.retries === 1 ? "y" : "ies"}` : "";
  return `${r.state} ${when(r.startedAt)} in ${took(r.durationMs)}${retries}${r.summary ? `: ${r.summary}` : ""}`;
}

export function register(program: Command): void {
  const jobs = program
    .command("jobs")
    .description(
      "list the recurring jobs: schedule (UTC), last run (outcome, start, duration, result or error) and next run",
    )
    .option("--json", "print the list as JSON")
    .action(async (flags: { json?: boolean }) => {
      const config = loadConfig();
      const statuses = await withTarget(
        config,
        async (target) => {
          const list = resolveJobs({ url: target.url, config, embedded: target.embedded });
          const client = await connect(target.url, "vpb-db jobs");
          try {
            return await jobStatuses(client, list);
          } finally {
            await client.end();
          }
        },
        { existing: true },
      );
      if (flags.json) {
        process.stdout.write(`${toJson(statuses)}\n`);
        return;
      }
      const lines = statuses.map(
        (s) =>
          `${s.name.padEnd(22)} ${s.schedule.padEnd(14)} ` +
          (s.off ? `off (${s.off})` : `next ${when(s.nextRun)}  last ${describeRun(s.lastRun)}`),
      );
      process.stdout.write(`${lines.join("\n")}\n`);
    });
  jobs
    .command("run")
    .description(
      "run one job now through the scheduler's queue (never beside a run of it in progress) and print its outcome; exit 1 if it failed",
    )
    .argument("<name>", "the job, as `vpb-db jobs` lists it")
    .option("--json", "print the run as JSON")
    .action(async (name: string, flags: { json?: boolean }) => {
      const config = loadConfig();
      // A name no job has is a usage error, told before any server is attached to or started.
      if (!JOBS.some((j) => j.name === name)) throw unknownJob(name);
      const run = await withTarget(config, async (target) => {
        const env = { url: target.url, config, embedded: target.embedded };
        const all = resolveJobs(env);
        const job = all.find((j) => j.definition.name === name);
        if (!job) throw unknownJob(name);
        return await runJobNow(env, job, { onLog: progressLine });
      });
      process.stdout.write(flags.json ? `${toJson(run)}\n` : `${name}: ${describeRun(run)}\n`);
      if (run.state !== "completed") {
        throw new VpbError(
          "JOB_FAILED",
          `${name} ${run.state}: ${run.summary ?? "no message"}`,
          "Read the error above; the run is in `vpb-db jobs`.",
        );
      }
    });
}

function unknownJob(name: string): VpbError {
  return new VpbError(
    "JOB_UNKNOWN",
    `There is no job named "${name}"`,
    `Use one of: ${JOBS.map((j) => j.name).join(", ")}.`,
  );
}
