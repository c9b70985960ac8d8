import type { Command } from "commander";
import { connect } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { takeBaseBackup } from "../../ops/base-backup.ts";
import { CHECKSUMS, type ChecksumAlgorithm, DEFAULT_CHECKSUM } from "../../ops/checksum.ts";
import { loadConfig, withTarget } from "../context.ts";
import { progressReporter } from "../progress.ts";

export function register(program: Command): Command {
  return program
    .command("backup")
    .description(
      "take a base backup of the server's data folder (embedded, or any server whose folder this process can read) into VPB_BACKUP_DIR; the server must archive WAL (`start` does). The database only: storage files are not in it (back up the storage folder or bucket, or use `export`, which holds both)",
    )
    .option("--json", "print the backup's manifest summary as JSON")
    .option(
      "--checksum <algorithm>",
      `every file's checksum in the manifest: ${CHECKSUMS.join(" or ")} (crc32 catches damage and is fast; sha256 also resists tampering)`,
      DEFAULT_CHECKSUM,
    )
    .action(async (flags: { json?: boolean; checksum: string }) => {
      if (!(CHECKSUMS as readonly string[]).includes(flags.checksum)) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          `--checksum must be ${CHECKSUMS.join(" or ")}, not ${JSON.stringify(flags.checksum)}.`,
          `Run \`vpb-db backup --checksum ${DEFAULT_CHECKSUM}\` (the default) or --checksum sha256.`,
        );
      }
      const config = loadConfig();
      const started = performance.now();
      const progress = progressReporter();
      const manifest = await withTarget(config, async (target) => {
        // One connection for the whole copy: closing it would abort the backup.
        const client = await connect(target.url, "vpb-db backup");
        try {
          const { rows } = await client.query<{ dir: string }>(
            "select current_setting('data_directory') as dir",
          );
          return await takeBaseBackup({
            client,
            pgData: rows[0]?.dir ?? "",
            backupDir: config.backupDir,
            checksum: flags.checksum as ChecksumAlgorithm,
            onProgress: progress,
          });
        } finally {
          progress.finish();
          await client.end();
        }
      });
      const bytes = manifest.files.reduce((sum, f) => sum + f.size, 0);
      const seconds = (performance.now() - started) / 1000;
      const summary = {
        id: manifest.id,
        files: manifest.files.length,
        bytes,
        seconds: Number(seconds.toFixed(1)),
        wal: [manifest.startWal, manifest.stopWal],
        folder: config.backupDir,
      };
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(summary)}\n`
          : `base backup ${manifest.id}: ${summary.files} files, ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s (WAL ${manifest.startWal} to ${manifest.stopWal}) in ${config.backupDir}\n`,
      );
    });
}
