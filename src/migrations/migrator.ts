import path from "node:path";
import type pg from "pg";
import { applyBootstrap, type BootstrapResult } from "../db/bootstrap.ts";
import { connect } from "../db/target.ts";
import { isVpbError, VpbError } from "../errors.ts";
import { PACKAGE_ROOT } from "../package-root.ts";
import { acquireLock, releaseLock } from "./lock.ts";
import {
  APP_NUMBER_BASE,
  APP_PREFIX,
  type Migration,
  namespaceOf,
  readMigrationSets,
  type Script,
} from "./migration-files.ts";
import { assertNotTransactionPooled, refuseKnownPoolerPort } from "./pooler.ts";
import { SqlSyntaxError, type Statement, splitStatements } from "./sql-splitter.ts";
import { statementError } from "./statement-error.ts";
import { refusalOf } from "./statement-kinds.ts";
import {
  type AppliedRow,
  appliedMigrations,
  ensureTracking,
  recordApplied,
  recordEvent,
  recordRepaired,
  recordRolledBack,
} from "./tracking.ts";
import { assertTransactionOpen, withTransaction } from "./transaction.ts";

export interface MigratorOptions {
  url: string;
  migrationsDir: string;
  rollbacksDir: string;
  /** The app's own migrations, after vpb-db's, tracked as `app/NNN_name` (README: an app's migrations). */
  appMigrationsDir?: string | undefined;
  appRollbacksDir?: string | undefined;
  /** PostgreSQL interval text such as `10000ms`, set per migration. */
  lockTimeout: string;
  statementTimeout: string;
  /** How long to wait for another run's migration lock. */
  lockWaitMs: number;
  /** Apply a pending migration numbered below the latest applied one instead of refusing. */
  allowOutOfOrder?: boolean;
  /** Base for the file paths shown in messages. */
  cwd?: string;
  onProgress?: (event: ProgressEvent) => void;
}

export type ProgressEvent =
  | { kind: "lock-wait"; holderPid: number | undefined }
  | { kind: "bootstrap"; result: BootstrapResult }
  | { kind: "start"; name: string; direction: Direction }
  | { kind: "done"; name: string; direction: Direction; durationMs: number };

export type Direction = "up" | "down";

export interface MigrationResult {
  name: string;
  file: string;
  direction: Direction;
  status: "Success" | "Error" | "NotExecuted";
  durationMs?: number;
}

/** What a run did. It never throws for a migration problem: `error` says what stopped it. */
export interface RunResult {
  results: MigrationResult[];
  error: VpbError | undefined;
}

export interface StatusResult {
  applied: Array<AppliedRow & { file: string | undefined }>;
  pending: Migration[];
  /** Edited or missing applied files, pending files older than the latest applied. */
  problems: VpbError[];
}

/**
 * Options for this project's own migrations against `url`, with the configuration's defaults: for
 * scripts, benchmarks and tests that migrate a database they made themselves.
 */
export function projectMigratorOptions(
  url: string,
  overrides: Partial<MigratorOptions> = {},
): MigratorOptions {
  return {
    url,
    migrationsDir: path.join(PACKAGE_ROOT, "database/migrations"),
    rollbacksDir: path.join(PACKAGE_ROOT, "database/rollbacks"),
    lockTimeout: "10000ms",
    statementTimeout: "0ms",
    lockWaitMs: 60_000,
    cwd: PACKAGE_ROOT,
    ...overrides,
  };
}

/** Documented exit codes of `vpb-db migrate status`. */
export const STATUS_EXIT = { upToDate: 0, error: 1, pending: 3, drift: 4 } as const;

interface Session {
  client: pg.Client;
  migrations: Migration[];
  applied: AppliedRow[];
}

