import type { Command } from "commander";
import { migrationPlan } from "../../migrations/migrator.ts";
import { loadConfig, type MigrateFlags, migratorOptions, withTarget } from "../context.ts";

export function register(migrate: Command): void {
  migrate
    .command("plan")
    .description("print the SQL that `migrate up` would run, and run nothing")
    .option("--to <migration>", "stop after this migration (number or name)")
    .option("--allow-out-of-order", "include a pending migration older than the latest applied one")
    .action(async (flags: MigrateFlags & { to?: string }) => {
      const config = loadConfig(flags);
      const plan = await withTarget(config, (t) =>
        migrationPlan(migratorOptions(config, t, flags), { to: flags.to }),
      );
      if (plan.error) throw plan.error;
      if (plan.steps.length === 0) process.stdout.write("-- Nothing to apply.\n");
      for (const m of plan.steps) {
        const mode = m.noTransaction ? "statement by statement, no transaction" : "in one transaction";
        process.stdout.write(
          `-- ${m.file} (${mode}, sha256 ${m.checksum.slice(0, 12)})\n${m.sql.trimEnd()}\n\n`,
        );
      }
    });
}
