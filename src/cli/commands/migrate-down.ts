import type { Command } from "commander";
import { VpbError } from "../../errors.ts";
import { migrateDown } from "../../migrations/migrator.ts";
import { loadConfig, type MigrateFlags, migratorOptions, withTarget } from "../context.ts";
import { formatRun, printText, toJson } from "../report.ts";
import { migrateOptions } from "./migrate-options.ts";

export function register(migrate: Command): void {
  migrateOptions(
    migrate
      .command("down")
      .description("roll back applied migrations with their rollback scripts, newest first (default: one)")
      .option("--to <migration>", "roll back every migration after this one (it stays applied)")
      .option("--steps <n>", "roll back this many migrations")
      .option("--all", "roll back every applied migration"),
    { outOfOrder: false },
  ).action(async (flags: MigrateFlags & { to?: string; steps?: string; all?: boolean }) => {
    const chosen = [flags.to !== undefined, flags.steps !== undefined, flags.all === true].filter(
      Boolean,
    ).length;
    if (chosen > 1) {
      throw new VpbError(
        "INVALID_ARGUMENT",
        "--to, --steps and --all exclude each other.",
        "Give at most one of them.",
      );
    }
    if (flags.steps !== undefined && !/^[1-9]\d*$/.test(flags.steps)) {
      throw new VpbError(
        "INVALID_ARGUMENT",
        `--steps must be a positive integer, got "${flags.steps}".`,
        "Pass e.g. --steps 2.",
      );
    }
    const config = loadConfig(flags);
    const result = await withTarget(config, (t) =>
      migrateDown(migratorOptions(config, t, flags), {
        to: flags.to,
        steps: flags.steps === undefined ? undefined : Number(flags.steps),
        all: flags.all,
      }),
    );
    printText(flags.json ? toJson(result) : formatRun("rolled back", result));
    if (result.error) throw result.error;
  });
}