/** Connects, refuses poolers, takes the lock, bootstraps, reads files and the tracking table. */
async function withSession<T>(
  opts: MigratorOptions,
  write: boolean,
  fn: (s: Session) => Promise<T>,
): Promise<T> {
  const migrations = await readMigrationSets(opts, opts.cwd);
  if (write) refuseKnownPoolerPort(opts.url);
  const client = await connect(opts.url, "vpb-db migrate");
  let locked = false;
  try {
    if (write) {
      await assertNotTransactionPooled(client, opts.url);
      await acquireLock(client, opts.lockWaitMs, (holderPid) =>
        opts.onProgress?.({ kind: "lock-wait", holderPid }),
      );
      locked = true;
      // Not inside the optional call's arguments: `f?.(await g())` skips g() when f is undefined.
      const bootstrap = await applyBootstrap(client);
      opts.onProgress?.({ kind: "bootstrap", result: bootstrap });
      await ensureTracking(client);
    }
    return await fn({ client, migrations, applied: await appliedMigrations(client) });
  } finally {
    if (locked) await releaseLock(client).catch(() => {});
    await client.end().catch(() => {});
  }
}

function inspect(s: Session, allowOutOfOrder: boolean, checkChecksums = true): StatusResult {
  const byName = new Map(s.migrations.map((m) => [m.name, m]));
  const appliedNames = new Set(s.applied.map((a) => a.name));
  const problems: VpbError[] = [];
  const edited = s.applied.filter((a) => {
    const m = byName.get(a.name);
    return m !== undefined && m.checksum !== a.checksum;
  });
  if (checkChecksums && edited.length > 0) {
    problems.push(
      new VpbError(
        "MIGRATION_CHECKSUM_MISMATCH",
        `Applied migration${edited.length > 1 ? "s were" : " was"} edited: ${edited.map((a) => byName.get(a.name)?.file).join(", ")}`,
        "Undo the edit and write a new migration, or run `vpb-db migrate repair` if the change is deliberate.",
      ),
    );
  }
  const missing = s.applied.filter((a) => !byName.has(a.name));
  if (missing.length > 0) {
    problems.push(
      new VpbError(
        "MIGRATION_MISSING_FILE",
        `Applied migration${missing.length > 1 ? "s have" : " has"} no file: ${missing.map((a) => `${a.name}.sql`).join(", ")}`,
        "Restore the file from version control; applied migrations must stay in the migrations folder.",
      ),
    );
  }
  const pending = s.migrations.filter((m) => !appliedNames.has(m.name));
  // Each namespace in its own order: a new vpb-db migration is not late behind the app's.
  const latest = (namespace: "vpb" | "app") =>
    s.applied
      .filter((a) => namespaceOf(a.name) === namespace)
      .reduce((max, a) => Math.max(max, byName.get(a.name)?.number ?? numberOf(a.name)), -1);
  const early = pending.filter((m) => m.number < latest(namespaceOf(m.name)));
  if (!allowOutOfOrder && early.length > 0) {
    problems.push(
      new VpbError(
        "MIGRATION_OUT_OF_ORDER",
        `Pending migration${early.length > 1 ? "s are" : " is"} older than the latest applied one: ${early.map((m) => m.file).join(", ")}`,
        "Renumber it after the latest applied migration, or pass --allow-out-of-order if that order is safe.",
      ),
    );
  }
  const applied = s.applied.map((a) => ({ ...a, file: byName.get(a.name)?.file }));
  return { applied, pending, problems };
}

function numberOf(name: string): number {
  const app = name.startsWith(APP_PREFIX);
  const n = Number(/^(\d+)/.exec(app ? name.slice(APP_PREFIX.length) : name)?.[1] ?? -1);
  return app && n >= 0 ? APP_NUMBER_BASE + n : n;
}

/** Finds a migration by full name, file name or number (`002`, `2`, `002_application_tables`). */
function resolveTarget(migrations: Migration[], to: string): Migration {
  const wanted = to.replace(/\.sql$/, "");
  const found = migrations.find(
    (m) => m.name === wanted || (/^\d+$/.test(wanted) && m.number === Number(wanted)),
  );
  if (!found) {
    throw new VpbError(
      "MIGRATION_TARGET_UNKNOWN",
      `No migration is named "${to}".`,
      "Give a migration's number or name as `vpb-db migrate status` lists them.",
    );
  }
  return found;
}

