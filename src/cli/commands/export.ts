import path from "node:path";
import type { Command } from "commander";
import { VpbError } from "../../errors.ts";
import { checkUserId, exportDatabase } from "../../ops/export.ts";
import type { CopyFormat } from "../../ops/export-format.ts";
import { openDriver } from "../../storage/drivers/select.ts";
import { storageRoot } from "../../storage/serve.ts";
import { loadConfig, withTarget } from "../context.ts";
import { transferPrinter } from "../progress.ts";

export function register(program: Command): void {
  program
    .command("export")
    .description(
      "write every table (COPY), the migration state, the storage files and a manifest of row counts, " +
        "digests and sha256s to a new folder, from one snapshot; any database, Supabase included " +
        "(the role needs BYPASSRLS)",
    )
    .option("--out <folder>", "the folder to create (default: VPB_BACKUP_DIR/exports/<UTC time>)")
    .option("--format <format>", "binary or csv", "binary")
    .option("--user <id>", "only this user's rows and files (a data takeout; see database/README.md)")
    .option("--json", "print the result as JSON")
    .action(async (flags: { out?: string; format: string; user?: string; json?: boolean }) => {
      if (flags.format !== "binary" && flags.format !== "csv") {
        throw new VpbError(
          "INVALID_ARGUMENT",
          `--format must be binary or csv, got "${flags.format}".`,
          "Pass --format binary (the default, faster) or --format csv (readable by other tools).",
        );
      }
      // Refused before the server is attached to.
      if (flags.user !== undefined) checkUserId(flags.user);
      const config = loadConfig();
      // The configured driver (disk or S3): the files are where the storage service keeps them.
      const driver = await openDriver(config.storage, storageRoot(config.dataDir));
      const stamp = new Date()
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d+Z$/, "Z");
      const out = path.resolve(flags.out ?? path.join(config.backupDir, "exports", stamp));
      const printer = transferPrinter();
      const result = await withTarget(
        config,
        (target) =>
          exportDatabase({
            url: target.url,
            out,
            driver,
            format: flags.format as CopyFormat,
            ...(flags.user !== undefined ? { user: flags.user } : {}),
            onProgress: printer.update,
          }),
        { existing: true },
      ).finally(() => {
        printer.end();
        driver.close?.();
      });
      const m = result.manifest;
      const rows = m.tables.reduce((s, t) => s + t.rows, 0);
      const summary = {
        out: result.out,
        tables: m.tables.length,
        rows,
        files: m.files.length,
        missingFiles: m.missingFiles,
        bytes: result.bytes,
        seconds: Number((result.ms / 1000).toFixed(1)),
      };
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(summary)}\n`
          : `exported ${summary.tables} tables (${rows} rows) and ${summary.files} ${summary.files === 1 ? "file" : "files"}, ${(result.bytes / 1e6).toFixed(1)} MB in ${summary.seconds} s to ${result.out}\n` +
              (m.missingFiles.length > 0
                ? `warning: ${m.missingFiles.length} storage objects had no file in the storage driver (listed in manifest.json as missingFiles)\n`
                : ""),
      );
    });
}
