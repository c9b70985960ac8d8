import os from "node:os";
import type pg from "pg";

/** The tracking schema: kept apart from the application's schemas and closed to the API roles. */
export const TRACKING_SCHEMA = "vpb_migrate";

export type EventKind = "applied" | "rolled_back" | "failed" | "baselined" | "repaired";

export interface AppliedRow {
  name: string;
  checksum: string;
  applied_at: Date;
  duration_ms: number;
  applied_by: string;
}

// Idempotent; run under the migration lock. The event log refuses UPDATE and DELETE, even by its owner.
const ENSURE = `
create schema if not exists ${TRACKING_SCHEMA};
revoke all on schema ${TRACKING_SCHEMA} from public;
create table if not exists ${TRACKING_SCHEMA}.migrations (
  name text primary key,
  checksum text not null check (checksum ~ '^[0-9a-f]{64}$'),
  applied_at timestamptz not null default now(),
  duration_ms integer not null check (duration_ms >= 0),
  applied_by text not null
);
create table if not exists ${TRACKING_SCHEMA}.events (
  id bigint generated always as identity primary key,
  at timestamptz not null default clock_timestamp(),
  kind text not null check (kind in ('applied', 'rolled_back', 'failed', 'baselined', 'repaired')),
  name text not null,
  checksum text,
  duration_ms integer,
  actor text not null,
  detail jsonb
);
create index if not exists events_name_at_idx on ${TRACKING_SCHEMA}.events (name, at);
create or replace function ${TRACKING_SCHEMA}.events_append_only() returns trigger
  language plpgsql set search_path = pg_catalog as $$
begin
  raise exception 'the migration event log is append-only' using errcode = '42501',
    hint = 'Events are history: add a new event instead of changing an old one.';
end
$$;
do $$
begin
  if not exists (select from pg_trigger where tgname = 'events_append_only'
                 and tgrelid = '${TRACKING_SCHEMA}.events'::regclass) then
    create trigger events_append_only before update or delete or truncate on ${TRACKING_SCHEMA}.events
      for each statement execute function ${TRACKING_SCHEMA}.events_append_only();
  end if;
end
$$;`;

/** Who ran it: the database role and the operating-system user and host. */
export function actor(): string {
  let user = "unknown";
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): the database role still identifies the run.
  }
  return `${user}@${os.hostname()}`;
}

export async function ensureTracking(client: pg.Client): Promise<void> {
  // The schema may already exist: skip the DDL (and its locks) entirely then.
  const { rows } = await client.query<{ ready: boolean }>(
    `select to_regclass('${TRACKING_SCHEMA}.events') is not null
        and exists (select from pg_trigger where tgname = 'events_append_only') as ready`,
  );
  if (!rows[0]?.ready) await client.query(ENSURE);
}

export async function trackingExists(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `select to_regclass('${TRACKING_SCHEMA}.migrations') is not null as ok`,
  );
  return rows[0]?.ok === true;
}

export async function appliedMigrations(client: pg.Client): Promise<AppliedRow[]> {
  if (!(await trackingExists(client))) return [];
  const { rows } = await client.query<AppliedRow>(
    `select name, checksum, applied_at, duration_ms, applied_by from ${TRACKING_SCHEMA}.migrations
      order by substring(name from '^[0-9]+')::numeric nulls last, name`,
  );
  return rows;
}

export async function recordApplied(
  client: pg.Client,
  m: { name: string; checksum: string },
  durationMs: number,
  kind: "applied" | "baselined",
): Promise<void> {
  await client.query(
    `insert into ${TRACKING_SCHEMA}.migrations (name, checksum, duration_ms, applied_by)
     values ($1, $2, $3, current_user || ' (' || $4 || ')')`,
    [m.name, m.checksum, durationMs, actor()],
  );
  await recordEvent(client, kind, m.name, { checksum: m.checksum, durationMs });
}

export async function recordRolledBack(client: pg.Client, name: string, durationMs: number): Promise<void> {
  await client.query(`delete from ${TRACKING_SCHEMA}.migrations where name = $1`, [name]);
  await recordEvent(client, "rolled_back", name, { durationMs });
}

export async function recordRepaired(
  client: pg.Client,
  name: string,
  from: string,
  to: string,
): Promise<void> {
  await client.query(`update ${TRACKING_SCHEMA}.migrations set checksum = $2 where name = $1`, [name, to]);
  await recordEvent(client, "repaired", name, { checksum: to, detail: { previous_checksum: from } });
}

export async function recordEvent(
  client: pg.Client,
  kind: EventKind,
  name: string,
  extra: { checksum?: string; durationMs?: number; detail?: Record<string, unknown> } = {},
): Promise<void> {
  await client.query(
    `insert into ${TRACKING_SCHEMA}.events (kind, name, checksum, duration_ms, actor, detail)
     values ($1, $2, $3, $4, current_user || ' (' || $5 || ')', $6)`,
    [kind, name, extra.checksum ?? null, extra.durationMs ?? null, actor(), extra.detail ?? null],
  );
}