/** What a script did before it stopped: for a no-transaction script, what stays applied. */
interface ScriptProgress {
  completed: number;
  total: number;
  invalidIndexes: string[];
}

const NOTHING_RAN = "Fix the statement above; nothing of this migration ran.";

/** Parses the script and refuses what the runner cannot run, before anything runs. */
async function checkedStatements(script: Script, code: ScriptErrorCode): Promise<Statement[]> {
  let statements: Statement[];
  try {
    statements = await splitStatements(script.sql);
  } catch (e) {
    if (!(e instanceof SqlSyntaxError)) throw e;
    const at = { offset: e.offset, text: "" };
    const cause =
      script.sql[e.offset] === "\\"
        ? new SqlSyntaxError(
            "psql meta-commands (\\set, \\i, \\copy…) are not allowed: vpb-db runs SQL only",
            e.offset,
          )
        : e;
    throw statementError(code, script, at, cause, NOTHING_RAN);
  }
  for (const st of statements) {
    const why = refusalOf(st);
    if (why) throw statementError(code, script, st, new Error(why), NOTHING_RAN);
  }
  return statements;
}

type ScriptErrorCode = "MIGRATION_FAILED" | "ROLLBACK_FAILED";

async function runScript(
  client: pg.Client,
  script: Script,
  opts: MigratorOptions,
  code: ScriptErrorCode,
  record: () => Promise<void>,
  progress: ScriptProgress = { completed: 0, total: 0, invalidIndexes: [] },
): Promise<void> {
  const statements = await checkedStatements(script, code);
  progress.total = statements.length;
  const timeouts = [opts.lockTimeout, opts.statementTimeout];
  if (script.noTransaction) {
    await runWithoutTransaction(client, script, statements, code, timeouts, progress);
    await withTransaction(client, record);
    return;
  }
  await withTransaction(client, async () => {
    await client.query(
      `select set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)`,
      timeouts,
    );
    for (const st of statements) {
      try {
        await client.query(st.text);
      } catch (cause) {
        throw statementError(code, script, st, cause);
      }
    }
    try {
      await assertTransactionOpen(client);
    } catch (cause) {
      throw new VpbError(
        code,
        `${script.file}: the migration's transaction ended before its last statement finished (${cause instanceof Error ? cause.message : String(cause)}); what ran before that may have been committed.`,
        "Compare the schema with the migration, undo what was committed, and remove whatever ends the transaction.",
        { cause },
      );
    }
    await record();
  });
}

/**
 * One statement at a time, each in its own implicit transaction: for CREATE INDEX CONCURRENTLY.
 * What ran before a failure stays; an index build that failed or was skipped by IF NOT EXISTS over
 * an earlier failed build leaves an INVALID index, which is found and reported.
 */
async function runWithoutTransaction(
  client: pg.Client,
  script: Script,
  statements: Statement[],
  code: ScriptErrorCode,
  timeouts: string[],
  progress: ScriptProgress,
): Promise<void> {
  await client.query(
    `select set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`,
    timeouts,
  );
  try {
    const invalidBefore = await invalidIndexOids(client);
    for (const st of statements) {
      let failure: unknown;
      try {
        await client.query(st.text);
        progress.completed++;
      } catch (cause) {
        failure = cause;
      }
      if (failure !== undefined || st.kind === "IndexStmt" || st.kind === "ReindexStmt") {
        progress.invalidIndexes = await newInvalidIndexes(client, invalidBefore, st);
      }
      if (failure === undefined && progress.invalidIndexes.length > 0) {
        failure = new Error(
          `index ${progress.invalidIndexes.join(", ")} is INVALID: an earlier concurrent build failed and IF NOT EXISTS kept it`,
        );
      }
      if (failure !== undefined) {
        throw statementError(code, script, st, failure, partialRemedy(code, progress));
      }
    }
  } finally {
    await client.query("reset lock_timeout; reset statement_timeout").catch(() => {});
  }
}

