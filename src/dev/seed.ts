import type pg from "pg";
import { VpbError } from "../errors.ts";

/**
 * Fills a database with realistic, reproducible data, generated inside PostgreSQL (generate_series)
 * so that millions of rows load in minutes. Every value is derived from row numbers (ids are
 * md5 -> uuid), so the same scale gives the same data on every run. The large tables load in two
 * halves on two connections at once (the machines this runs on have two cores).
 *
 * Scale 1: 10k users, 100k projects, 2M components, 200k recordings, 500k generations (and as many
 * API calls), 50k collaborators, 5M activity rows over six months, 50k errors, 200k metrics, plus a
 * "power user" with 25k projects and a 500-component project (for the deep-page and duplicate
 * benchmarks). Triggers and foreign-key checks are off while loading (session_replication_role =
 * replica, which needs a superuser): the generator keeps every reference valid itself.
 *
 * Resumable: each unit of work (a step, or half of one) commits together with a row in
 * vpb_seed.units naming it, so a run killed at any point leaves whole units only, and the next run at
 * the same scale does the rest. vpb_seed.run says which scale and whether it finished.
 */
export interface SeedOptions {
  scale: number;
  /** Projects of the power user; default 25,000 at scale 1, in proportion below it (at least 100). */
  powerUserProjects?: number;
  onProgress?: (step: string, ms: number) => void;
}

export interface SeedCounts {
  /** Units of work done by earlier, interrupted runs and skipped by this one. */
  resumed: number;
  users: number;
  projects: number;
  components: number;
  activity: number;
}

/** Deterministic UUIDs: the same (kind, n) gives the same id. */
const uid = (kind: string, n: string) => `md5('${kind}' || ${n})::uuid`;

export const POWER_USER = "00000000-0000-4000-8000-000000000001";
export const BIG_PROJECT = "00000000-0000-4000-8000-000000000002";

