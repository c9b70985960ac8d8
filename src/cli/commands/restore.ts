import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { EMBEDDED_MAJOR, embeddedPaths } from "../../db/embedded-server.ts";
import { VpbError } from "../../errors.ts";
import { type RecoveryTarget, restoreBackup } from "../../ops/restore.ts";
import { loadConfig, progressLine } from "../context.ts";
import { embeddedBinDir, restoredUrlFor } from "./backup-options.ts";

export function register(program: Command): void {
  program
    .command("restore")
    .description(
      "build a NEW data folder from the newest base backup before the target and replay archived WAL to it; the current data is never touched",
    )
    .option("--to <time>", 'recover up to this time, e.g. "2026-11-25 10:42:00+00"')
    .option("--latest", "recover everything the WAL archive holds")
    .requiredOption(
      "--into <folder>",
      "a new folder laid out like VPB_DATA_DIR (start it with VPB_DATA_DIR=<folder>)",
    )
    .option("--backup <id>", "restore this base backup instead of choosing one")
    .action(async (flags: { to?: string; latest?: boolean; into: string; backup?: string }) => {
      const config = loadConfig();
      let target: RecoveryTarget;
      if (flags.to !== undefined && !flags.latest) {
        const time = new Date(flags.to);
        // A time without a zone would be read in this machine's zone: demand one.
        if (Number.isNaN(time.getTime()) || !/(Z|[+-]\d\d(:?\d\d)?)$/i.test(flags.to.trim())) {
          throw new VpbError(
            "INVALID_ARGUMENT",
            `--to must be a time with its zone, got "${flags.to}".`,
            'Pass e.g. --to "2026-11-25 10:42:00+00".',
          );
        }
        target = { time };
      } else if (flags.latest && flags.to === undefined) {
        target = { latest: true };
      } else {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "Give exactly one of --to and --latest.",
          'e.g. --to "2026-11-25 10:42:00+00".',
        );
      }
      const into = path.resolve(flags.into);
      if (into === config.dataDir) {
        throw new VpbError(
          "RESTORE_TARGET_EXISTS",
          `--into names the current data folder ${into}.`,
          "Restore into a new folder, check it, then point VPB_DATA_DIR at it.",
        );
      }
      const paths = embeddedPaths(into);
      const restored = await restoreBackup({
        backupDir: config.backupDir,
        pgData: paths.pgData,
        logFile: paths.logFile,
        binDir: await embeddedBinDir(),
        major: EMBEDDED_MAJOR,
        target,
        urlFor: await restoredUrlFor(config),
        ...(flags.backup ? { backupId: flags.backup } : {}),
        onProgress: progressLine,
      });
      restored.stop();
      // `start` on the new folder logs in with the source's password.
      if (!config.databaseUrl) {
        await mkdir(into, { recursive: true });
        await copyFile(embeddedPaths(config.dataDir).credentials, paths.credentials);
      }
      process.stdout.write(
        `restored base backup ${restored.backup.id} into ${paths.pgData} (PostgreSQL ${EMBEDDED_MAJOR}): copy ${(restored.copyMs / 1000).toFixed(1)} s, recovery ${(restored.recoveryMs / 1000).toFixed(1)} s\n` +
          `start it with: VPB_DATA_DIR=${into} npx vpb-db start\n`,
      );
    });
}
