import type { Command } from "commander";
import { repair } from "../../migrations/migrator.ts";
import { loadConfig, type MigrateFlags, migratorOptions, withTarget } from "../context.ts";
import { formatRun, printText, toJson } from "../report.ts";

export function register(migrate: Command): void {
  migrate
    .command("repair")
    .description("accept deliberate edits of applied migrations: record their files' new checksums")
    .option("--json", "print the result as JSON")
    .action(async (flags: MigrateFlags) => {
      const config = loadConfig(flags);
      const result = await withTarget(config, (t) => repair(migratorOptions(config, t, flags)));
      printText(flags.json ? toJson(result) : formatRun("repaired", result));
      if (result.error) throw result.error;
    });
}
