import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, rename } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import type { Config } from "../../config.ts";
import { EMBEDDED_MAJOR, embeddedPaths, runningServer, stopPostmaster } from "../../db/embedded-server.ts";
import { currentProcess } from "../../db/process-identity.ts";
import { liveLeases } from "../../db/server-lock.ts";
import { connect, openTarget } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { type RecoveryTarget, restoreBackup } from "../../ops/restore.ts";
import { migrationAppliedAt } from "../../ops/restore-points.ts";
import { archiveCurrentWal } from "../../ops/wal-archive.ts";
import { loadConfig, progressLine } from "../context.ts";
import { progressReporter } from "../progress.ts";
import { embeddedBinDir, restoredUrlFor } from "./backup-options.ts";

interface RestoreFlags {
  to?: string;
  latest?: boolean;
  beforeMigration?: string;
  into?: string;
  replace?: boolean;
  yes?: boolean;
  backup?: string;
}

function usage(message: string, remedy: string): VpbError {
  return new VpbError("INVALID_ARGUMENT", message, remedy);
}

function parseTarget(flags: RestoreFlags): RecoveryTarget | { beforeMigration: number } {
  const given = [flags.to !== undefined, flags.latest === true, flags.beforeMigration !== undefined];
  if (given.filter(Boolean).length !== 1)
    throw usage(
      "Give exactly one of --to, --latest and --before-migration.",
      'e.g. --to "2026-11-25 10:42:00+00".',
    );
  if (flags.to !== undefined) {
    const time = new Date(flags.to);
    // A time without a zone would be read in this machine's zone: demand one.
    if (Number.isNaN(time.getTime()) || !/(Z|[+-]\d\d(:?\d\d)?)$/i.test(flags.to.trim()))
      throw usage(
        `--to must be a time with its zone, got "${flags.to}".`,
        'Pass e.g. --to "2026-11-25 10:42:00+00".',
      );
    return { time };
  }
  if (flags.beforeMigration !== undefined) {
    if (!/^\d{1,6}$/.test(flags.beforeMigration))
      throw usage(
        `--before-migration takes a migration number, got "${flags.beforeMigration}".`,
        "e.g. --before-migration 12.",
      );
    return { beforeMigration: Number(flags.beforeMigration) };
  }
  return { latest: true };
}

/**
 * Asks the live server (the embedded one, started if needed) for what the restore needs: the time a
 * migration was applied, and its newest commits archived (its open WAL segment is switched and waited
 * for), so that --latest and a recent --to reach them. A server that cannot start (its disk is the
 * reason for the restore) is skipped with a note, unless --before-migration needs its history.
 */
async function askLiveServer(config: Config, wanted: RecoveryTarget | { beforeMigration: number }) {
  try {
    const target = await openTarget(config, progressLine);
    try {
      const client = await connect(target.url, "vpb-db restore");
      try {
        const time =
          "beforeMigration" in wanted ? await migrationAppliedAt(client, wanted.beforeMigration) : undefined;
        if (target.embedded) await archiveCurrentWal(client);
        return time;
      } finally {
        await client.end();
      }
    } finally {
      await target.close();
    }
  } catch (e) {
    if ("beforeMigration" in wanted) throw e;
    progressLine(
      `the current server could not be asked to archive its newest WAL (${(e as Error).message.split("\n")[0]}); restoring from the archive as it is`,
    );
    return undefined;
  }
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim().toLowerCase() === "yes";
  } finally {
    rl.close();
  }
}

