import { createHash } from "node:crypto";
import type pg from "pg";
import PgBoss from "pg-boss";
import { connect } from "../db/target.ts";
import { VpbError } from "../errors.ts";
import { JOBS, type JobContext, type JobDefinition, type JobEnvironment } from "./registry.ts";
import { latestSlot, parseSchedule, type Schedule } from "./schedule.ts";

/** pg-boss's tables live in their own schema, which no API role can use (see lockDown). */
export const SCHEDULER_SCHEMA = "pgboss";
const DAY_S = 86_400;
/**
 * A slot that passed before this process started is run only if it passed this recently: as with cron
 * and pg_cron, slots missed while no scheduler ran are skipped (`vpb-db jobs run NAME` runs one by
 * hand), so that a start does not set off every daily job at once.
 */
const STARTUP_GRACE_MS = 5000;

export interface ScheduledJob {
  definition: JobDefinition;
  schedule: Schedule;
  /** Why it does not run here (off by configuration, or unavailable in this environment). */
  off: string | undefined;
}

/** The registry with VPB_JOBS applied: every job, and why any is off. */
export function resolveJobs(
  env: JobEnvironment,
  definitions: readonly JobDefinition[] = JOBS,
): ScheduledJob[] {
  const names = new Set(definitions.map((d) => d.name));
  const unknown = [...env.config.jobSchedules.keys()].filter((n) => !names.has(n));
  if (unknown.length > 0) {
    throw new VpbError(
      "CONFIG_INVALID",
      `VPB_JOBS names jobs that do not exist: ${unknown.join(", ")}`,
      `Use the names \`vpb-db jobs\` lists: ${[...names].join(", ")}.`,
    );
  }
  return definitions.map((definition) => {
    const schedule = env.config.jobSchedules.get(definition.name) ?? parseSchedule(definition.schedule);
    if (typeof schedule === "string") throw new Error(`job ${definition.name}: ${schedule}`);
    const off = schedule.kind === "off" ? "off in VPB_JOBS" : definition.unavailable?.(env);
    return { definition, schedule, off };
  });
}

/** The same id for the same job and slot in every process: the queue inserts it once, whoever is first. */
export function slotId(name: string, slot: number): string {
  const h = createHash("sha256")
    .update(`${name}\n${new Date(slot).toISOString()}`)
    .digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface SchedulerOptions {
  env: JobEnvironment;
  jobs: readonly ScheduledJob[];
  /** Run the jobs' work in this process (true), or only enqueue (false). */
  work?: boolean;
  /** How often the timekeeper looks for a due slot. */
  tickMs?: number;
  /** How recently a slot may have passed for a starting process to queue it (default 5 s). */
  startupGraceMs?: number;
  onLog?: (line: string) => void;
}

export interface Scheduler {
  boss: PgBoss;
  /** Stops taking work, waits for runs in flight (each bounded by its timeout), closes the pool. */
  stop(): Promise<void>;
}

/** Opens pg-boss on the database (creating its schema on first use) with the queues of `jobs`. */
export async function openQueues(
  env: JobEnvironment,
  jobs: readonly ScheduledJob[],
  options: { supervise: boolean; onLog: (line: string) => void },
): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: env.url,
    schema: SCHEDULER_SCHEMA,
    application_name: "vpb-db scheduler",
    max: 4,
    // The timekeeping is ours (second-level slots, one id per slot): pg-boss's cron ticks by the minute.
    schedule: false,
    supervise: options.supervise,
    // A slot's row (and so its id) stays in the job table long after any process could queue that
    // slot again; the history is kept two weeks in all.
    archiveCompletedAfterSeconds: 2 * DAY_S,
    archiveFailedAfterSeconds: 2 * DAY_S,
    deleteAfterDays: 12,
  });
  // pg-boss reports pool and maintenance errors as events; unheard, an 'error' event ends the process.
  boss.on("error", (e: Error) => options.onLog(`scheduler: ${safeMessage(e)}`));
  // The processes of one app start together (a deploy, `start` beside `worker`s): creating pg-boss's
  // schema, attaching its queue partitions and our revokes all update shared catalog rows, which
  // PostgreSQL refuses to do concurrently ("tuple concurrently updated"). One process at a time sets up.
  const setup = await connect(env.url, "vpb-db scheduler");
  try {
    await setup.query("select pg_advisory_lock(hashtext('vpb-db scheduler setup'))");
    await boss.start();
    await lockDown(setup);
    for (const { definition: d } of jobs) {
      const queue = {
        name: d.name,
        // One run at a time and at most one waiting: a long run never overlaps the next slot's.
        policy: "stately" as const,
        retryLimit: d.retry.limit,
        retryDelay: d.retry.delaySeconds,
        retryBackoff: d.retry.backoff,
        // A backstop for a process that died mid-run; a live one cancels its run at timeoutMs.
        expireInSeconds: Math.ceil(d.timeoutMs / 1000) + 60,
      };
      await boss.createQueue(d.name, queue);
      await boss.updateQueue(d.name, queue);
    }
  } finally {
    // Ending the session releases the lock, also when the setup failed half-way.
    await setup.end();
  }
  return boss;
}

