import { chmod, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { openTarget } from "../../db/target.ts";
import { migrateUp } from "../../migrations/migrator.ts";
import { closeOnSignal, loadConfig, migratorOptions, progressLine } from "../context.ts";
import { formatRun } from "../report.ts";

export function register(program: Command): void {
  program
    .command("start")
    .description(
      "start the embedded PostgreSQL (or use DATABASE_URL), apply every migration, and keep the server " +
        "running until Ctrl-C",
    )
    .option("--once", "stop the embedded server after migrating instead of waiting")
    .action(async (flags: { once?: boolean }) => {
      const config = loadConfig();
      const started = performance.now();
      const target = await openTarget(config, progressLine);
      const release = closeOnSignal(target);
      try {
        const result = await migrateUp(migratorOptions(config, target, {}));
        progressLine(formatRun("applied", result));
        if (result.error) throw result.error;
      } catch (e) {
        await target.close();
        throw e;
      } finally {
        release();
      }
      const urlFile = path.join(config.dataDir, "database-url");
      if (target.embedded) {
        // Written aside and renamed over: an existing file keeps neither its old mode nor a moment of
        // the password under it (writeFile's mode applies only to a file it creates).
        const temporary = `${urlFile}.${process.pid}.tmp`;
        await writeFile(temporary, `${target.url}\n`, { mode: 0o600 });
        await chmod(temporary, 0o600);
        await rename(temporary, urlFile);
      }
      process.stdout.write(
        `ready in ${Math.round(performance.now() - started)} ms: ${target.display}\n` +
          (target.embedded
            ? `full connection string (with password): ${path.relative(process.cwd(), urlFile)}\n`
            : ""),
      );
      if (flags.once || !target.embedded) {
        await target.close();
        return;
      }
      process.stdout.write("Press Ctrl-C to stop.\n");
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      progressLine(`${signal}: stopping PostgreSQL…`);
      await target.close();
      progressLine("stopped.");
    });
}
