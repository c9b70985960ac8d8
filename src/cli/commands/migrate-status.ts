import type { Command } from "commander";
import { migrationStatus, STATUS_EXIT, statusExitCode } from "../../migrations/migrator.ts";
import { loadConfig, type MigrateFlags, migratorOptions, withTarget } from "../context.ts";
import { formatStatus, toJson } from "../report.ts";

export function register(migrate: Command): void {
  migrate
    .command("status")
    .description(
      `list applied and pending migrations and any drift; exit ${STATUS_EXIT.upToDate} up to date, ` +
        `${STATUS_EXIT.pending} pending, ${STATUS_EXIT.drift} drift, ${STATUS_EXIT.error} error`,
    )
    .option("--allow-out-of-order", "do not count an old pending migration as drift")
    .option("--json", "print the result as JSON")
    .action(async (flags: MigrateFlags) => {
      const config = loadConfig(flags);
      const status = await withTarget(config, (t) => migrationStatus(migratorOptions(config, t, flags)), {
        existing: true,
      });
      const out = flags.json
        ? toJson({ ...status, pending: status.pending.map((p) => ({ name: p.name, file: p.file })) })
        : formatStatus(status);
      process.stdout.write(`${out}\n`);
      process.exitCode = statusExitCode(status);
    });
}
