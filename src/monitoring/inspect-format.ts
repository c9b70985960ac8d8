import type { InspectReport, InspectSection } from "./inspect.ts";

const TITLES: Record<InspectSection, string> = {
  queries: "Top queries by total time (pg_stat_statements)",
  "table-sizes": "Table sizes",
  "index-sizes": "Index sizes",
  bloat: "Table bloat (estimate)",
  "unused-indexes": "Unused indexes",
  "cache-hit": "Cache hit rate",
  blocking: "Blocking locks",
  "long-running": "Long-running queries",
};

export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(2)} ms`);
const pct = (n: number | null) => (n === null ? "-" : `${n.toFixed(1)}%`);
const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();

/** Left-aligned columns separated by two spaces; the last column is left unpadded. */
function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** The report as text for a terminal: one titled table per section. */
export function formatInspectReport(report: InspectReport, sections: readonly InspectSection[]): string {
  const out: string[] = [`Database ${report.database} (PostgreSQL ${report.server_version})`];
  for (const s of sections) {
    const section = report[s];
    if (!section) continue;
    out.push("", `== ${TITLES[s]} ==`);
    if (section.rows.length === 0) out.push("(none)");
    else out.push(body(report, s));
    if (section.note) out.push(`note: ${section.note}`);
  }
  return out.join("\n");
}

function body(r: InspectReport, s: InspectSection): string {
  switch (s) {
    case "queries":
      return table(
        // The query id is what a slow_query alert names.
        ["time %", "calls", "mean", "max", "rows", "cache hit", "query id", "query"],
        (r.queries?.rows ?? []).map((q) => [
          pct(q.time_pct),
          String(q.calls),
          ms(q.mean_ms),
          ms(q.max_ms),
          String(q.rows),
          pct(q.cache_hit_pct),
          q.queryid,
          oneLine(q.query).slice(0, 120),
        ]),
      );
    case "table-sizes":
      return table(
        ["table", "total", "table", "indexes", "rows (est.)"],
        (r["table-sizes"]?.rows ?? []).map((t) => [
          t.name,
          formatBytes(t.total_bytes),
          formatBytes(t.table_bytes),
          formatBytes(t.index_bytes),
          String(t.estimated_rows),
        ]),
      );
    case "index-sizes":
      return table(
        ["index", "size", "table"],
        (r["index-sizes"]?.rows ?? []).map((i) => [i.name, formatBytes(i.bytes), i.table_name]),
      );
    case "bloat":
      return table(
        ["table", "bloat", "wasted"],
        (r.bloat?.rows ?? []).map((b) => [b.name, `${b.bloat_ratio}x`, formatBytes(b.wasted_bytes)]),
      );
    case "unused-indexes":
      return table(
        ["index", "size", "scans", "table"],
        (r["unused-indexes"]?.rows ?? []).map((i) => [
          i.name,
          formatBytes(i.bytes),
          String(i.scans),
          i.table_name,
        ]),
      );
    case "cache-hit":
      return table(
        ["of", "hit rate"],
        (r["cache-hit"]?.rows ?? []).map((c) => [c.name, pct(c.ratio_pct)]),
      );
    case "blocking":
      return table(
        ["blocked pid", "waiting", "blocking pid", "state", "blocked query", "blocking query"],
        (r.blocking?.rows ?? []).map((b) => [
          String(b.blocked_pid),
          ms(b.waiting_ms),
          String(b.blocking_pid),
          b.blocking_state ?? "-",
          oneLine(b.blocked_query).slice(0, 60),
          oneLine(b.blocking_query).slice(0, 60),
        ]),
      );
    case "long-running":
      return table(
        ["pid", "duration", "state", "application", "query"],
        (r["long-running"]?.rows ?? []).map((l) => [
          String(l.pid),
          ms(l.duration_ms),
          l.state ?? "-",
          l.application,
          oneLine(l.query).slice(0, 100),
        ]),
      );
  }
}
