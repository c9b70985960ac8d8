import type { Command } from "commander";

/** The options shared by the migrate commands that change the database. */
export function migrateOptions(cmd: Command, { outOfOrder }: { outOfOrder: boolean }): Command {
  cmd
    .option("--lock-timeout <duration>", "lock_timeout per migration, e.g. 10s (env VPB_LOCK_TIMEOUT)")
    .option(
      "--statement-timeout <duration>",
      "statement_timeout per migration, 0 = none (env VPB_STATEMENT_TIMEOUT)",
    );
  if (outOfOrder)
    cmd.option("--allow-out-of-order", "apply a pending migration older than the latest applied one");
  return cmd.option("--json", "print the result as JSON");
}
