import { createHash } from "node:crypto";
import pg from "pg";
import { fromDatabaseError, SdkError } from "./errors.ts";

/** Who a call runs as: the role and JWT claims Supabase's API would set for the request. */
export interface Actor {
  role: "authenticated" | "service_role";
  userId: string | undefined;
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
   * of it the planning of its partitions, and RLS costs less (BENCHMARKS.md). Needs a direct connection or
   * a session-mode pooler: PgBouncer before 1.21 and other transaction-mode poolers do not keep
   * prepared statements across transactions (default false).
   */
  prepare?: boolean;
}

export type Tx = Pick<pg.PoolClient, "query">;

/** The pool and the settings every transaction of one `createDb` shares. */
export interface Runner {
  pool: pg.Pool;
  statementTimeoutMs: number;
  prepare: boolean;
}

/**
 * Runs `fn` in one transaction as the actor. The role and claims are set with set_config(..., true),
 * local to the transaction, and nothing else is left on the connection: a transaction-mode pooler
 * may hand the next transaction to another client safely.
 */
export async function inTransaction<T>(
  runner: Runner,
  actor: Actor,
  operation: string,
  fn: (tx: Tx) => Promise<T>,
  /** False when `fn` runs the app's SQL (asService().transaction): only the SDK's fixed texts are prepared. */
  sdkQueries = true,
): Promise<T> {
  const client = await runner.pool.connect();
  let broken = false;
  try {
    const claims = JSON.stringify(
      actor.userId ? { sub: actor.userId, role: actor.role } : { role: actor.role },
    );
    // One round trip, no parameters (a simple query): the values are a validated UUID and fixed words.
    await client.query(
      `begin; select set_config('request.jwt.claims', ${client.escapeLiteral(claims)}, true), ` +
        `set_config('role', ${client.escapeLiteral(actor.role)}, true), ` +
        `set_config('statement_timeout', '${Math.trunc(runner.statementTimeoutMs)}ms', true)`,
    );
    const result = await fn(runner.prepare && sdkQueries ? preparing(client) : client);
    await client.query("commit");
    return result;
  } catch (e) {
    await client.query("rollback").catch(() => {
      broken = true;
    });
    throw fromDatabaseError(operation, e);
  } finally {
    client.release(broken);
  }
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
    prepare: options.prepare ?? false,
  };
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
  if (!actor.userId) throw new SdkError("invalid_input", `${operation}: needs a user (use asUser)`);
  return actor.userId;
}
