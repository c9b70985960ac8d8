import type { Command } from "commander";
import { reset } from "../../migrations/migrator.ts";
import { loadConfig, type MigrateFlags, migratorOptions, withTarget } from "../context.ts";
import { formatRun, printText, toJson } from "../report.ts";
import { migrateOptions } from "./migrate-options.ts";

export function register(migrate: Command): void {
  migrateOptions(
    migrate
      .command("reset")
      .description("roll back every migration, then apply them all again (refused on a non-local database)")
      .option("--force", "reset a database that is not on this machine"),
    { outOfOrder: false },
  ).action(async (flags: MigrateFlags & { force?: boolean }) => {
    const config = loadConfig(flags);
    const result = await withTarget(config, (t) =>
      reset(migratorOptions(config, t, flags), { local: t.local, force: flags.force === true }),
    );
    printText(flags.json ? toJson(result) : formatRun("reset", result));
    if (result.error) throw result.error;
  });
}
