import { dataError } from "../errors.ts";
import { type Actor, inTransaction, type Runner, requireUser } from "./db.ts";
import { ACTIVITY_TREND, MONTHLY_COSTS } from "./queries.ts";
import * as v from "./validate.ts";

export interface ActivityEvent {
  action: string;
  projectId?: string;
  metadata?: Record<string, unknown>;
  /** ISO time the action happened; defaults to now. */
  occurredAt?: string;
}

export interface ActivityDay {
  /** The UTC day, `2026-11-26`. */
  day: string;
  actions: number;
}

export interface MonthlyCost {
  provider: string;
  model: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string;
}

export function activity(runner: Runner, actor: Actor) {
  return {
    /** Records a batch of the user's actions in one statement; returns how many were stored. */
    async record(events: ActivityEvent[]): Promise<number> {
      const op = "activity.record";
      const user = requireUser(actor, op);
      if (!Array.isArray(events) || events.length === 0 || events.length > 10_000) {
        throw dataError("INVALID_INPUT", `${op}: events must be a list of 1 to 10000`);
      }
      const rows = events.map((e, i) => {
        if (typeof e.action !== "string" || !/^[a-z][a-z0-9_.]{0,63}$/.test(e.action)) {
          throw dataError("INVALID_INPUT", `${op}: events[${i}].action must look like project.open`);
        }
        if (e.projectId !== undefined) v.uuid(op, `events[${i}].projectId`, e.projectId);
        if (e.metadata !== undefined) v.object(op, `events[${i}].metadata`, e.metadata);
        if (e.occurredAt !== undefined && Number.isNaN(Date.parse(e.occurredAt))) {
          throw dataError("INVALID_INPUT", `${op}: events[${i}].occurredAt must be an ISO time`);
        }
        return {
          action: e.action,
          project_id: e.projectId ?? null,
          metadata: e.metadata ?? {},
          occurred_at: e.occurredAt ?? null,
        };
      });
      return inTransaction(runner, actor, op, async (tx) => {
        const r = await tx.query(
          `insert into public.user_activity (user_id, project_id, action, metadata, occurred_at)
           select $1, r.project_id, r.action, r.metadata, coalesce(r.occurred_at, now())
             from jsonb_to_recordset($2::jsonb) as r(project_id uuid, action text, metadata jsonb, occurred_at timestamptz)`,
          [user, JSON.stringify(rows)],
        );
        return r.rowCount ?? 0;
      });
    },

    /** The user's actions per UTC day over the last `days` days (1 to 366, default 30), oldest first. */
    async trend(days = 30): Promise<ActivityDay[]> {
      const op = "activity.trend";
      const user = requireUser(actor, op);
      v.int(op, "days", days, 1, 366);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<ActivityDay>(ACTIVITY_TREND, [user, days]);
        return rows;
      });
    },
  };
}

export function costs(runner: Runner, actor: Actor) {
  return {
    /** The user's API cost in one UTC calendar month (`2026-11` or any date in it), by provider and model. */
    async monthly(month: string): Promise<MonthlyCost[]> {
      const op = "costs.monthly";
      const user = requireUser(actor, op);
      if (typeof month !== "string" || !/^\d{4}-\d{2}(-\d{2})?$/.test(month)) {
        throw dataError("INVALID_INPUT", `${op}: month must look like 2026-11`);
      }
      const day = month.length === 7 ? `${month}-01` : month;
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<MonthlyCost>(MONTHLY_COSTS, [user, day]);
        return rows;
      });
    },
  };
}
