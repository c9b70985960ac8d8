/**
 * The app's main queries, as the SDK runs them: the source of database/QUERY_PATTERNS.md (whose
 * plans `npm run bench` records at scale), of the plan-shape test, and of the benchmarks.
 */
export interface QueryPattern {
  name: string;
  /** Why the query looks as it does and what the plan must be. */
  why: string;
  sql: string;
  /** Index names the plan must use; "a|b" accepts either. */
  mustUse: string[];
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

export const QUERY_PATTERNS: QueryPattern[] = [
  {
    name: "A user's projects, page by page",
    why:
      "Keyset pagination on (updated_at, id): the next page starts right after the last row seen, so page 1,000 costs what page 1 " +
      "costs. projects_owner_id_updated_at_idx (owner_id, updated_at desc, id desc) returns the rows already in order; the row " +
      "comparison (updated_at, id) < (...) is an index condition, and LIMIT stops the scan after one page.",
    sql: `select id, name, updated_at, version from public.projects
 where owner_id = $1 and deleted_at is null
   and (updated_at, id) < ($2::timestamptz, $3::uuid)
 order by updated_at desc, id desc limit 20`,
    params: (ctx) => [ctx.userId, "infinity", "ffffffff-ffff-ffff-ffff-ffffffffffff"],
    mustUse: ["projects_owner_id_updated_at_idx"],
    noSeqScan: ["projects"],
  },
  {
    name: "A project with its components",
    why:
      "One round trip: the project by primary key and its components aggregated in stacking order, found through an index " +
      "leading with project_id (project_components_project_id_z_index_idx, which also serves the foreign key, or the " +
      "(project_id, parent_id) one: with about twenty rows per project the planner may take either and sort).",
    sql: `select p.id, p.name, p.layout, p.version,
       coalesce((select json_agg(c order by c.z_index, c.id) from public.project_components c where c.project_id = p.id), '[]') as components
  from public.projects p where p.id = $1::uuid`,
    params: (ctx) => [ctx.projectId],
    // Either index leading with project_id: the planner picks by cost (a bitmap scan and a sort of ~20 rows is fine).
    // Either unique index leading with id: the primary key or (id, owner_id), the target of content's owner key.
    mustUse: ["projects_pkey|projects_id_owner_id_key", "project_components_project_id_"],
    noSeqScan: ["projects", "project_components"],
  },
  {
    name: "A project's prompt history",
    why: "Newest first with a keyset cursor, through prompt_generations_project_id_created_at_idx (project_id, created_at desc, id desc).",
    sql: `select id, model, status, cost_usd, created_at from public.prompt_generations
 where project_id = $1::uuid and (created_at, id) < ($2::timestamptz, $3::uuid)
 order by created_at desc, id desc limit 20`,
    params: (ctx) => [ctx.projectId, "infinity", "ffffffff-ffff-ffff-ffff-ffffffffffff"],
    mustUse: ["prompt_generations_project_id_created_at_idx"],
    noSeqScan: ["prompt_generations"],
  },
  {
    name: "A user's API cost this month",
    why:
      "get_monthly_api_costs' query: the month's bounds prune api_usage to one monthly partition (plus none of the others), and " +
      "the user's rows come from that partition's (user_id, occurred_at desc) index.",
    sql: `select provider, model, count(*), sum(input_tokens), sum(output_tokens), sum(cost_usd)
  from public.api_usage
 where user_id = $1 and occurred_at >= date_trunc('month', now()) and occurred_at < date_trunc('month', now()) + interval '1 month'
 group by provider, model`,
    params: (ctx) => [ctx.userId],
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
    sql: `select date_trunc('day', occurred_at) as day, count(*) from public.user_activity
 where user_id = $1 and occurred_at >= now() - interval '30 days' and occurred_at <= now()
 group by 1 order by 1`,
    params: (ctx) => [ctx.userId],
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
