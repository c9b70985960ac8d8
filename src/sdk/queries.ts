/**
 * The SDK's read queries at scale, as text: the one source that the SDK runs, that the plan test
 * checks (planned once and as a prepared statement's generic plan), that the benchmark times, and
 * that database/QUERY_PATTERNS.md shows. Edit a query here and all four follow.
 *
 * Keyset pages come in two texts, a first page and the pages after a cursor, rather than one text
 * with `$2 is null or (…) < (…)`: under a prepared statement's generic plan, that OR keeps the row
 * comparison out of the index condition.
 */

export const PROJECT_COLUMNS =
  "id, owner_id, name, description, layout, settings, version, deleted_at, created_at, updated_at";

export const PROMPT_COLUMNS =
  "id, project_id, owner_id, user_id, input_snapshot, output, model, status, input_tokens, output_tokens, cost_usd, latency_ms, error_message, created_at, completed_at";

export const USER_COLUMNS =
  "id, email, email_verified, name, image, display_name, plan, settings, created_at, updated_at, last_seen_at";

export const AUDIO_COLUMNS =
  "id, project_id, owner_id, user_id, component_id, bucket_id, storage_path, mime_type, size_bytes, duration_ms, sample_rate_hz, transcript, transcript_status, created_at, updated_at";

/** A keyset-paged read, newest first: $1 the filter value, then ($2 at, $3 id) after a cursor, then the limit. */
export interface KeysetQuery {
  first: string;
  next: string;
}

function keyset(columns: string, table: string, filter: string, sortAt: string): KeysetQuery {
  const head = `select ${columns}, ${sortAt}::text as cursor_at from ${table}\n where ${filter}`;
  const order = `order by ${sortAt} desc, id desc`;
  return {
    first: `${head}\n ${order} limit $2`,
    next: `${head}\n   and (${sortAt}, id) < ($2::timestamptz, $3::uuid)\n ${order} limit $4`,
  };
}

/** A user's live projects, most recently updated first. $1 owner id. */
export const PROJECTS_PAGE = keyset(
  PROJECT_COLUMNS,
  "public.projects",
  "owner_id = $1 and deleted_at is null",
  "updated_at",
);

/**
 * Projects shared with a user: those where they are an accepted collaborator (never their own),
 * most recently updated first, with their role. $1 the user's id. Reached through
 * collaborators_user_id_project_id_idx (a user collaborates on few projects), then sorted.
 */
const SHARED_HEAD = `select ${PROJECT_COLUMNS.split(", ")
  .map((c) => `p.${c}`)
  .join(", ")}, c.role, p.updated_at::text as cursor_at
  from public.collaborators c join public.projects p on p.id = c.project_id
 where c.user_id = $1 and c.accepted_at is not null and p.deleted_at is null`;
const SHARED_ORDER = "order by p.updated_at desc, p.id desc";
export const SHARED_PROJECTS_PAGE: KeysetQuery = {
  first: `${SHARED_HEAD}\n ${SHARED_ORDER} limit $2`,
  next: `${SHARED_HEAD}\n   and (p.updated_at, p.id) < ($2::timestamptz, $3::uuid)\n ${SHARED_ORDER} limit $4`,
};

/** The user's own profile (RLS shows no other row). $1 user id. */
export const USER_PROFILE = `select ${USER_COLUMNS} from public.users where id = $1`;

/** A project's prompt generations, newest first. $1 project id. */
export const PROMPT_HISTORY_PAGE = keyset(
  PROMPT_COLUMNS,
  "public.prompt_generations",
  "project_id = $1",
  "created_at",
);

/** A project's recordings, newest first. $1 project id. */
export const AUDIO_PAGE = keyset(AUDIO_COLUMNS, "public.audio_recordings", "project_id = $1", "created_at");

/** Where a recording's file is stored (RLS: members of its project see it). $1 recording id. */
export const AUDIO_FILE = "select bucket_id, storage_path from public.audio_recordings where id = $1";

/** A project with its components in stacking order, in one round trip. $1 project id. */
export const PROJECT_WITH_COMPONENTS = `select ${PROJECT_COLUMNS.split(", ")
  .map((c) => `p.${c}`)
  .join(", ")},
       coalesce((select json_agg(c order by c.z_index, c.id) from public.project_components c where c.project_id = p.id), '[]') as components
  from public.projects p where p.id = $1`;

/** A user's API usage in one UTC month, by provider and model. $1 user id, $2 a day of the month. */
export const MONTHLY_COSTS = `select provider, model, calls::int, input_tokens::int, output_tokens::int, cost_usd::text
  from public.get_monthly_api_costs($1, $2::date)`;

/**
 * A user's actions per UTC day over the last $2 days. Both time bounds matter: without
 * `occurred_at <= now()` every future partition and the default one are read too.
 */
export const ACTIVITY_TREND = `select to_char(date_trunc('day', occurred_at at time zone 'UTC'), 'YYYY-MM-DD') as day, count(*)::int as actions
  from public.user_activity
 where user_id = $1 and occurred_at >= now() - make_interval(days => $2::int) and occurred_at <= now()
 group by 1 order by 1`;