export async function seed(pool: pg.Pool, options: SeedOptions): Promise<SeedCounts> {
  const s = options.scale;
  const users = Math.max(10, Math.round(10_000 * s));
  const projectsPerUser = 10;
  const projects = users * projectsPerUser;
  const componentsPerProject = 20;
  const activity = Math.round(5_000_000 * s);
  const powerProjects = options.powerUserProjects ?? Math.max(100, Math.round(25_000 * Math.min(s, 1)));
  const done = await startOrResume(pool, s);
  const resumed = done.size;
  /** Runs one unit in one transaction with its record, unless an earlier run did it. */
  const run = async (unit: string, sql: string, params: unknown[]) => {
    if (done.has(unit)) return;
    const c = await pool.connect();
    try {
      await c.query("begin; set local session_replication_role = replica");
      await c.query(sql, params);
      await c.query("insert into vpb_seed.units (unit) values ($1)", [unit]);
      await c.query("commit");
    } catch (e) {
      await c.query("rollback").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  };
  const step = async (name: string, sql: string, params: unknown[] = []) => {
    const t = performance.now();
    await run(name, sql, params);
    options.onProgress?.(name, performance.now() - t);
  };
  /** Runs `sql` for rows 1..n in two halves at once: $1 and $2 are each half's first and last row. */
  const halves = async (name: string, n: number, sql: string, params: unknown[] = []) => {
    const t = performance.now();
    const mid = Math.floor(n / 2);
    await Promise.all([
      run(`${name} 1/2`, sql, [1, mid, ...params]),
      run(`${name} 2/2`, sql, [mid + 1, n, ...params]),
    ]);
    options.onProgress?.(name, performance.now() - t);
  };

  // Monthly partitions for the six months of history, as a deployment running since then has.
  await step(
    "partitions",
    "select public.create_monthly_partitions(t, 9, (current_date - interval '6 months')::date) from unnest(public.analytics_partitioned_tables()) t",
  );
  await step(
    "users",
    `insert into public.users (id, email, name, display_name, plan, created_at, updated_at)
       select ${uid("user", "i")}, 'user' || i || '@example.com', 'User ' || i, 'user' || i,
              (array['free', 'free', 'free', 'pro', 'team'])[1 + i % 5], now() - (i % 365) * interval '1 day', now() - (i % 30) * interval '1 day'
         from generate_series(1, $1) i`,
    [users],
  );
  await step(
    "power user",
    `insert into public.users (id, email, name, plan) values ($1, 'power@example.com', 'Power User', 'enterprise')`,
    [POWER_USER],
  );
  await step(
    "projects",
    `insert into public.projects (id, owner_id, name, description, layout, settings, version, deleted_at, created_at, updated_at)
       select ${uid("project", "p")}, ${uid("user", "1 + (p - 1) / $2")}, 'Project ' || p, 'Generated project ' || p,
              jsonb_build_object('zoom', 1 + (p % 4) * 0.25, 'viewport', jsonb_build_array(p % 800, p % 600)),
              jsonb_build_object('grid', p % 2 = 0), 1 + p % 7,
              case when p % 20 = 0 then now() - (p % 60) * interval '1 day' end,
              now() - (p % 400) * interval '1 day', now() - (p % 90) * interval '1 day' - (p % 86400) * interval '1 second'
         from generate_series(1, $1) p`,
    [projects, projectsPerUser],
  );
  await step(
    "power user's projects",
    `insert into public.projects (id, owner_id, name, layout, created_at, updated_at)
       select ${uid("power-project", "p")}, $2::uuid, 'Client project ' || p, '{}'::jsonb, now() - interval '2 years',
              now() - p * interval '37 seconds'
         from generate_series(1, $1) p
       union all select $3::uuid, $2::uuid, 'Big canvas', '{"zoom": 1}'::jsonb, now(), now()`,
    [powerProjects, POWER_USER, BIG_PROJECT],
  );
  // Every fifth component is a container; the four after it nest inside it.
  await halves(
    "components",
    projects,
    `insert into public.project_components (id, project_id, owner_id, parent_id, type, position_x, position_y, width, height, z_index, content)
       select ${uid("component", "p || '-' || c")}, ${uid("project", "p")}, ${uid("user", "1 + (p - 1) / $4")},
              case when c % 5 <> 1 then ${uid("component", "p || '-' || (c - (c - 1) % 5)")} end,
              case when c % 5 = 1 then 'container' else (array['text', 'prompt', 'variable', 'image', 'audio', 'note'])[1 + (p + c) % 6] end,
              (c * 37) % 1600, (c * 53) % 1200, 100 + (c % 5) * 40, 60 + (c % 3) * 30, c,
              jsonb_build_object('text', 'Component ' || c || ' of project ' || p, 'tokens', c * 3)
         from generate_series($1::int, $2::int) p, generate_series(1, $3) c`,
    [componentsPerProject, projectsPerUser],
  );
  await step(
    "big project's components",
    `insert into public.project_components (id, project_id, owner_id, parent_id, type, position_x, position_y, z_index, content)
       select ${uid("big-component", "c")}, $1::uuid, $2::uuid,
              case when c % 5 <> 1 then ${uid("big-component", "(c - (c - 1) % 5)")} end,
              case when c % 5 = 1 then 'container' else 'prompt' end, (c * 37) % 1600, (c * 53) % 1200, c,
              jsonb_build_object('text', 'Step ' || c)
         from generate_series(1, 500) c`,
    [BIG_PROJECT, POWER_USER],
  );
  await halves(
    "audio recordings",
    projects,
    `insert into public.audio_recordings (id, project_id, owner_id, user_id, storage_path, mime_type, size_bytes, duration_ms, transcript, transcript_status, created_at)
       select ${uid("audio", "p || '-' || k")}, ${uid("project", "p")}, ${uid("user", "1 + (p - 1) / $3")}, ${uid("user", "1 + (p - 1) / $3")},
              (${uid("user", "1 + (p - 1) / $3")})::text || '/' || (${uid("project", "p")})::text || '/' || (1700000000000 + p * 10 + k) || '_take' || k || '.webm',
              (array['audio/webm', 'audio/mpeg', 'audio/wav', 'audio/ogg'])[1 + (p + k) % 4], 10000 + (p * k) % 5000000,
              1000 + (p * k) % 600000, 'Transcript ' || p || '-' || k, 'completed', now() - (p % 90) * interval '1 day'
         from generate_series($1::int, $2::int) p, generate_series(1, 2) k`,
    [projectsPerUser],
  );
  await halves(
    "prompt generations",
    projects,
    `insert into public.prompt_generations (id, project_id, owner_id, user_id, input_snapshot, output, model, status, input_tokens, output_tokens, cost_usd, latency_ms, created_at, completed_at)
       select ${uid("gen", "p || '-' || k")}, ${uid("project", "p")}, ${uid("user", "1 + (p - 1) / $3")}, ${uid("user", "1 + (p - 1) / $3")},
              jsonb_build_object('components', k * 3), 'Generated prompt ' || k, (array['gpt-4o', 'gpt-4o-mini', 'claude-sonnet'])[1 + k % 3],
              'completed', 200 + (p * k) % 2000, 50 + (p + k) % 800, round(((p * k) % 1000) / 100000.0, 6), 300 + (p * k) % 4000,
              now() - ((p + k * 7) % 180) * interval '1 day' - (p % 3600) * interval '1 second',
              now() - ((p + k * 7) % 180) * interval '1 day'
         from generate_series($1::int, $2::int) p, generate_series(1, 5) k`,
    [projectsPerUser],
  );
  await step(
    "api usage",
    `insert into public.api_usage (id, user_id, project_id, generation_id, provider, model, endpoint, input_tokens, output_tokens, cost_usd, latency_ms, status_code, occurred_at)
       select ${uid("usage", "g.id::text")}, g.user_id, g.project_id, g.id, case when g.model like 'claude%' then 'anthropic' else 'openai' end,
              g.model, 'prompt.generate', g.input_tokens, g.output_tokens, g.cost_usd, g.latency_ms, 200, g.created_at
         from public.prompt_generations g`,
  );
  await step(
    "collaborators",
    `insert into public.collaborators (id, project_id, user_id, invited_email, role, invited_by, invited_at, accepted_at)
       select ${uid("collab", "p")}, ${uid("project", "p")}, ${uid("user", "1 + ((p - 1) / $2 + 1) % $3")},
              'user' || (1 + ((p - 1) / $2 + 1) % $3) || '@example.com', (array['viewer', 'editor', 'admin'])[1 + p % 3],
              ${uid("user", "1 + (p - 1) / $2")}, now() - interval '30 days', case when p % 4 <> 0 then now() - interval '29 days' end
         from generate_series(1, $1, 2) p`,
    [projects, projectsPerUser, users],
  );
  await halves(
    "user activity",
    activity,
    `insert into public.user_activity (id, user_id, project_id, action, metadata, occurred_at)
       select ${uid("act", "a")}, ${uid("user", "1 + a % $3")}, ${uid("project", "1 + a % $4")},
              (array['project.open', 'component.move', 'component.create', 'prompt.generate', 'audio.record'])[1 + a % 5],
              jsonb_build_object('n', a % 100), now() - (a % 180) * interval '1 day' - (a % 86400) * interval '1 second'
         from generate_series($1::int, $2::int) a`,
    [users, projects],
  );
  await step(
    "error logs",
    `insert into public.error_logs (severity, source, message, error_code, occurred_at)
       select (array['warning', 'error', 'error', 'critical'])[1 + e % 4], (array['web', 'api', 'worker'])[1 + e % 3],
              'Generated error ' || e, 'E' || (e % 40), now() - (e % 90) * interval '1 day'
         from generate_series(1, $1::int) e`,
    [Math.round(50_000 * s)],
  );
  await step(
    "metrics",
    `insert into public.performance_metrics (metric, value, unit, tags, occurred_at)
       select (array['query.ms', 'page.load', 'prompt.latency'])[1 + m % 3], (m % 1000) / 3.0, 'ms', '{}', now() - (m % 90) * interval '1 day'
         from generate_series(1, $1::int) m`,
    [Math.round(200_000 * s)],
  );
  await pool.query("update vpb_seed.run set finished_at = now()");
  const t = performance.now();
  await pool.query("analyze");
  options.onProgress?.("analyze", performance.now() - t);
  return {
    resumed,
    users: users + 1,
    projects: projects + powerProjects + 1,
    components: projects * componentsPerProject + 500,
    activity,
  };
}

export interface SeedState {
  scale: number;
  finished: boolean;
}

/** What an earlier seed of this database left: its scale and whether it finished; undefined if none. */
export async function seedState(pool: pg.Pool | pg.Client): Promise<SeedState | undefined> {
  const found = await pool.query<{ e: boolean }>("select to_regclass('vpb_seed.run') is not null as e");
  if (!found.rows[0]?.e) return undefined;
  const { rows } = await pool.query<SeedState>(
    "select scale, finished_at is not null as finished from vpb_seed.run",
  );
  return rows[0];
}

/** The units an interrupted run at this scale already did (none for a new run). */
async function startOrResume(pool: pg.Pool, scale: number): Promise<Set<string>> {
  await pool.query(`create schema if not exists vpb_seed;
    create table if not exists vpb_seed.run (scale double precision not null, started_at timestamptz not null default now(),
      finished_at timestamptz, one boolean primary key default true check (one));
    create table if not exists vpb_seed.units (unit text primary key, done_at timestamptz not null default now())`);
  const state = await seedState(pool);
  if (state && (state.finished || state.scale !== scale)) {
    throw new VpbError(
      "INVALID_ARGUMENT",
      state.finished
        ? `This database was already seeded at scale ${state.scale}.`
        : `An interrupted seed at scale ${state.scale} is in this database; this run asks for scale ${scale}.`,
      state.finished
        ? "Seed a fresh database (e.g. `migrate reset` on a local one)."
        : `Run it again with --scale ${state.scale} to finish it, or start from a fresh database.`,
    );
  }
  if (!state) await pool.query("insert into vpb_seed.run (scale) values ($1)", [scale]);
  const { rows } = await pool.query<{ unit: string }>("select unit from vpb_seed.units");
  return new Set(rows.map((r) => r.unit));
}
