import type pg from "pg";
import {
  type AlertRule,
  type Condition,
  errorSpikes,
  type Severity,
  slowQueries,
  storageQuota,
  unusualAccess,
} from "./alert-conditions.ts";
import type { AlertRules } from "./rules.ts";
import { type DeliveryResult, postSigned, type WebhookTarget } from "./webhook.ts";

export interface Alert {
  id: string;
  rule: AlertRule;
  subject: string;
  state: "firing" | "resolved";
  severity: Severity;
  summary: string;
  details: Record<string, unknown>;
  fired_at: Date;
  last_seen_at: Date;
  resolved_at: Date | null;
}

/** What is delivered: an alert that fired, became critical, resolved, or a test. */
export interface AlertEvent {
  event: "fired" | "escalated" | "resolved" | "test";
  alert: Alert;
}

export interface EvaluateOptions {
  rules: AlertRules;
  /** The evaluation time: windows end here (default now). Tests move it. */
  now?: Date;
  /** Where events go besides the log; none when unset. */
  webhook?: WebhookTarget | undefined;
  /** One line per event (default: stderr). Never given a secret or the webhook's URL. */
  log?: (line: string) => void;
}

export interface EvaluateResult {
  /** Events of this evaluation, in the order delivered. */
  events: AlertEvent[];
  /** Every alert firing after it. */
  firing: Alert[];
  /** Settles when the webhook deliveries end (never rejects): evaluation does not wait for them. */
  delivered: Promise<DeliveryResult[]>;
}

const COLUMNS = "id, rule, subject, state, severity, summary, details, fired_at, last_seen_at, resolved_at";

/**
 * Evaluates every rule at `now`, records the outcome in private.alerts and sends the events:
 * a condition with no firing alert fires one; a firing alert whose condition still holds only
 * moves its last_seen_at (deduplicated: no event, unless it became critical); a firing alert whose
 * condition no longer holds resolves. One evaluator at a time (an advisory lock); the webhook is
 * called after the commit, in the background.
 */
export async function evaluateAlerts(pool: pg.Pool, options: EvaluateOptions): Promise<EvaluateResult> {
  const c = await pool.connect();
  let events: AlertEvent[];
  let firing: Alert[];
  try {
    await c.query("begin");
    try {
      await c.query("select pg_advisory_xact_lock(hashtext('vpb-db alerts'))");
      const clock = await c.query<{ now: Date }>("select coalesce($1::timestamptz, now()) as now", [
        options.now ?? null,
      ]);
      const now = (clock.rows[0] as { now: Date }).now;
      const conditions = [
        ...(await storageQuota(c, options.rules)),
        ...(await slowQueries(c, options.rules, now)),
        ...(await errorSpikes(c, options.rules, now)),
        ...(await unusualAccess(c, options.rules, now)),
      ];
      ({ events, firing } = await apply(c, conditions, now));
      await c.query("commit");
    } catch (e) {
      await c.query("rollback").catch(() => {});
      throw e;
    }
  } finally {
    c.release();
  }
  return { events, firing, delivered: send(events, options) };
}

async function apply(
  c: pg.ClientBase,
  conditions: Condition[],
  now: Date,
): Promise<{ events: AlertEvent[]; firing: Alert[] }> {
  const current = await c.query<Alert>(`select ${COLUMNS} from private.alerts where state = 'firing'`);
  const key = (a: { rule: string; subject: string }) => `${a.rule}\u0000${a.subject}`;
  const open = new Map(current.rows.map((a) => [key(a), a]));
  const events: AlertEvent[] = [];
  const firing: Alert[] = [];
  for (const cond of conditions) {
    const was = open.get(key(cond));
    open.delete(key(cond));
    if (was) {
      const { rows } = await c.query<Alert>(
        `update private.alerts set last_seen_at = $2, severity = $3, summary = $4, details = $5
          where id = $1 returning ${COLUMNS}`,
        [was.id, now, cond.severity, cond.summary, cond.details],
      );
      const alert = rows[0] as Alert;
      firing.push(alert);
      if (was.severity === "warning" && cond.severity === "critical")
        events.push({ event: "escalated", alert });
    } else {
      const { rows } = await c.query<Alert>(
        `insert into private.alerts (rule, subject, state, severity, summary, details, fired_at, last_seen_at)
         values ($1, $2, 'firing', $3, $4, $5, $6, $6) returning ${COLUMNS}`,
        [cond.rule, cond.subject, cond.severity, cond.summary, cond.details, now],
      );
      const alert = rows[0] as Alert;
      firing.push(alert);
      events.push({ event: "fired", alert });
    }
  }
  for (const stale of open.values()) {
    // A test alert stays until the next evaluation, then resolves like the others.
    const { rows } = await c.query<Alert>(
      `update private.alerts set state = 'resolved', resolved_at = greatest($2, last_seen_at)
        where id = $1 returning ${COLUMNS}`,
      [stale.id, now],
    );
    events.push({ event: "resolved", alert: rows[0] as Alert });
  }
  return { events, firing };
}

/** The log line of an event: rule, subject, severity and summary (no secret, no user content). */
export function logLine(e: AlertEvent): string {
  return JSON.stringify({
    alert: e.event,
    rule: e.alert.rule,
    subject: e.alert.subject,
    severity: e.alert.severity,
    summary: e.alert.summary,
    id: e.alert.id,
  });
}

async function send(
  events: AlertEvent[],
  options: { webhook?: WebhookTarget | undefined; log?: (line: string) => void },
): Promise<DeliveryResult[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const e of events) log(logLine(e));
  if (!options.webhook || events.length === 0) return [];
  const hook = options.webhook;
  return Promise.all(
    events.map(async (e) => {
      const result = await postSigned(hook, { ...e, sent_at: new Date().toISOString() });
      if (!result.ok)
        log(
          JSON.stringify({
            alert: "delivery_failed",
            id: e.alert.id,
            attempts: result.attempts,
            error: result.error,
          }),
        );
      return result;
    }),
  );
}

/**
 * Fires a test alert (rule `test`) and sends it like any other, returning the delivery: what
 * `vpb-db alerts test` runs. The next evaluation resolves it.
 */
export async function fireTestAlert(
  pool: pg.Pool,
  options: { webhook?: WebhookTarget | undefined; log?: (line: string) => void; now?: Date },
): Promise<{ alert: Alert; delivery: DeliveryResult | undefined }> {
  const { rows } = await pool.query<Alert>(
    `insert into private.alerts (rule, subject, state, severity, summary, details, fired_at, last_seen_at)
     values ('test', 'test-' || to_char(coalesce($1::timestamptz, now()) at time zone 'UTC', 'YYYYMMDD"T"HH24MISS.US'),
             'firing', 'warning', 'a test alert sent by vpb-db alerts test', '{}', coalesce($1::timestamptz, now()),
             coalesce($1::timestamptz, now()))
     returning ${COLUMNS}`,
    [options.now ?? null],
  );
  const alert = rows[0] as Alert;
  const [delivery] = await send([{ event: "test", alert }], options);
  return { alert, delivery };
}

/** Alerts, firing first (newest first), then the most recently resolved; at most `limit`. */
export async function listAlerts(pool: pg.Pool, limit = 50): Promise<Alert[]> {
  const { rows } = await pool.query<Alert>(
    `select ${COLUMNS} from private.alerts
      order by state = 'firing' desc, coalesce(resolved_at, fired_at) desc limit $1`,
    [limit],
  );
  return rows;
}

export type { AlertRule, Severity };