function partialRemedy(code: ScriptErrorCode, p: ScriptProgress): string {
  const done =
    p.completed === 0
      ? "No statement of it had completed"
      : `Its statement${p.completed > 1 ? "s 1 to" : ""} ${p.completed} (of ${p.total}) completed and stay${p.completed > 1 ? "" : "s"} applied`;
  const state =
    code === "ROLLBACK_FAILED"
      ? "the migration is still recorded as applied"
      : "the migration is not recorded as applied";
  const invalid =
    p.invalidIndexes.length > 0
      ? ` Drop the INVALID index${p.invalidIndexes.length > 1 ? "es" : ""} first (DROP INDEX CONCURRENTLY ${p.invalidIndexes.join(", ")}).`
      : "";
  return `This script runs outside a transaction (vpb:no-transaction). ${done}; ${state}.${invalid} Fix the failing statement and run again: every statement runs again, so each must be idempotent (IF NOT EXISTS).`;
}

async function invalidIndexOids(client: pg.Client): Promise<number[]> {
  const { rows } = await client.query<{ oid: number }>(
    "select indexrelid::int8 as oid from pg_index where not indisvalid",
  );
  return rows.map((r) => Number(r.oid));
}

/** INVALID indexes that were not before the script began, and the one `st` names if INVALID. */
async function newInvalidIndexes(client: pg.Client, before: number[], st: Statement): Promise<string[]> {
  const relation = (st.node.relation ?? {}) as { schemaname?: string; relname?: string };
  const named = st.kind === "IndexStmt" && typeof st.node.idxname === "string" ? st.node.idxname : null;
  const { rows } = await client.query<{ name: string }>(
    `select c.oid::regclass::text as name
       from pg_index i join pg_class c on c.oid = i.indexrelid
      where not i.indisvalid
        and (not (i.indexrelid::int8 = any($1::int8[]))
             or (c.relname = $2 and c.relnamespace = (
                   select t.relnamespace from pg_class t
                    where t.oid = to_regclass(case when $3::text is null then quote_ident($4)
                                                   else quote_ident($3) || '.' || quote_ident($4) end))))
      order by 1`,
    [before, named, relation.schemaname ?? null, relation.relname ?? null],
  );
  return rows.map((r) => r.name);
}

async function applyOne(s: Session, m: Migration, opts: MigratorOptions): Promise<MigrationResult> {
  opts.onProgress?.({ kind: "start", name: m.name, direction: "up" });
  const started = performance.now();
  const progress: ScriptProgress = { completed: 0, total: 0, invalidIndexes: [] };
  try {
    await runScript(
      s.client,
      m,
      opts,
      "MIGRATION_FAILED",
      () => recordApplied(s.client, m, Math.round(performance.now() - started), "applied"),
      progress,
    );
  } catch (e) {
    if (isVpbError(e)) {
      // Outside a transaction, the statements that completed stay: the event says how many.
      const partial = m.noTransaction
        ? {
            completed_statements: progress.completed,
            statements: progress.total,
            invalid_indexes: progress.invalidIndexes,
          }
        : {};
      await recordEvent(s.client, "failed", m.name, {
        checksum: m.checksum,
        detail: { code: e.pg?.code ?? e.code, error: e.message.split("\n")[0], ...partial },
      }).catch(() => {});
    }
    throw e;
  }
  const durationMs = Math.round(performance.now() - started);
  opts.onProgress?.({ kind: "done", name: m.name, direction: "up", durationMs });
  return { name: m.name, file: m.file, direction: "up", status: "Success", durationMs };
}

