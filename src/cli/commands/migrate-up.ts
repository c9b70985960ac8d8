import type { Command } from "commander";
import { migrateUp } from "../../migrations/migrator.ts";
import { loadConfig, type MigrateFlags, migratorOptions, withTarget } from "../context.ts";
import { formatRun, printText, toJson } from "../report.ts";
import { migrateOptions } from "./migrate-options.ts";

export function register(migrate: Command): void {
  migrateOptions(
    migrate
      .command("up")
      .description("apply pending migrations in order, each in its own transaction")
      .option("--to <migration>", "stop after this migration (number or name)"),
    { outOfOrder: true },
  ).action(async (flags: MigrateFlags & { to?: string }) => {
    const config = loadConfig(flags);
    const result = await withTarget(config, (t) =>
      migrateUp(migratorOptions(config, t, flags), { to: flags.to }),
    );
    printText(flags.json ? toJson(result) : formatRun("applied", result));
    if (result.error) throw result.error;
  });
}
