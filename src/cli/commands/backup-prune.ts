import type { Command } from "commander";
import { pruneBackups } from "../../ops/retention.ts";
import { loadConfig } from "../context.ts";

export function register(backup: Command): void {
  backup
    .command("prune")
    .description(
      "remove base backups beyond VPB_BACKUP_KEEP days (the newest of each day is kept, and always the newest verified one) and the WAL the oldest kept backup does not need",
    )
    .option("--dry-run", "list what would be removed, remove nothing")
    .option("--json", "print the plan as JSON")
    .action(async (_flags: unknown, command: Command) => {
      // `backup` has a --json of its own: commander hands it to the parent unless asked for both.
      const flags = command.optsWithGlobals<{ dryRun?: boolean; json?: boolean }>();
      const config = loadConfig();
      const plan = await pruneBackups({
        backupDir: config.backupDir,
        keepDays: config.backupKeep,
        dryRun: flags.dryRun ?? false,
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(plan)}\n`);
        return;
      }
      const verb = plan.dryRun ? "would remove" : "removed";
      const lines = [
        ...plan.keep.map((k) => `keep   ${k.id} (${k.why})`),
        ...plan.remove.map((id) => `${plan.dryRun ? "prune" : "pruned"} ${id}`),
        `${verb} ${plan.remove.length} base backup(s) and ${plan.walRemove.length} WAL segment(s), ${(plan.bytesFreed / 1e6).toFixed(1)} MB`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
