import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseDuration } from "../config.ts";
import { VpbError } from "../errors.ts";
import { PACKAGE_ROOT } from "../package-root.ts";

/** The alert rules, durations in milliseconds (database/monitoring/alerts.json, documented in database/README.md). */
export interface AlertRules {
  storage_quota: { warning_percent: number; critical_percent: number };
  slow_query: {
    window: number;
    mean_ms: number;
    min_calls: number;
    baseline: number;
    jump_factor: number;
    jump_min_mean_ms: number;
    baseline_min_calls: number;
  };
  error_spike: { window: number; baseline: number; factor: number; floor: number };
  unusual_access: {
    window: number;
    denials: number;
    baseline: number;
    projects_factor: number;
    projects_floor: number;
    new_ips: number;
    ip_lookback: number;
  };
}

export const DEFAULT_RULES_FILE = path.join(PACKAGE_ROOT, "database", "monitoring", "alerts.json");

type FieldKind = "duration" | "number";
const SHAPE: { [R in keyof AlertRules]: { [F in keyof AlertRules[R]]: FieldKind } } = {
  storage_quota: { warning_percent: "number", critical_percent: "number" },
  slow_query: {
    window: "duration",
    mean_ms: "number",
    min_calls: "number",
    baseline: "duration",
    jump_factor: "number",
    jump_min_mean_ms: "number",
    baseline_min_calls: "number",
  },
  error_spike: { window: "duration", baseline: "duration", factor: "number", floor: "number" },
  unusual_access: {
    window: "duration",
    denials: "number",
    baseline: "duration",
    projects_factor: "number",
    projects_floor: "number",
    new_ips: "number",
    ip_lookback: "duration",
  },
};

/**
 * Checks a rules object (as read from JSON): every rule and field present, durations such as
 * `5min`, numbers positive; every problem is reported at once, with `source` naming the file.
 */
export function parseRules(value: unknown, source: string): AlertRules {
  const problems: string[] = [];
  const out: Record<string, Record<string, number>> = {};
  const obj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!obj(value)) problems.push("the file must hold a JSON object");
  for (const [rule, fields] of Object.entries(SHAPE)) {
    const given = obj(value) ? value[rule] : undefined;
    out[rule] = {};
    if (!obj(given)) {
      if (obj(value)) problems.push(`"${rule}" is missing or not an object`);
      continue;
    }
    for (const key of Object.keys(given))
      if (!(key in fields)) problems.push(`"${rule}.${key}" is not a setting of this rule`);
    for (const [field, kind] of Object.entries(fields)) {
      const v = given[field];
      if (kind === "duration") {
        const ms = typeof v === "string" ? parseDuration(v) : undefined;
        if (ms === undefined || ms <= 0)
          problems.push(`"${rule}.${field}" must be a duration such as "5min" or "24h"`);
        else (out[rule] as Record<string, number>)[field] = ms;
      } else if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
        problems.push(`"${rule}.${field}" must be a positive number`);
      } else {
        (out[rule] as Record<string, number>)[field] = v;
      }
    }
  }
  if (obj(value)) {
    for (const key of Object.keys(value)) if (!(key in SHAPE)) problems.push(`"${key}" is not an alert rule`);
  }
  const quota = out.storage_quota;
  if (
    quota?.warning_percent !== undefined &&
    quota.critical_percent !== undefined &&
    quota.warning_percent > quota.critical_percent
  )
    problems.push('"storage_quota.warning_percent" must not exceed "critical_percent"');
  if (problems.length > 0) {
    throw new VpbError(
      "ALERT_RULES_INVALID",
      `The alert rules in ${source} are invalid:\n  - ${problems.join("\n  - ")}`,
      "Fix the settings listed above; database/README.md (Monitoring) describes each, and database/monitoring/alerts.json holds the defaults.",
    );
  }
  return out as unknown as AlertRules;
}

/** Reads and checks a rules file (default: the package's database/monitoring/alerts.json). */
export async function loadRules(file = DEFAULT_RULES_FILE): Promise<AlertRules> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new VpbError(
      "ALERT_RULES_INVALID",
      `The alert rules file ${file} cannot be read (${(cause as NodeJS.ErrnoException).code ?? "unknown error"}).`,
      "Point VPB_ALERT_RULES at a readable JSON file, or unset it for the defaults.",
      { cause },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new VpbError(
      "ALERT_RULES_INVALID",
      `The alert rules file ${file} is not valid JSON.`,
      "Fix its syntax; database/monitoring/alerts.json is a starting point.",
      { cause },
    );
  }
  return parseRules(json, file);
}
