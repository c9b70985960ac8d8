import type { Command } from "commander";
import type pg from "pg";
import { EMBEDDED_MAJOR } from "../../db/embedded-server.ts";
import { connect } from "../../db/target.ts";
import { verifyBackup } from "../../ops/verify.ts";
import { openDriver } from "../../storage/drivers/select.ts";
import { storageRoot } from "../../storage/serve.ts";
import { loadConfig, withTarget } from "../context.ts";
import { progressReporter } from "../progress.ts";
import { embeddedBinDir, restoredUrlFor } from "./backup-options.ts";

export function register(backup: Command): void {
  backup
    .command("verify")
    .description(
      "mark a consistent point on the live database (a restore point and every app table's digest in one snapshot), restore a base backup into a scratch folder on a free port (checksums of every file, WAL gaps) and recover it through the archived WAL to that point, compare every app table's row count and digest with the live database's, run amcheck on every index, check RLS (forced on every table; two users see only their own projects) and every storage object's file, count rows; records the result in the backup's verification.json; exit 1 naming every mismatch",
    )
    .option("--backup <id>", "the base backup to verify (default: the newest)")
    .option(
      "--offline",
      "do not connect to the database: recover to the backup's end (or to the point an older backup's manifest records, and compare its digests) without comparing with the live database",
    )
    .option("--json", "print the result as JSON")
    .action(async (_flags: unknown, command: Command) => {
      // `backup` has a --json of its own: commander hands it to the parent unless asked for both.
      const flags = command.optsWithGlobals<{ backup?: string; json?: boolean; offline?: boolean }>();
      const config = loadConfig();
      // The configured driver (disk or S3): the files are where the storage service keeps them.
      const driver = await openDriver(config.storage, storageRoot(config.dataDir));
      const progress = progressReporter();
      const run = async (live?: pg.Client) =>
        verifyBackup({
          backupDir: config.backupDir,
          binDir: await embeddedBinDir(),
          major: EMBEDDED_MAJOR,
          urlFor: await restoredUrlFor(config),
          ...(flags.backup ? { backupId: flags.backup } : {}),
          ...(live ? { live } : {}),
          storage: driver,
          onProgress: progress,
        });
      const result = await (flags.offline
        ? run()
        : withTarget(
            config,
            async (target) => {
              const live = await connect(target.url, "vpb-db backup verify");
              try {
                return await run(live);
              } finally {
                await live.end();
              }
            },
            { existing: true },
          )
      ).finally(() => {
        progress.finish();
        driver.close?.();
      });
      const tables = Object.keys(result.tables).length;
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(result)}\n`
          : `backup ${result.backupId} verified: restored in ${(result.restoreMs / 1000).toFixed(1)} s, ${result.indexesChecked} indexes pass amcheck, ${Object.keys(result.rlsUsers).length ? "RLS checked with two users" : "RLS check skipped (it needs two users who own projects)"}, ${result.storageObjects ?? 0} storage ${(result.storageObjects ?? 0) === 1 ? "file" : "files"} present, ${tables} tables counted, ${result.comparedWith === undefined ? "no digests to compare (the backup recorded none: verify without --offline compares every table with the live database)" : `${result.digestsCompared.length} tables' digests equal to ${result.comparedWith === "live" ? "the live database's" : "the backup's"}`}\n`,
      );
    });
}
