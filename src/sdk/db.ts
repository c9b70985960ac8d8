import { createHash } from "node:crypto";
import pg from "pg";
import { dataError, fromDatabaseError, type VpbError } from "../errors.ts";
import type { StorageOptions } from "./storage-config.ts";

/** Who a call runs as: the role and JWT claims Supabase's API would set for the request. */
export interface Actor {
  role: "anon" | "authenticated" | "service_role";
  userId: string | undefined;
  /** The caller's verified JWT payload (the storage service), set as request.jwt.claims in place of {sub, role}. */
  claims?: Record<string, unknown>;
}

export interface DbOptions {
  /** Any PostgreSQL 15+ or Supabase URL; a transaction-mode pooler (PgBouncer, Supavisor) is fine. */
  connectionString: string;
  /** Pool size per process (default 10). Behind PgBouncer, keep it at or below default_pool_size. */
  max?: number;
  /** Milliseconds a query may run before the server cancels it (default 15000). */
  statementTimeoutMs?: number;
  applicationName?: string;
  /**
   * Prepare the SDK's queries once per connection (named statements), so that PostgreSQL plans each
   * once instead of at every call: the monthly-costs query goes from about 1 ms to under 0.2 ms, most
   * of it the planning of its partitions, and RLS costs less (BENCHMARKS.md).
   *
   * "auto" (the default) prepares wherever a connection keeps its statements: a direct connection or
   * a session-mode pooler. At the first call it opens two connections to see whether a transaction-mode
   * pooler hands one backend to both (as src/migrations/pooler.ts does); behind one (and on Supabase's
   * port 6543) it does not prepare, since PgBouncer before 1.21 and other transaction poolers lose
   * prepared statements between transactions. `true` always prepares: right for PgBouncer 1.21+ with
   * `max_prepared_statements` set, which keeps them per client. `false` never prepares.
   */
  prepare?: boolean | "auto";
  /** Files: needed by audio.upload, signedUrl and remove (the storage service's driver, secret and URL). */
  storage?: StorageOptions;
}

export type Tx = Pick<pg.PoolClient, "query">;

/** The pool and the settings every transaction of one `createDb` shares. */
export interface Runner {
  pool: pg.Pool;
  statementTimeoutMs: number;
  /** Whether to prepare; "auto" until the first call has found out. */
  prepare: boolean | "auto";
  /** The running detection of "auto", shared by the calls that wait for it. */
  detecting?: Promise<boolean> | undefined;
  connectionString: string;
}

/**
 * Runs `fn` in one transaction as the actor. The role and claims are set with set_config(..., true),
 * local to the transaction, and nothing else is left on the connection: a transaction-mode pooler
 * may hand the next transaction to another client safely.
 *
 * A connection lost on the way (server restart, failover, terminated backend, idle timeout) fails the
 * call with CONNECTION_LOST (retryable: the server rolled it back), or COMMIT_OUTCOME_UNKNOWN when
 * it went during COMMIT; the client is discarded and the pool opens fresh ones once the server is back.
 */
export async function inTransaction<T>(
  runner: Runner,
  actor: Actor,
  operation: string,
  fn: (tx: Tx) => Promise<T>,
  /** False when `fn` runs the app's SQL (asService().transaction): only the SDK's fixed texts are prepared. */
  sdkQueries = true,
): Promise<T> {
  // Decided before taking a connection: the probe needs server connections of its own, which a
  // pooler could not give while the waiting calls hold them all.
  const prepare = sdkQueries && (await shouldPrepare(runner));
  const checkedOut = await checkOut(runner, operation);
  const { client } = checkedOut;
  let phase: "work" | "commit" = "work";
  try {
    // One round trip, no parameters (a simple query): the values are escaped literals (a validated UUID or
    // verified JWT claims) and fixed words.
    // The role changes in a statement of its own: pg_stat_statements files a statement that switches
    // the role under the new role with its text as sent (constants not replaced by $n), which would
    // keep the first caller's claims (user id, email) for `inspect` and the dashboard to show.
    await client.query(
      `begin; select ${claimSettings(actor, (v) => client.escapeLiteral(v))}, ` +
        `set_config('statement_timeout', '${Math.trunc(runner.statementTimeoutMs)}ms', true); ` +
        `select set_config('role', ${client.escapeLiteral(actor.role)}, true)`,
    );
    const result = await fn(prepare ? preparing(client) : client);
    phase = "commit";
    await client.query("commit");
    // The app's own SQL may have changed the session (SET, SET ROLE): that must not reach the next user.
    if (!sdkQueries) await resetSession(client, checkedOut.discard);
    return result;
  } catch (e) {
    if (checkedOut.lost() || isConnectionError(e)) {
      checkedOut.discard();
      throw connectionError(operation, e, phase);
    }
    await client.query("rollback").catch(checkedOut.discard);
    if (!sdkQueries && !checkedOut.discarded()) await resetSession(client, checkedOut.discard);
    throw fromDatabaseError(operation, e);
  } finally {
    checkedOut.release();
  }
}