/** The scheduler's schema holds job data and errors: no API role (anon, authenticated) may read it. */
async function lockDown(client: pg.Client): Promise<void> {
  await client.query(`revoke all on schema ${SCHEDULER_SCHEMA} from public`);
  const { rows } = await client.query<{ rolname: string }>(
    "select rolname from pg_roles where rolname in ('anon', 'authenticated')",
  );
  for (const { rolname } of rows) {
    await client.query(`revoke all on all tables in schema ${SCHEDULER_SCHEMA} from ${rolname}`);
    await client.query(`revoke all on schema ${SCHEDULER_SCHEMA} from ${rolname}`);
  }
}

/**
 * Starts the recurring jobs: every process enqueues each due slot under the slot's own id (so a slot
 * is queued once however many processes run), and pg-boss hands each queued run to exactly one of
 * them. Stops with `stop()`.
 */
export async function startScheduler(options: SchedulerOptions): Promise<Scheduler> {
  const log = options.onLog ?? (() => {});
  const active = options.jobs.filter((j) => j.off === undefined);
  // Once stopped, pg-boss's connections are still closing (pg-pool's end does not wait for the server
  // to read their goodbye): a server stopping right after may answer one with 57P01, no news by then.
  let stopped = false;
  const boss = await openQueues(options.env, active, {
    supervise: true,
    onLog: (line) => {
      if (!stopped) log(line);
    },
  });
  const runner = new JobRunner(options.env, log);
  if (options.work !== false) {
    for (const j of active) {
      await boss.work(
        j.definition.name,
        { pollingIntervalSeconds: options.env.config.jobPollMs / 1000, batchSize: 1 },
        async ([queued]) => runner.run(j.definition, queued?.id ?? ""),
      );
    }
  }
  const skew = await clockSkew(options.env.url);
  const sent = new Map<string, number>();
  let ticking = false;
  const tick = async () => {
    if (ticking) return;
    ticking = true;
    try {
      const now = Date.now() + skew;
      for (const j of active) {
        const slot = latestSlot(j.schedule, now);
        if (slot === undefined || sent.get(j.definition.name) === slot) continue;
        const first = !sent.has(j.definition.name);
        sent.set(j.definition.name, slot);
        if (first && now - slot > (options.startupGraceMs ?? STARTUP_GRACE_MS)) continue;
        await boss.send(
          j.definition.name,
          { slot: new Date(slot).toISOString() },
          { id: slotId(j.definition.name, slot) },
        );
      }
    } catch (e) {
      log(`scheduler: ${safeMessage(e)}`);
    } finally {
      ticking = false;
    }
  };
  await tick();
  const timer = setInterval(tick, options.tickMs ?? 1000);
  return {
    boss,
    stop: async () => {
      clearInterval(timer);
      while (ticking) await new Promise((r) => setTimeout(r, 20));
      // Runs in flight are cancelled rather than awaited (a backup may take hours): they fail with a
      // clear reason and are retried by the next process; the wait below is for their cleanup.
      runner.abortAll();
      // A failure to mark the cancelled runs (a pool already ending) is logged: pg-boss expires them.
      await boss
        .stop({ graceful: true, wait: true, timeout: 10_000 })
        .catch((e: unknown) => log(`scheduler: while stopping: ${safeMessage(e)}`));
      stopped = true;
      await Promise.race([runner.settled(), new Promise((r) => setTimeout(r, 10_000))]);
    },
  };
}