/** A folder name that sorts by time and says what it is: pg17.replaced-20261126T031500Z. */
function stamp(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

export function register(program: Command): void {
  program
    .command("restore")
    .description(
      "build a new data folder from the newest base backup before the target and replay archived WAL to it; --into leaves the current data alone, --replace swaps the restored folder in (the old one is kept aside)",
    )
    .option("--to <time>", 'recover up to this time, e.g. "2026-11-25 10:42:00+00"')
    .option("--latest", "recover everything the WAL archive holds")
    .option(
      "--before-migration <n>",
      "recover to just before migration N was applied (from vpb_migrate's history)",
    )
    .option(
      "--into <folder>",
      "a new folder laid out like VPB_DATA_DIR (start it with VPB_DATA_DIR=<folder>)",
    )
    .option(
      "--replace",
      "replace the embedded server's data: stop it, move its folder aside under a dated name, put the restored one in place, start it",
    )
    .option("--yes", "confirm --replace without a prompt (required outside a terminal)")
    .option("--backup <id>", "restore this base backup instead of choosing one")
    .action(async (flags: RestoreFlags) => {
      const config = loadConfig();
      const wanted = parseTarget(flags);
      if ((flags.into === undefined) === (flags.replace !== true))
        throw usage(
          "Give exactly one of --into <folder> and --replace.",
          "--into to look at the restore first, --replace to put it in place.",
        );
      if (flags.replace && config.databaseUrl)
        throw usage(
          "--replace works on the embedded server only (DATABASE_URL is set).",
          "Restore --into a folder and move it in place yourself.",
        );
      if (flags.replace && !flags.yes && !process.stdin.isTTY) {
        throw new VpbError(
          "RESTORE_UNCONFIRMED",
          "restore --replace replaces the current data and needs a confirmation: none can be asked here (no terminal).",
          "Add --yes once you are sure; nothing was changed.",
        );
      }
      const into = flags.into ? path.resolve(flags.into) : undefined;
      if (into === config.dataDir) {
        throw new VpbError(
          "RESTORE_TARGET_EXISTS",
          `--into names the current data folder ${into}.`,
          "Restore into a new folder, check it, then point VPB_DATA_DIR at it; or use --replace.",
        );
      }

      // Refused before the live server is asked anything (restoreBackup checks it again).
      if (into && (await readdir(embeddedPaths(into).pgData).catch(() => [])).length > 0) {
        throw new VpbError(
          "RESTORE_TARGET_EXISTS",
          `The folder ${embeddedPaths(into).pgData} exists and is not empty: restore never writes over data.`,
          "Choose a new folder with --into.",
        );
      }
      const appliedAt = await askLiveServer(config, wanted);
      const target: RecoveryTarget = "beforeMigration" in wanted ? { time: appliedAt as Date } : wanted;
      const current = embeddedPaths(config.dataDir);
      const aside = `${current.pgData}.replaced-${stamp()}`;
      if (flags.replace && !flags.yes) {
        const what = "time" in target ? `to ${target.time.toISOString()}` : "to the end of the WAL archive";
        const ok = await confirm(
          `This stops the embedded server, moves ${current.pgData} aside to ${aside} and puts a restore ${what} in its place.\nType yes to go on: `,
        );
        if (!ok)
          throw new VpbError(
            "RESTORE_UNCONFIRMED",
            "restore --replace was not confirmed.",
            "Nothing was changed; run it again and answer yes.",
          );
      }

      // --replace restores beside the current folder (same disk: the swap is a rename) while it still runs.
      const pgData = into ? embeddedPaths(into).pgData : `${current.pgData}.restoring`;
      const logFile = into ? embeddedPaths(into).logFile : path.join(config.dataDir, "restore.log");
      const progress = progressReporter();
      const restored = await restoreBackup({
        backupDir: config.backupDir,
        pgData,
        logFile,
        binDir: await embeddedBinDir(),
        major: EMBEDDED_MAJOR,
        target,
        urlFor: await restoredUrlFor(config),
        ...(flags.backup ? { backupId: flags.backup } : {}),
        onProgress: progress,
      }).finally(() => progress.finish());
      restored.stop();
      const timing = `copy ${(restored.copyMs / 1000).toFixed(1)} s, recovery ${(restored.recoveryMs / 1000).toFixed(1)} s`;

      if (into) {
        // `start` on the new folder logs in with the source's password.
        if (!config.databaseUrl) {
          await mkdir(into, { recursive: true });
          await copyFile(current.credentials, embeddedPaths(into).credentials);
        }
        process.stdout.write(
          `restored base backup ${restored.backup.id} into ${pgData} (PostgreSQL ${EMBEDDED_MAJOR}): ${timing}\n` +
            `start it with: VPB_DATA_DIR=${into} npx vpb-db start\n`,
        );
        return;
      }

      const me = await currentProcess();
      const others = (await liveLeases(config.dataDir)).filter((p) => p.pid !== me.pid);
      if (others.length > 0) {
        throw new VpbError(
          "RESTORE_SERVER_IN_USE",
          `vpb-db process(es) ${others.map((p) => p.pid).join(", ")} use the embedded server; the restored folder waits in ${pgData}.`,
          "Stop them (npm start, storage serve), then run the restore --replace again.",
        );
      }
      if (await runningServer(current.pgData)) {
        progressLine("stopping the embedded server");
        await stopPostmaster(current.pgData);
      }
      // A folder lost with its disk has nothing to keep aside.
      const hadData = existsSync(current.pgData);
      if (hadData) await rename(current.pgData, aside);
      await rename(pgData, current.pgData);
      if (hadData) progressLine(`the old data folder is kept in ${aside}`);
      const server = await openTarget(config, progressLine);
      try {
        const client = await connect(server.url, "vpb-db restore");
        await client.end();
      } finally {
        await server.close();
      }
      process.stdout.write(
        `replaced ${current.pgData} with base backup ${restored.backup.id} recovered ${"time" in target ? `to ${target.time.toISOString()}` : "to the end of the archive"} (${timing}); it started and stopped cleanly\n` +
          (hadData ? `the old data is in ${aside}: remove it once you are satisfied\n` : ""),
      );
    });
}