async function rollbackOne(s: Session, m: Migration, opts: MigratorOptions): Promise<MigrationResult> {
  if (!m.rollback) {
    throw new VpbError(
      "MIGRATION_ROLLBACK_MISSING",
      `${m.file} has no rollback script (expected ${m.name}.down.sql in the rollbacks folder).`,
      "Write the rollback script; it must undo exactly what the migration does.",
    );
  }
  opts.onProgress?.({ kind: "start", name: m.name, direction: "down" });
  const started = performance.now();
  await runScript(s.client, m.rollback, opts, "ROLLBACK_FAILED", () =>
    recordRolledBack(s.client, m.name, Math.round(performance.now() - started)),
  );
  const durationMs = Math.round(performance.now() - started);
  opts.onProgress?.({ kind: "done", name: m.name, direction: "down", durationMs });
  return { name: m.name, file: m.rollback.file, direction: "down", status: "Success", durationMs };
}

/** Runs `steps` in order, stopping at the first error; the rest are NotExecuted. */
async function runAll(
  steps: Migration[],
  direction: Direction,
  run: (m: Migration) => Promise<MigrationResult>,
): Promise<RunResult> {
  const results: MigrationResult[] = [];
  for (const m of steps) {
    try {
      results.push(await run(m));
    } catch (e) {
      if (!isVpbError(e)) throw e;
      results.push({ name: m.name, file: m.file, direction, status: "Error" });
      for (const rest of steps.slice(results.length)) {
        results.push({ name: rest.name, file: rest.file, direction, status: "NotExecuted" });
      }
      return { results, error: e };
    }
  }
  return { results, error: undefined };
}

/** Catches the VpbErrors of preconditions into the result, as migration errors are. */
async function guarded(fn: () => Promise<RunResult>): Promise<RunResult> {
  try {
    return await fn();
  } catch (e) {
    if (isVpbError(e)) return { results: [], error: e };
    throw e;
  }
}

/**
 * Applies pending migrations in order, each in its own transaction with its tracking row.
 * @example const { results, error } = await migrateUp(opts, { to: "003" });
 */
export function migrateUp(opts: MigratorOptions, args: { to?: string | undefined } = {}): Promise<RunResult> {
  return guarded(() => withSession(opts, true, (s) => upInSession(s, opts, args)));
}

function upInSession(
  s: Session,
  opts: MigratorOptions,
  args: { to?: string | undefined },
): Promise<RunResult> {
  const status = inspect(s, opts.allowOutOfOrder ?? false);
  if (status.problems[0]) return Promise.resolve({ results: [], error: status.problems[0] });
  const limit =
    args.to === undefined ? Number.POSITIVE_INFINITY : resolveTarget(s.migrations, args.to).number;
  const steps = status.pending.filter((m) => m.number <= limit);
  return runAll(steps, "up", (m) => applyOne(s, m, opts));
}

interface DownArgs {
  to?: string | undefined;
  steps?: number | undefined;
  all?: boolean | undefined;
}

/**
 * Rolls back applied migrations, newest first: one by default, `steps` of them, every one after
 * `to`, or all of them.
 */
export function migrateDown(opts: MigratorOptions, args: DownArgs = {}): Promise<RunResult> {
  return guarded(() => withSession(opts, true, (s) => downInSession(s, opts, args)));
}

function downInSession(s: Session, opts: MigratorOptions, args: DownArgs): Promise<RunResult> {
  const status = inspect(s, true);
  if (status.problems[0]) return Promise.resolve({ results: [], error: status.problems[0] });
  const byName = new Map(s.migrations.map((m) => [m.name, m]));
  // Applied rows come in number order: newest first is their reverse.
  const applied = s.applied.map((a) => byName.get(a.name) as Migration).reverse();
  let steps: Migration[];
  if (args.all) steps = applied;
  else if (args.to !== undefined) {
    const target = resolveTarget(s.migrations, args.to);
    steps = applied.filter((m) => m.number > target.number);
  } else steps = applied.slice(0, args.steps ?? 1);
  return runAll(steps, "down", (m) => rollbackOne(s, m, opts));
}

