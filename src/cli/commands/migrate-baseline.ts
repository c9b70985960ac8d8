import type { Command } from "commander";
import { baseline } from "../../migrations/migrator.ts";
import { loadConfig, type MigrateFlags, migratorOptions, withTarget } from "../context.ts";
import { formatRun, printText, toJson } from "../report.ts";

export function register(migrate: Command): void {
  migrate
    .command("baseline")
    .description("record migrations as applied without running them (a database that already has the schema)")
    .option("--to <migration>", "record up to and including this migration (default: all)")
    .option("--json", "print the result as JSON")
    .action(async (flags: MigrateFlags & { to?: string }) => {
      const config = loadConfig(flags);
      const result = await withTarget(config, (t) =>
        baseline(migratorOptions(config, t, flags), { to: flags.to }),
      );
      printText(flags.json ? toJson(result) : formatRun("baselined", result));
      if (result.error) throw result.error;
    });
}