async function clockSkew(url: string): Promise<number> {
  const client = await connect(url, "vpb-db scheduler");
  try {
    const { rows } = await client.query<{ ms: string }>(
      "select extract(epoch from clock_timestamp()) * 1000 as ms",
    );
    return Math.round(Number(rows[0]?.ms) - Date.now());
  } finally {
    await client.end();
  }
}

/** Runs job definitions with their timeout, one run per job at a time in this process. */
export class JobRunner {
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly controllers = new Set<AbortController>();

  constructor(
    private readonly env: JobEnvironment,
    private readonly log: (line: string) => void,
  ) {}

  /** Resolves to the run's summary; throws a message-only error (no stack, no secrets) on failure. */
  async run(definition: JobDefinition, runId: string): Promise<Record<string, unknown>> {
    const name = definition.name;
    if (this.running.has(name)) {
      // A timed-out run whose code ignored the abort: the next one waits its turn rather than overlap.
      throw historyError(
        new VpbError(
          "JOB_FAILED",
          `${name}: the previous run is still finishing after its timeout`,
          "The run is retried; if this repeats, raise the job's timeout.",
        ),
      );
    }
    const controller = new AbortController();
    this.controllers.add(controller);
    const ctx: JobContext = { ...this.env, signal: controller.signal, runId, log: this.log };
    const work =
      definition.sql !== undefined
        ? runSql(ctx, name, definition.sql)
        : (definition.run?.(ctx) ?? Promise.resolve({}));
    const tracked = work.finally(() => this.running.delete(name));
    this.running.set(
      name,
      tracked.catch(() => {}),
    );
    // Aborted by the timeout or by stop(): the run ends as a failure with the abort's reason.
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    const timer = setTimeout(
      () =>
        controller.abort(
          new VpbError(
            "JOB_TIMEOUT",
            `${name} ran longer than its timeout of ${definition.timeoutMs} ms and was cancelled`,
            "Find what slowed it (the log, locks); raise its timeout if the work has grown.",
          ),
        ),
      definition.timeoutMs,
    );
    const started = performance.now();
    try {
      return await Promise.race([tracked, aborted]);
    } catch (e) {
      const error = historyError(e);
      this.log(
        `job ${name} (${runId}) failed after ${Math.round(performance.now() - started)} ms: ${error.message}`,
      );
      throw error;
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
  }

  /** Cancels every run in flight (the process is stopping); they are retried by whoever runs next. */
  abortAll(): void {
    for (const c of this.controllers)
      c.abort(new VpbError("JOB_FAILED", "the process running it stopped", "Nothing: the run is retried."));
  }

  /** Waits for every run of this process to end. */
  async settled(): Promise<void> {
    await Promise.all(this.running.values());
  }
}

/** A pure-SQL job on its own connection; the timeout cancels the statement on the server. */
async function runSql(ctx: JobContext, name: string, sql: string): Promise<Record<string, unknown>> {
  const client = await connect(ctx.url, `vpb-db job ${name}`);
  const pid = (client as unknown as { processID?: number }).processID;
  const cancel = async () => {
    const other = await connect(ctx.url, "vpb-db scheduler");
    try {
      await other.query("select pg_cancel_backend($1)", [pid]);
    } finally {
      await other.end();
    }
  };
  const onAbort = () => {
    cancel().catch(() => {});
  };
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const { rows } = await client.query(sql);
    return rows.length === 1 ? { ...rows[0] } : { rows: rows.length };
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    await client.end();
  }
}

/** The text kept in the run history and logs: code and message, connection strings masked, bounded. */
export function safeMessage(e: unknown): string {
  const raw =
    e instanceof VpbError
      ? `[${e.code}] ${e.message}`
      : e instanceof Error
        ? `${"code" in e && typeof e.code === "string" ? `[${e.code}] ` : ""}${e.message}`
        : String(e);
  return raw.replace(/postgres(ql)?:\/\/[^\s"']*/gi, "postgres://***").slice(0, 1000);
}

/** What pg-boss stores as a failed run's output: the safe message only, no stack. */
function historyError(e: unknown): Error {
  const error = new Error(safeMessage(e));
  error.stack = "";
  return error;
}
