import pg from "pg";
import { VpbError } from "../errors.ts";
import {
  BLOCKING,
  CACHE_HIT,
  INDEX_SIZES,
  LONG_RUNNING,
  STATEMENTS_SCHEMA,
  TABLE_BLOAT,
  TABLE_SIZES,
  topQueriesSql,
  UNUSED_INDEXES,
} from "./inspect-queries.ts";
import { safeQueryText } from "./query-text.ts";

/** The sections of `vpb-db inspect`, in the order they are printed. */
export const INSPECT_SECTIONS = [
  "queries",
  "table-sizes",
  "index-sizes",
  "bloat",
  "unused-indexes",
  "cache-hit",
  "blocking",
  "long-running",
] as const;
export type InspectSection = (typeof INSPECT_SECTIONS)[number];

export interface TopQuery {
  queryid: string;
  /** pg_stat_statements' normalized text (constants are $n), at most 300 characters. */
  query: string;
  calls: number;
  total_ms: number;
  mean_ms: number;
  max_ms: number;
  rows: number;
  cache_hit_pct: number | null;
  time_pct: number | null;
}
export interface TableSize {
  name: string;
  table_bytes: number;
  index_bytes: number;
  total_bytes: number;
  estimated_rows: number;
}
export interface IndexSize {
  name: string;
  table_name: string;
  bytes: number;
}
export interface TableBloat {
  name: string;
  bloat_ratio: number;
  wasted_bytes: number;
}
export interface UnusedIndex {
  name: string;
  table_name: string;
  scans: number;
  bytes: number;
}
export interface CacheHit {
  name: "tables" | "indexes";
  ratio_pct: number | null;
}
export interface BlockingLock {
  blocked_pid: number;
  blocked_query: string;
  waiting_ms: number;
  blocking_pid: number;
  blocking_state: string | null;
  blocking_query: string;
}
export interface LongRunning {
  pid: number;
  state: string | null;
  application: string;
  duration_ms: number;
  query: string;
}

/** One section: its rows, or a note saying why there are none to show (pg_stat_statements missing). */
export interface Section<T> {
  rows: T[];
  note?: string;
}

export interface InspectReport {
  database: string;
  server_version: string;
  queries?: Section<TopQuery>;
  "table-sizes"?: Section<TableSize>;
  "index-sizes"?: Section<IndexSize>;
  bloat?: Section<TableBloat>;
  "unused-indexes"?: Section<UnusedIndex>;
  "cache-hit"?: Section<CacheHit>;
  blocking?: Section<BlockingLock>;
  "long-running"?: Section<LongRunning>;
}

export interface InspectOptions {
  /** Default: every section. */
  sections?: readonly InspectSection[];
  /** Rows per section (queries, sizes, bloat, unused indexes, long-running). */
  limit?: number;
  /** A statement running longer than this is long-running. */
  longRunningMs?: number;
}

export const INSPECT_DEFAULTS = { limit: 10, longRunningMs: 5 * 60_000 } as const;

/**
 * Reads the statistics of the database `client` is connected to, like `supabase inspect db`. Read-only:
 * it creates nothing (not even pg_stat_statements, whose absence is a note in its section).
 */
export async function inspectDatabase(
  client: pg.Client,
  options: InspectOptions = {},
): Promise<InspectReport> {
  const sections = options.sections ?? INSPECT_SECTIONS;
  const limit = options.limit ?? INSPECT_DEFAULTS.limit;
  const longRunningMs = options.longRunningMs ?? INSPECT_DEFAULTS.longRunningMs;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new VpbError(
      "INVALID_ARGUMENT",
      "The row limit must be a whole number from 1.",
      "Pass e.g. --limit 10.",
    );
  }
  const { rows: head } = await client.query<{ database: string; server_version: string }>(
    "select current_database() as database, current_setting('server_version') as server_version",
  );
  const report: InspectReport = {
    database: head[0]?.database ?? "",
    server_version: head[0]?.server_version ?? "",
  };
  const rows = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
    ({ rows: (await client.query<T>(sql, params)).rows }) as Section<T>;
  for (const section of sections) {
    switch (section) {
      case "queries":
        report.queries = await topQueries(client, limit);
        break;
      case "table-sizes":
        report["table-sizes"] = await rows<TableSize>(TABLE_SIZES, [limit]);
        break;
      case "index-sizes":
        report["index-sizes"] = await rows<IndexSize>(INDEX_SIZES, [limit]);
        break;
      case "bloat":
        report.bloat = await rows<TableBloat>(TABLE_BLOAT, [limit]);
        report.bloat.note = "estimated from the planner's statistics: run ANALYZE first for a fresh estimate";
        break;
      case "unused-indexes":
        report["unused-indexes"] = await rows<UnusedIndex>(UNUSED_INDEXES, [limit]);
        report["unused-indexes"].note = "not scanned since the statistics were last reset";
        break;
      case "cache-hit":
        report["cache-hit"] = await rows<CacheHit>(CACHE_HIT);
        break;
      case "blocking": {
        const found = await rows<BlockingLock>(BLOCKING);
        for (const r of found.rows) {
          r.blocked_query = await safeQueryText(r.blocked_query);
          r.blocking_query = await safeQueryText(r.blocking_query);
        }
        report.blocking = found;
        break;
      }
      case "long-running": {
        const found = await rows<LongRunning>(LONG_RUNNING, [longRunningMs, limit]);
        for (const r of found.rows) r.query = await safeQueryText(r.query);
        report["long-running"] = found;
        break;
      }
    }
  }
  return report;
}

async function topQueries(client: pg.Client, limit: number): Promise<Section<TopQuery>> {
  const { rows } = await client.query<{ schema: string }>(STATEMENTS_SCHEMA);
  const schema = rows[0]?.schema;
  if (schema === undefined) {
    return {
      rows: [],
      note:
        "pg_stat_statements is not installed in this database: run `create extension pg_stat_statements` " +
        "(the server must also load it through shared_preload_libraries).",
    };
  }
  try {
    const result = await client.query<TopQuery>(topQueriesSql(pg.escapeIdentifier(schema)), [limit]);
    // pg_stat_statements' texts have $n for constants, except a statement that switched the role
    // (filed under the new role as sent): normalized here too, whoever sent it.
    for (const r of result.rows) r.query = await safeQueryText(r.query);
    return { rows: result.rows };
  } catch (e) {
    // 55000: installed, but the server was started without it in shared_preload_libraries.
    if ((e as { code?: string }).code !== "55000") throw e;
    return {
      rows: [],
      note:
        "pg_stat_statements is installed but the server does not load it: add it to " +
        "shared_preload_libraries and restart the server.",
    };
  }
}
