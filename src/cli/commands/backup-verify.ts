import type { Command } from "commander";
import { EMBEDDED_MAJOR } from "../../db/embedded-server.ts";
import { verifyBackup } from "../../ops/verify.ts";
import { loadConfig, progressLine } from "../context.ts";
import { embeddedBinDir, restoredUrlFor } from "./backup-options.ts";

export function register(backup: Command): void {
  backup
    .command("verify")
    .description(
      "restore a base backup into a scratch folder on a free port (checksums of every file, WAL gaps), run amcheck on every index and count rows; exit 1 on any problem",
    )
    .option("--backup <id>", "the base backup to verify (default: the newest)")
    .option("--json", "print the result as JSON")
    .action(async (flags: { backup?: string; json?: boolean }) => {
      const config = loadConfig();
      const result = await verifyBackup({
        backupDir: config.backupDir,
        binDir: await embeddedBinDir(),
        major: EMBEDDED_MAJOR,
        urlFor: await restoredUrlFor(config),
        ...(flags.backup ? { backupId: flags.backup } : {}),
        onProgress: progressLine,
      });
      const tables = Object.keys(result.tables).length;
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(result)}\n`
          : `backup ${result.backupId} verified: restored in ${(result.restoreMs / 1000).toFixed(1)} s, ${result.indexesChecked} indexes pass amcheck, ${tables} tables counted\n`,
      );
    });
}