/**
 * A client checked out of the runner's pool, with what inTransaction and oneStatement both need. pg-pool
 * listens for a client's errors only while it is idle: without a listener of ours, a backend lost while
 * checked out (between two queries) is an unhandled 'error' event, which ends the process. A client
 * that lost its backend or was discarded is destroyed at release, not pooled, and keeps our listener
 * for any late error.
 */
async function checkOut(runner: Runner, operation: string) {
  let client: pg.PoolClient;
  try {
    client = await runner.pool.connect();
  } catch (e) {
    throw connectionError(operation, e, "connect");
  }
  let lost = false;
  let discarded = false;
  const onError = () => {
    lost = true;
  };
  client.on("error", onError);
  return {
    client,
    lost: () => lost,
    discarded: () => discarded,
    discard: () => {
      discarded = true;
    },
    release: () => {
      if (lost || discarded) client.release(true);
      else {
        client.removeListener("error", onError);
        client.release();
      }
    },
  };
}

/**
 * The set_config calls (a select list, local to the transaction) that give a transaction the actor's
 * claims as Supabase's API sets them. auth.uid() reads the legacy request.jwt.claim.sub before it parses
 * request.jwt.claims: set to the claims' own sub, it spares every policy check in the transaction that
 * JSON parse (BENCHMARKS.md, "Where RLS's overhead goes"). The other legacy keys are emptied, so a value
 * left on the connection never stands in for the caller. `literal` escapes a value as an SQL literal.
 */
export function claimSettings(actor: Actor, literal: (value: string) => string): string {
  return [
    ["request.jwt.claim", ""],
    ["request.jwt.claim.sub", subOf(actor)],
    ["request.jwt.claim.role", ""],
    ["request.jwt.claim.email", ""],
    ["request.jwt.claims", claimsOf(actor)],
  ]
    .map(([key, value]) => `set_config('${key}', ${literal(value as string)}, true)`)
    .join(", ");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The claims' sub when it is a UUID, which auth.uid() reads the same from either key; otherwise empty, and
 * auth.uid() decides from request.jwt.claims exactly as before (a missing, empty or malformed sub).
 */
function subOf(actor: Actor): string {
  const sub = (actor.claims ?? { sub: actor.userId }).sub; // as claimsOf picks them
  return typeof sub === "string" && UUID.test(sub) ? sub : "";
}

/** The request.jwt.claims of an actor: its verified JWT payload, or {sub, role}. */
export function claimsOf(actor: Actor): string {
  return JSON.stringify(
    actor.claims ?? (actor.userId ? { sub: actor.userId, role: actor.role } : { role: actor.role }),
  );
}

/**
 * Runs one statement on its own (its implicit transaction, one round trip), prepared where the
 * runner prepares, with the errors inTransaction gives: for a statement that sets the caller's role
 * and claims itself, such as private.storage_object_as (migration 017).
 */
export async function oneStatement<R extends pg.QueryResultRow>(
  runner: Runner,
  operation: string,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  const prepare = await shouldPrepare(runner);
  const checkedOut = await checkOut(runner, operation);
  try {
    return await checkedOut.client.query<R>(
      prepare ? { name: statementName(text), text, values } : { text, values },
    );
  } catch (e) {
    if (checkedOut.lost() || isConnectionError(e)) {
      checkedOut.discard();
      throw connectionError(operation, e, "work");
    }
    throw fromDatabaseError(operation, e);
  } finally {
    checkedOut.release();
  }
}

/** Back to the connection's defaults; a connection that cannot be reset is discarded (`discard`). */
async function resetSession(client: pg.PoolClient, discard: () => void): Promise<void> {
  await client.query("reset all; reset session authorization; reset role").catch(discard);
}

const SOCKET_ERRORS = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
]);