/** Reads what is applied, pending and drifted, without taking the lock or changing anything. */
export async function migrationStatus(opts: MigratorOptions): Promise<StatusResult> {
  return withSession(opts, false, async (s) => inspect(s, opts.allowOutOfOrder ?? false));
}

export function statusExitCode(status: StatusResult): number {
  if (status.problems.length > 0) return STATUS_EXIT.drift;
  return status.pending.length > 0 ? STATUS_EXIT.pending : STATUS_EXIT.upToDate;
}

/** The SQL `up` would run, file by file, after the same checks; runs nothing. */
export async function migrationPlan(
  opts: MigratorOptions,
  args: { to?: string | undefined } = {},
): Promise<{ steps: Migration[]; error: VpbError | undefined }> {
  try {
    return await withSession(opts, false, async (s) => {
      const status = inspect(s, opts.allowOutOfOrder ?? false);
      if (status.problems[0]) return { steps: [], error: status.problems[0] };
      const limit =
        args.to === undefined ? Number.POSITIVE_INFINITY : resolveTarget(s.migrations, args.to).number;
      return { steps: status.pending.filter((m) => m.number <= limit), error: undefined };
    });
  } catch (e) {
    if (isVpbError(e)) return { steps: [], error: e };
    throw e;
  }
}

/**
 * Records migrations as applied without running them, for a database whose schema already matches
 * (one created before vpb-db tracked it). Every migration up to `to` (default: all) is recorded.
 */
export function baseline(opts: MigratorOptions, args: { to?: string | undefined } = {}): Promise<RunResult> {
  return guarded(() =>
    withSession(opts, true, async (s) => {
      const limit =
        args.to === undefined ? Number.POSITIVE_INFINITY : resolveTarget(s.migrations, args.to).number;
      const steps = inspect(s, true, false).pending.filter((m) => m.number <= limit);
      return runAll(steps, "up", async (m) => {
        await withTransaction(s.client, () => recordApplied(s.client, m, 0, "baselined"));
        return { name: m.name, file: m.file, direction: "up", status: "Success", durationMs: 0 };
      });
    }),
  );
}

/** Accepts deliberate edits of applied files: their recorded checksums become the files' own. */
export function repair(opts: MigratorOptions): Promise<RunResult> {
  return guarded(() =>
    withSession(opts, true, async (s) => {
      const byName = new Map(s.migrations.map((m) => [m.name, m]));
      const edited = s.applied.filter(
        (a) => byName.has(a.name) && byName.get(a.name)?.checksum !== a.checksum,
      );
      const results: MigrationResult[] = [];
      for (const a of edited) {
        const m = byName.get(a.name) as Migration;
        await withTransaction(s.client, () => recordRepaired(s.client, a.name, a.checksum, m.checksum));
        results.push({ name: m.name, file: m.file, direction: "up", status: "Success" });
      }
      const remaining = inspect({ ...s, applied: await appliedMigrations(s.client) }, true).problems;
      return { results, error: remaining[0] };
    }),
  );
}

/**
 * Rolls every applied migration back with its rollback script, then applies them all again, under
 * one hold of the migration lock so that no other run slips in between. Refused on a database that is not local unless `force` is given.
 */
export async function reset(
  opts: MigratorOptions,
  args: { local: boolean; force: boolean },
): Promise<RunResult> {
  if (!args.local && !args.force) {
    return {
      results: [],
      error: new VpbError(
        "RESET_REFUSED",
        "reset rolls back every migration, and this database is not on this machine.",
        "Pass --force if you really mean to reset this database.",
      ),
    };
  }
  return guarded(() =>
    withSession(opts, true, async (s) => {
      const down = await downInSession(s, opts, { all: true });
      if (down.error) return down;
      const up = await upInSession({ ...s, applied: await appliedMigrations(s.client) }, opts, {});
      return { results: [...down.results, ...up.results], error: up.error };
    }),
  );
}
