import type pg from "pg";
import type { AlertRules } from "./rules.ts";

export type AlertRule = "storage_quota" | "slow_query" | "error_spike" | "unusual_access" | "test";
export type Severity = "warning" | "critical";

/** A rule's condition that holds at the evaluation time: an alert fires (or stays firing) for it. */
export interface Condition {
  rule: AlertRule;
  /** What it is about: a user id, a query id or an error code. */
  subject: string;
  severity: Severity;
  summary: string;
  details: Record<string, unknown>;
}

/** Error codes that mean "refused" or "not yours": the app's logged denials (error_logs.error_code). */
export const DENIAL_CODES = ["FORBIDDEN", "NOT_FOUND", "42501", "AccessDenied"];
/** The user_activity action the app records at a sign-in, with metadata.ip. */
export const SIGN_IN_ACTION = "auth.sign_in";

const at = (now: Date, msBack: number) => new Date(now.getTime() - msBack);
const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

/** Users at or over the warning share of their plan's storage (private.storage_usage, one row per user and bucket). */
export async function storageQuota(c: pg.ClientBase, rules: AlertRules): Promise<Condition[]> {
  const r = rules.storage_quota;
  const { rows } = await c.query<{ user_id: string; plan: string; bytes: string; quota: string }>(
    `select s.owner_id::text as user_id, u.plan, sum(s.bytes)::text as bytes, public.plan_storage_limit(u.plan)::text as quota
       from private.storage_usage s join public.users u on u.id = s.owner_id
      where public.plan_storage_limit(u.plan) is not null
      group by s.owner_id, u.plan
     having sum(s.bytes) * 100 >= $1 * public.plan_storage_limit(u.plan)`,
    [r.warning_percent],
  );
  return rows.map((row) => {
    const bytes = Number(row.bytes);
    const quota = Number(row.quota);
    const percent = (100 * bytes) / quota;
    return {
      rule: "storage_quota",
      subject: row.user_id,
      severity: percent >= r.critical_percent ? "critical" : "warning",
      summary: `user ${row.user_id} uses ${percent.toFixed(0)}% of the ${row.plan} plan's storage (${gib(bytes)} of ${gib(quota)})`,
      details: {
        user_id: row.user_id,
        plan: row.plan,
        bytes,
        quota_bytes: quota,
        percent: Math.round(percent * 10) / 10,
      },
    };
  });
}

/**
 * Statements whose mean over the window exceeds the threshold, or jumped `jump_factor` times over
 * their mean in the baseline before the window. Read from the collector's db.statement metrics.
 */
export async function slowQueries(c: pg.ClientBase, rules: AlertRules, now: Date): Promise<Condition[]> {
  const r = rules.slow_query;
  const windowStart = at(now, r.window);
  const { rows } = await c.query<{
    queryid: string;
    query: string;
    calls: number;
    total: number;
    base_calls: number | null;
    base_total: number | null;
  }>(
    `with w as (
       select tags ->> 'queryid' as queryid, max(tags ->> 'query') as query,
              sum(value) filter (where metric = 'db.statement.calls') as calls,
              sum(value) filter (where metric = 'db.statement.total_time') as total
         from public.performance_metrics
        where metric in ('db.statement.calls', 'db.statement.total_time') and occurred_at > $1 and occurred_at <= $2
        group by 1
     ), b as (
       select tags ->> 'queryid' as queryid,
              sum(value) filter (where metric = 'db.statement.calls') as calls,
              sum(value) filter (where metric = 'db.statement.total_time') as total
         from public.performance_metrics
        where metric in ('db.statement.calls', 'db.statement.total_time') and occurred_at > $3 and occurred_at <= $1
          and tags ->> 'queryid' in (select queryid from w)
        group by 1
     )
     select w.queryid, w.query, w.calls, w.total, b.calls as base_calls, b.total as base_total
       from w left join b using (queryid)
      where w.calls >= $4`,
    [windowStart, now, at(windowStart, r.baseline), r.min_calls],
  );
  const out: Condition[] = [];
  for (const row of rows) {
    const mean = row.total / row.calls;
    const baseMean =
      row.base_calls && row.base_calls >= r.baseline_min_calls
        ? (row.base_total ?? 0) / row.base_calls
        : undefined;
    const overThreshold = mean > r.mean_ms;
    const jumped = baseMean !== undefined && mean >= r.jump_min_mean_ms && mean > r.jump_factor * baseMean;
    if (!overThreshold && !jumped) continue;
    out.push({
      rule: "slow_query",
      subject: row.queryid,
      severity: mean > 10 * r.mean_ms ? "critical" : "warning",
      summary: overThreshold
        ? `statement ${row.queryid} took ${mean.toFixed(0)} ms on average over the last ${r.window / 60_000} min (threshold ${r.mean_ms} ms)`
        : `statement ${row.queryid} took ${mean.toFixed(0)} ms on average, ${r.jump_factor}× or more its baseline of ${(baseMean as number).toFixed(1)} ms`,
      details: {
        queryid: row.queryid,
        query: row.query,
        calls: row.calls,
        mean_ms: Math.round(mean * 10) / 10,
        baseline_mean_ms: baseMean === undefined ? null : Math.round(baseMean * 10) / 10,
        cause: overThreshold ? "threshold" : "jump",
      },
    });
  }
  return out;
}

