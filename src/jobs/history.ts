import { randomUUID } from "node:crypto";
import type pg from "pg";
import { VpbError } from "../errors.ts";
import type { JobEnvironment } from "./registry.ts";
import { nextSlot } from "./schedule.ts";
import { JobRunner, openQueues, SCHEDULER_SCHEMA, type ScheduledJob } from "./scheduler.ts";

/** One run of a job: a slot (or a `jobs run`), with its attempts counted. */
export interface JobRun {
  id: string;
  name: string;
  /** created (waiting), retry (failed, will run again), active, completed, failed, cancelled. */
  state: string;
  startedAt: Date | null;
  finishedAt: Date | null;
  durationMs: number | null;
  /** Runs after the first (retries). */
  retries: number;
  /** The result's summary, or the error's message. */
  summary: string | null;
}

export interface JobStatus {
  name: string;
  description: string;
  schedule: string;
  off: string | undefined;
  lastRun: JobRun | null;
  nextRun: Date | null;
}

const RUNS = `
  select id, name, state, started_on, completed_on, retry_count, output
    from (select id, name, state, started_on, completed_on, retry_count, output, created_on from ${SCHEDULER_SCHEMA}.job
          union all
          select id, name, state, started_on, completed_on, retry_count, output, created_on from ${SCHEDULER_SCHEMA}.archive) r
   where name = any($1::text[]) and started_on is not null
   order by started_on desc
   limit $2`;

interface RunRow {
  id: string;
  name: string;
  state: string;
  started_on: Date | null;
  completed_on: Date | null;
  retry_count: number;
  output: Record<string, unknown> | null;
}

function toRun(r: RunRow): JobRun {
  const finished = r.state === "active" || r.state === "created" ? null : r.completed_on;
  const output = r.output ?? null;
  const summary =
    output === null
      ? null
      : typeof output.message === "string" && r.state !== "completed"
        ? output.message
        : JSON.stringify(output);
  return {
    id: r.id,
    name: r.name,
    state: r.state,
    startedAt: r.started_on,
    finishedAt: finished,
    durationMs: finished && r.started_on ? finished.getTime() - r.started_on.getTime() : null,
    retries: r.retry_count,
    summary,
  };
}

/** The latest runs of the named jobs, newest first; none before the scheduler ever ran. */
export async function recentRuns(client: pg.Client, names: string[], limit = 100): Promise<JobRun[]> {
  const { rows } = await client.query<{ ok: boolean }>("select to_regclass($1) is not null as ok", [
    `${SCHEDULER_SCHEMA}.archive`,
  ]);
  if (!rows[0]?.ok) return [];
  return (await client.query<RunRow>(RUNS, [names, limit])).rows.map(toRun);
}

/** Every job with its schedule, last run and next slot. */
export async function jobStatuses(client: pg.Client, jobs: readonly ScheduledJob[]): Promise<JobStatus[]> {
  const names = jobs.map((j) => j.definition.name);
  const last = new Map<string, JobRun>();
  for (const name of names) {
    const [run] = await recentRuns(client, [name], 1);
    if (run) last.set(name, run);
  }
  const now = Date.now();
  return jobs.map((j) => {
    const next = j.off === undefined ? nextSlot(j.schedule, now) : undefined;
    return {
      name: j.definition.name,
      description: j.definition.description,
      schedule: j.schedule.text,
      off: j.off,
      lastRun: last.get(j.definition.name) ?? null,
      nextRun: next === undefined ? null : new Date(next),
    };
  });
}

/**
 * Runs one job now through the same queue as the schedules: if a run of it is already waiting, that
 * one is awaited instead of adding another, and a run in another process is never overlapped. This
 * process works the queue too, so the run happens even where no scheduler runs; it returns the run
 * when it has finished (retries included).
 */
export async function runJobNow(
  env: JobEnvironment,
  job: ScheduledJob,
  options: { onLog: (line: string) => void; pollMs?: number },
): Promise<JobRun> {
  const name = job.definition.name;
  if (job.off !== undefined) {
    throw new VpbError(
      "INVALID_ARGUMENT",
      `${name} cannot run here: ${job.off}`,
      "Run it where it is available.",
    );
  }
  const boss = await openQueues(env, [job], { supervise: false, onLog: options.onLog });
  const runner = new JobRunner(env, options.onLog);
  try {
    let id = await boss.send(name, { manual: true }, { id: randomUUID() });
    if (id === null) {
      // The stately queue holds one waiting run at most: that one is the run to wait for.
      const { rows } = await boss
        .getDb()
        .executeSql(`select id from ${SCHEDULER_SCHEMA}.job where name = $1 and state = 'created'`, [name]);
      id = (rows[0] as { id: string } | undefined)?.id ?? null;
    }
    if (id === null) {
      throw new VpbError(
        "JOB_FAILED",
        `${name} could not be queued (a run of it was waiting, and was taken meanwhile)`,
        "Run the command again.",
      );
    }
    await boss.work(name, { pollingIntervalSeconds: 0.5, batchSize: 1 }, async ([queued]) =>
      runner.run(job.definition, queued?.id ?? ""),
    );
    for (;;) {
      const found = await boss.getJobById(name, id, { includeArchive: true });
      if (found && ["completed", "failed", "cancelled"].includes(found.state)) {
        return toRun({
          id,
          name,
          state: found.state,
          started_on: found.startedOn,
          completed_on: found.completedOn,
          retry_count: found.retryCount,
          output: found.output as Record<string, unknown> | null,
        });
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
  } finally {
    runner.abortAll();
    await boss.stop({ graceful: true, wait: true, timeout: 5000 });
  }
}
