import type { Command } from "commander";
import { parseDuration } from "../../config.ts";
import { connect } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import {
  INSPECT_DEFAULTS,
  INSPECT_SECTIONS,
  type InspectSection,
  inspectDatabase,
} from "../../monitoring/inspect.ts";
import { formatInspectReport } from "../../monitoring/inspect-format.ts";
import { loadConfig, withTarget } from "../context.ts";
import { toJson } from "../report.ts";

export function register(program: Command): void {
  program
    .command("inspect")
    .description(
      "show the database's top queries by total time, table and index sizes, bloat estimate, unused indexes, " +
        "cache hit rate, blocking locks and long-running queries (like `supabase inspect db`)",
    )
    .option(
      "--only <sections>",
      `comma-separated sections to show (default all): ${INSPECT_SECTIONS.join(", ")}`,
    )
    .option("--limit <n>", "rows per section", String(INSPECT_DEFAULTS.limit))
    .option("--long-running <duration>", "a statement running longer than this is long-running", "5min")
    .option("--json", "print the report as JSON")
    .action(async (flags: { only?: string; limit: string; longRunning: string; json?: boolean }) => {
      const names = (flags.only ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const unknown = names.filter((n) => !(INSPECT_SECTIONS as readonly string[]).includes(n));
      if (unknown.length > 0) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          `Unknown inspect section: ${unknown.join(", ")}.`,
          `Name sections among: ${INSPECT_SECTIONS.join(", ")}.`,
        );
      }
      const limit = /^\d+$/.test(flags.limit) ? Number(flags.limit) : Number.NaN;
      if (!(limit >= 1 && limit <= 1000)) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "--limit must be a whole number from 1 to 1000.",
          "Pass e.g. --limit 20.",
        );
      }
      const longRunningMs = parseDuration(flags.longRunning);
      if (longRunningMs === undefined) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "--long-running must be a duration such as 500ms, 30s or 5min.",
          "Pass e.g. --long-running 1min.",
        );
      }
      const sections = names.length > 0 ? (names as InspectSection[]) : INSPECT_SECTIONS;
      const config = loadConfig();
      const report = await withTarget(
        config,
        async (target) => {
          const client = await connect(target.url, "vpb-db inspect");
          try {
            return await inspectDatabase(client, { sections, limit, longRunningMs });
          } finally {
            await client.end();
          }
        },
        { existing: true },
      );
      process.stdout.write(`${flags.json ? toJson(report) : formatInspectReport(report, sections)}\n`);
    });
}
