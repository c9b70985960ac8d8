/**
 * The app's main queries at scale, each the very text the SDK runs (src/sdk/queries.ts), with
 * parameters for one user and project and what its plan must be: the source of
 * database/QUERY_PATTERNS.md (whose plans `npm run bench` records at scale), of the plan-shape test,
 * and of the benchmarks. Test and benchmark code: not part of the published package.
 */
import {
  ACTIVITY_TREND,
  MONTHLY_COSTS,
  PROJECT_WITH_COMPONENTS,
  PROJECTS_PAGE,
  PROMPT_HISTORY_PAGE,
} from "../src/sdk/queries.ts";

export interface QueryPattern {
  name: string;
  /** Why the query looks as it does and what the plan must be. */
  why: string;
  /** The SDK's text. */
  sql: string;
  /** Index names the plan must use; "a|b" accepts either. */
  mustUse: string[];
  /** Text an index scan's condition must contain (a keyset bound that must not become a filter). */
  indexCond?: string;
  /** Relations the plan must not read with a sequential scan. */
  noSeqScan: string[];
  /** Parameters for a user and one of their projects. */
  params: (ctx: PatternContext) => unknown[];
  /** For a partitioned table: the only partitions the plan may read (all others pruned). */
  partitions?: { table: string; allowed: (now: Date) => string[] };
}

export interface PatternContext {
  userId: string;
  projectId: string;
}

const LAST = ["infinity", "ffffffff-ffff-ffff-ffff-ffffffffffff"];

export const QUERY_PATTERNS: QueryPattern[] = [
  {
    name: "A user's projects, first page",
    why:
      "projects_owner_id_updated_at_idx (owner_id, updated_at desc, id desc) returns the user's live projects already in " +
      "order, and LIMIT stops the scan after one page (plus one row, which says whether there is a next page).",
    sql: PROJECTS_PAGE.first,
    params: (ctx) => [ctx.userId, 21],
    mustUse: ["projects_owner_id_updated_at_idx"],
    noSeqScan: ["projects"],
  },
  {
    name: "A user's projects, the page after a cursor",
    why:
      "Keyset pagination on (updated_at, id): the next page starts right after the last row seen, so page 1,000 costs what page 1 " +
      "costs. The row comparison (updated_at, id) < (...) is an index condition of projects_owner_id_updated_at_idx, also in a " +
      "prepared statement's generic plan (a single text with `$2 is null or ...` would lose that, so the SDK has two).",
    sql: PROJECTS_PAGE.next,
    params: (ctx) => [ctx.userId, ...LAST, 21],
    indexCond: "ROW(updated_at, id) <",
    mustUse: ["projects_owner_id_updated_at_idx"],
    noSeqScan: ["projects"],
  },
  {
    name: "A project with its components",
    why:
      "One round trip: the project by primary key and its components aggregated in stacking order, found through an index " +
      "leading with project_id (project_components_project_id_z_index_idx, which also serves the foreign key, or the " +
      "(project_id, parent_id) one: with about twenty rows per project the planner may take either and sort).",
    sql: PROJECT_WITH_COMPONENTS,
    params: (ctx) => [ctx.projectId],
    // Either index leading with project_id: the planner picks by cost (a bitmap scan and a sort of ~20 rows is fine).
    // Either unique index leading with id: the primary key or (id, owner_id), the target of content's owner key.
    mustUse: ["projects_pkey|projects_id_owner_id_key", "project_components_project_id_"],
    noSeqScan: ["projects", "project_components"],
  },
  {
    name: "A project's prompt history, the page after a cursor",
    why: "Newest first with a keyset cursor, through prompt_generations_project_id_created_at_idx (project_id, created_at desc, id desc).",
    sql: PROMPT_HISTORY_PAGE.next,
    params: (ctx) => [ctx.projectId, ...LAST, 21],
    indexCond: "ROW(created_at, id) <",
    mustUse: ["prompt_generations_project_id_created_at_idx"],
    noSeqScan: ["prompt_generations"],
  },
  {
    name: "A user's API cost this month",
    why:
      "The SDK calls get_monthly_api_costs; the plan shown is the query inside it: the month's bounds prune api_usage to one " +
      "monthly partition, and the user's rows come from that partition's (user_id, occurred_at desc) index.",
    sql: MONTHLY_COSTS,
    params: (ctx) => [ctx.userId, new Date().toISOString().slice(0, 10)],
    mustUse: ["user_id_occurred_at_idx"],
    noSeqScan: ["api_usage"],
    partitions: { table: "api_usage", allowed: (now) => [partitionName("api_usage", now, 0)] },
  },
  {
    name: "A user's activity trend (last 30 days, by day)",
    why:
      "Both bounds matter: with `occurred_at <= now()` as well as the lower bound, partition pruning keeps only the current and " +
      "previous month (without it, every future partition and the default one are read too); in each, the (user_id, occurred_at " +
      "desc) index finds the user's rows of the window.",
    sql: ACTIVITY_TREND,
    params: (ctx) => [ctx.userId, 30],
    mustUse: ["user_id_occurred_at_idx"],
    noSeqScan: ["user_activity"],
    partitions: {
      table: "user_activity",
      allowed: (now) => [partitionName("user_activity", now, 0), partitionName("user_activity", now, -1)],
    },
  },
];

/** The monthly partition of `table` that holds `monthsFrom` months from `now` (UTC). */
export function partitionName(table: string, now: Date, monthsFrom: number): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + monthsFrom, 1));
  return `${table}_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}
