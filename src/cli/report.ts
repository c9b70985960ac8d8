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

/** What an export or import reports as it goes (see TransferProgress). */
export interface TransferStatus {
  phase: string;
  item: string;
  itemsDone: number;
  itemsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  elapsedMs: number;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** One progress line: what is done, the rate so far, and an estimate of the time left. */
export function formatTransfer(p: TransferStatus): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.bytesDone / seconds : 0;
  const left = Math.max(0, p.bytesTotal - p.bytesDone);
  // The first seconds' rate says little (connections, the first table's start): no ETA from it.
  const eta = rate > 0 && p.bytesTotal > 0 && seconds >= 2 ? `, ETA ${Math.ceil(left / rate)} s` : "";
  return (
    `${p.phase} ${p.itemsDone}/${p.itemsTotal} (${p.item}), ${megabytes(p.bytesDone)}` +
    `${p.bytesTotal > 0 ? ` of ~${megabytes(p.bytesTotal)}` : ""}, ${megabytes(rate)}/s${eta}`
  );
}

/**
 * A progress callback for a terminal: on a TTY one line rewritten in place (at most ten times a
 * second); otherwise plain lines for logs: when a phase starts and ends, and every 10 s between.
 */
export function transferPrinter(
  stream: NodeJS.WriteStream = process.stderr,
  plainEveryMs = 10_000,
): {
  update: (p: TransferStatus) => void;
  end: () => void;
} {
  let last = 0;
  let shown = false;
  let phase = "";
  return {
    update(p) {
      const now = performance.now();
      if (stream.isTTY) {
        if (now - last < 100 && p.itemsDone < p.itemsTotal) return;
        last = now;
        stream.write(`\r\x1b[2K${formatTransfer(p)}`);
        shown = true;
      } else if (p.phase !== phase || p.itemsDone >= p.itemsTotal || now - last >= plainEveryMs) {
        phase = p.phase;
        last = now;
        stream.write(`${formatTransfer(p)}\n`);
      }
    },
    end() {
      if (shown) stream.write("\n");
      shown = false;
    },
  };
}
