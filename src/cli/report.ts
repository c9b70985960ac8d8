import type { VpbError } from "../errors.ts";
import type { RunResult, StatusResult } from "../migrations/migrator.ts";

/** Human-readable text of an error: code, cause, Postgres fields (already in the message), remedy. */
export function formatError(e: VpbError): string {
  return `error [${e.code}]: ${e.message}\n  remedy: ${e.remedy}`;
}

export function formatRun(verb: string, r: RunResult): string {
  const done = r.results.filter((x) => x.status === "Success");
  const lines = r.results.map(
    (x) =>
      `  ${x.status === "Success" ? "ok " : x.status === "Error" ? "ERR" : "-- "} ${x.name}${x.durationMs !== undefined ? ` (${x.durationMs} ms)` : ""}`,
  );
  // A run stopped before any migration (a bad file, a lock) reports only its error.
  if (r.results.length === 0) return r.error ? "" : "Nothing to do.";
  const head = `${verb}: ${done.length} of ${r.results.length}`;
  return [head, ...lines].join("\n");
}

export function formatStatus(s: StatusResult): string {
  const lines = ["Applied:"];
  for (const a of s.applied)
    lines.push(`  ${a.name}  ${a.applied_at.toISOString()}  ${a.duration_ms} ms  by ${a.applied_by}`);
  if (s.applied.length === 0) lines.push("  (none)");
  lines.push("Pending:");
  for (const p of s.pending) lines.push(`  ${p.name}`);
  if (s.pending.length === 0) lines.push("  (none)");
  if (s.problems.length > 0) {
    lines.push("Drift:");
    for (const p of s.problems) lines.push(`  [${p.code}] ${p.message}`);
  }
  return lines.join("\n");
}

/** Writes a report to stdout, nothing at all for an empty one. */
export function printText(text: string): void {
  if (text) process.stdout.write(`${text}\n`);
}

export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v instanceof Error
        ? { code: (v as VpbError).code, message: v.message, remedy: (v as VpbError).remedy }
        : v,
    2,
  );
}
