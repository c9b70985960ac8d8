import { dataError } from "../errors.ts";
import { type Actor, inTransaction, type Runner } from "./db.ts";
import * as v from "./validate.ts";

export interface ErrorReport {
  severity: "debug" | "info" | "warning" | "error" | "critical";
  /** Where it happened: `web`, `api.generate`… (1 to 100 characters). */
  source: string;
  message: string;
  errorCode?: string;
  stack?: string;
  context?: Record<string, unknown>;
  requestId?: string;
}

export interface Metric {
  /** Lower-case dotted name: `api.generate.latency`. */
  metric: string;
  value: number;
  unit: "ms" | "bytes" | "count" | "percent" | "rows";
  tags?: Record<string, unknown>;
}

const SEVERITIES = ["debug", "info", "warning", "error", "critical"] as const;
const UNITS = ["ms", "bytes", "count", "percent", "rows"] as const;

/**
 * The app's error log and metrics, written through log_error and record_metric (migration 006): the
 * API roles cannot touch those tables otherwise, and log_error records the caller's id itself.
 */
export function monitoring(runner: Runner, actor: Actor) {
  return {
    /** Stores an error report; returns its id. */
    async logError(report: ErrorReport): Promise<string> {
      const op = "monitoring.logError";
      const severity = v.oneOf(op, "severity", report.severity, SEVERITIES);
      const source = v.text(op, "source", report.source, 100);
      const message = v.text(op, "message", report.message, 10_000);
      const code = v.optionalText(op, "errorCode", report.errorCode, 100);
      const stack = v.optionalText(op, "stack", report.stack, 50_000);
      const context = report.context === undefined ? {} : v.object(op, "context", report.context);
      const requestId = v.optionalText(op, "requestId", report.requestId, 100);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<{ id: string }>(
          "select public.log_error($1, $2, $3, $4, $5, $6, $7) as id",
          [severity, source, message, code, stack, context, requestId],
        );
        return (rows[0] as { id: string }).id;
      });
    },

    /** Stores one measurement; returns its id. */
    async recordMetric(m: Metric): Promise<string> {
      const op = "monitoring.recordMetric";
      if (typeof m.metric !== "string" || !/^[a-z][a-z0-9_.]{0,99}$/.test(m.metric))
        throw dataError("INVALID_INPUT", `${op}: metric must look like api.latency (a-z, 0-9, _ and .)`);
      const value = v.finite(op, "value", m.value);
      const unit = v.oneOf(op, "unit", m.unit, UNITS);
      const tags = m.tags === undefined ? {} : v.object(op, "tags", m.tags);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<{ id: string }>("select public.record_metric($1, $2, $3, $4) as id", [
          m.metric,
          value,
          unit,
          tags,
        ]);
        return (rows[0] as { id: string }).id;
      });
    },
  };
}
