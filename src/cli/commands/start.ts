import { chmod, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import type { Config } from "../../config.ts";
import { type RunningDashboard, serveDashboard } from "../../dashboard/server.ts";
import { tail } from "../../db/embedded-server.ts";
import { openTarget, type Target } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { resolveJobs, type Scheduler, startScheduler } from "../../jobs/scheduler.ts";
import { migrateUp } from "../../migrations/migrator.ts";
import { type RunningStorage, serveStorage } from "../../storage/serve.ts";
import { closeOnSignal, loadConfig, migratorOptions, progressLine, releaseLine } from "../context.ts";
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
        const report = formatRun("applied", result);
        if (report) progressLine(report);
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
      let storage: RunningStorage;
      try {
        storage = await startStorage(config, target.url);
      } catch (e) {
        await target.close();
        throw e;
      }
      process.stdout.write(
        `storage ready: ${storage.storageUrl}\n` +
          `anon key: ${storage.api.anonKey}\n` +
          `service key and JWT secret: ${path.relative(process.cwd(), path.join(config.dataDir, "api.json"))}\n`,
      );
      let dashboard: RunningDashboard;
      try {
        dashboard = await startDashboard(config.dashboardPort, target.url, config.dataDir);
      } catch (e) {
        await storage.close();
        await target.close();
        throw e;
      }
      process.stdout.write(`dashboard: ${dashboard.url}\n`);
      let scheduler: Scheduler | undefined;
      if (config.scheduler) {
        try {
          const env = { url: target.url, config, embedded: target.embedded };
          const jobs = resolveJobs(env);
          scheduler = await startScheduler({ env, jobs, onLog: progressLine });
          const on = jobs.filter((j) => j.off === undefined).map((j) => j.definition.name);
          process.stdout.write(
            `scheduler running ${on.length} jobs: ${on.join(", ")} (\`vpb-db jobs\` lists them)\n`,
          );
        } catch (e) {
          await dashboard.close();
          await storage.close();
          await target.close();
          throw e;
        }
      }
      process.stdout.write("Press Ctrl-C to stop.\n");
      const ended = await watch(target);
      // The HTTP services go first: their requests in flight finish while the database still answers.
      await dashboard.close();
      await storage.close();
      // Then the jobs: runs in flight are cancelled and recorded as failed (retried by the next process).
      await scheduler?.stop().catch((e: unknown) => progressLine(`scheduler: ${(e as Error).message}`));
      if (ended.kind === "server-stopped") {
        await target.close();
        throw new VpbError(
          "EMBEDDED_SERVER_STOPPED",
          `PostgreSQL stopped while \`start\` was running. Last lines of ${target.logFile}:\n${await tail(target.logFile ?? "", 15)}`,
          "Read the log above, then start it again (`npm start`, or `npx vpb-db start` from an app).",
        );
      }
      progressLine(
        `${ended.kind === "signal" ? ended.signal : "parent process gone"}: stopped the dashboard, the storage service${scheduler ? " and the jobs" : ""}`,
      );
      const released = await target.close();
      progressLine(releaseLine(released, config.dataDir));
    });
}

/** The storage service on its preferred port, or any free one when that is taken (printed either way). */
async function startStorage(config: Config, databaseUrl: string): Promise<RunningStorage> {
  const port = config.storagePort;
  const options = {
    databaseUrl,
    dataDir: config.dataDir,
    storage: config.storage,
    signedUrls: config.signedUrls,
    host: "127.0.0.1",
    onServerError: (m: string) => progressLine(`storage: ${m}`),
  };
  try {
    return await serveStorage({ ...options, port });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || port === 0) throw e;
    progressLine(`storage: port ${port} is busy, taking a free one`);
    return await serveStorage({ ...options, port: 0 });
  }
}

/** The dashboard on its preferred port, or any free one when that is taken (printed either way). */
async function startDashboard(port: number, databaseUrl: string, dataDir: string): Promise<RunningDashboard> {
  const options = { databaseUrl, dataDir, host: "127.0.0.1" };
  try {
    return await serveDashboard({ ...options, port });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || port === 0) throw e;
    progressLine(`dashboard: port ${port} is busy, taking a free one`);
    return await serveDashboard({ ...options, port: 0 });
  }
}

type Ending =
  | { kind: "signal"; signal: NodeJS.Signals }
  | { kind: "parent-gone" }
  | { kind: "server-stopped" };

/**
 * Waits for what ends `start`: Ctrl-C or SIGTERM; the parent process going away (npm's shell does not
 * pass SIGTERM on, and the process is then re-parented); or the server stopping under it. The timer
 * also keeps the event loop alive: signal listeners alone do not, and an attached `start` would exit.
 */
function watch(target: Target): Promise<Ending> {
  const parent = process.ppid;
  return new Promise((resolve) => {
    let checking = false;
    const done = (ending: Ending) => {
      clearInterval(timer);
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
      resolve(ending);
    };
    const onSignal = (signal: NodeJS.Signals) => done({ kind: "signal", signal });
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const timer = setInterval(async () => {
      if (checking) return;
      checking = true;
      try {
        if (process.ppid !== parent) done({ kind: "parent-gone" });
        else if (target.isRunning && !(await target.isRunning())) done({ kind: "server-stopped" });
      } finally {
        checking = false;
      }
    }, 1000);
  });
}
