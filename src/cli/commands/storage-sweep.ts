import type { Command } from "commander";
import { parseDuration } from "../../config.ts";
import { openTarget } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { createRunner } from "../../sdk/db.ts";
import { openDriver } from "../../storage/drivers/select.ts";
import { storageRoot } from "../../storage/serve.ts";
import { sweepStorage } from "../../storage/sweep.ts";
import { closeOnSignal, loadConfig, progressLine } from "../context.ts";

export function register(storage: Command): void {
  storage
    .command("sweep")
    .description(
      "reconcile stored files with storage.objects: remove the files of deleted projects and users, " +
        "files no row names, rows whose file is gone and temporary files left by a crash; prints the counts",
    )
    .option("--grace <duration>", "leave alone what is younger (uploads in flight)", "15min")
    .option(
      "--force-missing",
      "remove the rows of missing files even when most files are missing (they are known to be lost)",
    )
    .option("--json", "print the counts as JSON")
    .action(async (flags: { grace: string; json?: boolean; forceMissing?: boolean }) => {
      const graceMs = parseDuration(flags.grace);
      if (graceMs === undefined) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "--grace must be a duration such as 15min, 30s or 0",
          "Pass --grace 15min, say.",
        );
      }
      const config = loadConfig();
      const target = await openTarget(config, progressLine);
      const release = closeOnSignal(target);
      const runner = createRunner({
        connectionString: target.url,
        max: 2,
        applicationName: "vpb-db storage sweep",
      });
      const driver = await openDriver(config.storage, storageRoot(config.dataDir));
      try {
        const report = await sweepStorage(runner, driver, {
          graceMs,
          forceMissing: flags.forceMissing === true,
        });
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(report)}\n`
            : `swept: ${report.queued} queued deletions settled, ${report.orphanFiles} files without a row, ` +
                `${report.orphanRows} rows without a file, ${report.tempFiles} temporary files removed\n`,
        );
      } finally {
        driver.close?.();
        await runner.pool.end();
        release();
        await target.close();
      }
    });
}
