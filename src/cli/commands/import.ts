import path from "node:path";
import type { Command } from "commander";
import { migrateUp } from "../../migrations/migrator.ts";
import { importExport, readManifest } from "../../ops/import.ts";
import { openDriver } from "../../storage/drivers/select.ts";
import { storageRoot } from "../../storage/serve.ts";
import { loadConfig, migratorOptions, withTarget } from "../context.ts";
import { transferPrinter } from "../progress.ts";

export function register(program: Command): void {
  program
    .command("import")
    .description(
      "load an export into an empty database (migrated to the export's migration, or behind it: then it is " +
        "migrated up to it first), all rows in one transaction, then check every table's digest and every file's " +
        "sha256 against the manifest; any difference imports nothing",
    )
    .argument("<folder>", "a folder `vpb-db export` wrote")
    .option("--json", "print the result as JSON")
    .action(async (folder: string, flags: { json?: boolean }) => {
      const config = loadConfig();
      // A folder that is no importable export is refused before any server starts (or is created).
      await readManifest(path.resolve(folder));
      // The configured driver (disk or S3): the files are where the storage service keeps them.
      const driver = await openDriver(config.storage, storageRoot(config.dataDir));
      const printer = transferPrinter();
      const result = await withTarget(config, (target) =>
        importExport({
          url: target.url,
          dir: path.resolve(folder),
          driver,
          migrateTo: async (name) => {
            const up = await migrateUp(migratorOptions(config, target, {}), { to: name });
            if (up.error) throw up.error;
          },
          onProgress: printer.update,
        }),
      ).finally(() => {
        printer.end();
        driver.close?.();
      });
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(result)}\n`
          : `imported ${result.tables} tables (${result.rows} rows) and ${result.files} ${result.files === 1 ? "file" : "files"}, ${(result.bytes / 1e6).toFixed(1)} MB in ${(result.ms / 1000).toFixed(1)} s; every digest matches the manifest (triggers: ${result.triggerMode})` +
              `${result.migratedTo ? `; migrated up to ${result.migratedTo} first` : ""}\n`,
      );
    });
}