/** A failure of the connection itself (no server answer), as node-postgres reports it. */
function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") return SOCKET_ERRORS.has(code) || /^(08|57P0[1-3])/.test(code);
  return /Connection terminated|not queryable|connection timeout|timeout exceeded when trying to connect/i.test(
    e.message,
  );
}

function connectionError(operation: string, cause: unknown, phase: "connect" | "work" | "commit"): VpbError {
  const state = (cause as { code?: unknown } | undefined)?.code;
  const sqlstate = typeof state === "string" && /^[0-9A-Z]{5}$/.test(state) ? state : undefined;
  const pgInfo = sqlstate ? { pg: { code: sqlstate } } : {};
  if (phase === "connect") {
    return dataError("CONNECTION_FAILED", `${operation}: cannot reach the database`, { cause, ...pgInfo });
  }
  // An error answer to COMMIT means the server did not commit; silence means nobody knows.
  if (phase === "commit" && sqlstate === undefined) {
    return dataError("COMMIT_OUTCOME_UNKNOWN", `${operation}: the connection was lost during COMMIT`, {
      cause,
    });
  }
  return dataError("CONNECTION_LOST", `${operation}: the connection to the database was lost`, {
    cause,
    ...pgInfo,
  });
}

export function createRunner(options: DbOptions): Runner {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "vpb-db sdk",
  });
  // An idle client's error (server restart) must not crash the app; the next checkout reconnects.
  pool.on("error", () => {});
  return {
    pool,
    statementTimeoutMs: options.statementTimeoutMs ?? 15_000,
    prepare: options.prepare ?? "auto",
    connectionString: options.connectionString,
  };
}

/** The runner's decision, detecting it once for "auto". */
async function shouldPrepare(runner: Runner): Promise<boolean> {
  if (runner.prepare !== "auto") return runner.prepare;
  runner.detecting ??= keepsSessions(runner.connectionString).then(
    (keeps) => {
      runner.prepare = keeps;
      return keeps;
    },
    () => {
      // Undecided (the probe could not connect): this call does not prepare; the next one asks again.
      runner.detecting = undefined;
      return false;
    },
  );
  return runner.detecting;
}

/**
 * True when each connection keeps its own backend (direct, or a session-mode pooler); false behind a
 * transaction-mode pooler, which gives a second client's transaction the backend the first client
 * just released, or moves the first client's next statement to another backend.
 */
async function keepsSessions(connectionString: string): Promise<boolean> {
  if (new URL(connectionString).port === "6543") return false; // Supabase's transaction pooler
  const open = async () => {
    const c = new pg.Client({ connectionString, application_name: "vpb-db prepare probe" });
    c.on("error", () => {});
    await c.connect();
    return c;
  };
  const pid = async (c: pg.Client) =>
    Number((await c.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid);
  const first = await open();
  try {
    const other = await open();
    try {
      // One query at a time: a pooler with a single server connection must not deadlock the probe.
      const before = await pid(first);
      await other.query("begin");
      const otherPid = await pid(other);
      await other.query("commit");
      const after = await pid(first);
      return otherPid !== before && after === before;
    } finally {
      await other.end().catch(() => {});
    }
  } finally {
    await first.end().catch(() => {});
  }
}

const statementNames = new Map<string, string>();

/** The statement's name: one per text, so a connection prepares each of the SDK's queries once. */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `vpb_${createHash("sha256").update(text).digest("base64url").slice(0, 22)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** The client, with every parameterised text query sent as a named (prepared) statement. */
function preparing(client: pg.PoolClient): Tx {
  const query = (text: unknown, values?: unknown) =>
    typeof text === "string" && Array.isArray(values)
      ? client.query({ name: statementName(text), text, values })
      : client.query(text as string, values as unknown[]);
  return { query } as Tx;
}

export function requireUser(actor: Actor, operation: string): string {
  if (!actor.userId) throw dataError("INVALID_INPUT", `${operation}: needs a user (use asUser)`);
  return actor.userId;
}