/** Error codes whose count in the window is over max(factor × their baseline per window, floor). */
export async function errorSpikes(c: pg.ClientBase, rules: AlertRules, now: Date): Promise<Condition[]> {
  const r = rules.error_spike;
  const windowStart = at(now, r.window);
  const { rows } = await c.query<{ code: string; n: number; base: number }>(
    `select tags ->> 'code' as code,
            coalesce(sum(value) filter (where occurred_at > $1), 0) as n,
            coalesce(sum(value) filter (where occurred_at <= $1), 0) as base
       from public.performance_metrics
      where metric = 'errors.count' and occurred_at > $3 and occurred_at <= $2
      group by 1`,
    [windowStart, now, at(windowStart, r.baseline)],
  );
  const out: Condition[] = [];
  for (const row of rows) {
    const basePerWindow = (row.base * r.window) / r.baseline;
    const threshold = Math.max(r.factor * basePerWindow, r.floor);
    if (row.n <= threshold) continue;
    out.push({
      rule: "error_spike",
      subject: row.code,
      severity: row.n > 5 * threshold ? "critical" : "warning",
      summary: `${row.n} errors with code ${row.code} in the last ${r.window / 60_000} min (threshold ${Math.ceil(threshold)})`,
      details: {
        code: row.code,
        count: row.n,
        threshold: Math.round(threshold * 10) / 10,
        baseline_per_window: Math.round(basePerWindow * 100) / 100,
      },
    });
  }
  return out;
}

/**
 * Users who, in the window: were refused or missed often (the storage server's 403/404 answers to
 * them, and the app's logged denials), touched many more projects than their baseline, or signed in
 * from several addresses new to them. One condition per user, naming every signal that holds.
 */
export async function unusualAccess(c: pg.ClientBase, rules: AlertRules, now: Date): Promise<Condition[]> {
  const r = rules.unusual_access;
  const windowStart = at(now, r.window);
  const signals = new Map<string, Record<string, unknown>>();
  const add = (user: string, key: string, value: unknown) => {
    const s = signals.get(user) ?? {};
    s[key] = value;
    signals.set(user, s);
  };

  const denials = await c.query<{ user_id: string; storage: number; logged: number }>(
    `with storage as (
       select tags ->> 'user_id' as user_id, sum(value) as n from public.performance_metrics
        where metric = 'storage_http.denied' and occurred_at > $1 and occurred_at <= $2
        group by 1
     ), logged as (
       select user_id::text as user_id, count(*) as n from public.error_logs
        where severity = any (array['debug', 'info', 'warning', 'error', 'critical'])
          and occurred_at > $1 and occurred_at <= $2 and user_id is not null and error_code = any ($3)
        group by 1
     )
     select user_id, coalesce(s.n, 0)::float8 as storage, coalesce(l.n, 0)::float8 as logged
       from storage s full join logged l using (user_id)
      where coalesce(s.n, 0) + coalesce(l.n, 0) >= $4`,
    [windowStart, now, DENIAL_CODES, r.denials],
  );
  for (const d of denials.rows)
    add(d.user_id, "denials", { storage_http: d.storage, logged: d.logged, threshold: r.denials });

  const projects = await c.query<{ user_id: string; n: number; base: number }>(
    `with w as (
       select user_id, count(distinct project_id) as n from public.user_activity
        where occurred_at > $1 and occurred_at <= $2 and project_id is not null
        group by user_id having count(distinct project_id) >= $4
     )
     select w.user_id::text as user_id, w.n::float8 as n,
            (select count(distinct a.project_id) from public.user_activity a
              where a.user_id = w.user_id and a.occurred_at > $3 and a.occurred_at <= $1)::float8 as base
       from w`,
    [windowStart, now, at(windowStart, r.baseline), r.projects_floor],
  );
  for (const p of projects.rows) {
    const basePerWindow = (p.base * r.window) / r.baseline;
    if (p.n >= Math.max(r.projects_floor, r.projects_factor * basePerWindow))
      add(p.user_id, "projects", { count: p.n, baseline_per_window: Math.round(basePerWindow * 100) / 100 });
  }

  const ips = await c.query<{ user_id: string; n: number }>(
    `select a.user_id::text as user_id, count(distinct a.metadata ->> 'ip')::float8 as n
       from public.user_activity a
      where a.occurred_at > $1 and a.occurred_at <= $2 and a.action = $4 and a.metadata ? 'ip'
        and not exists (
          select from public.user_activity o
           where o.user_id = a.user_id and o.occurred_at > $3 and o.occurred_at <= $1
             and o.action = $4 and o.metadata ->> 'ip' = a.metadata ->> 'ip')
      group by a.user_id having count(distinct a.metadata ->> 'ip') >= $5`,
    [windowStart, now, at(windowStart, r.ip_lookback), SIGN_IN_ACTION, r.new_ips],
  );
  for (const i of ips.rows) add(i.user_id, "new_ips", { count: i.n, threshold: r.new_ips });

  return [...signals].map(([user, details]) => ({
    rule: "unusual_access",
    subject: user,
    severity: "warning",
    summary: `unusual access by user ${user} in the last ${r.window / 60_000} min: ${Object.keys(details).join(", ")}`,
    details: { user_id: user, ...details },
  }));
}
