import type { Command } from "commander";
import { openTarget } from "../../db/target.ts";
import { resolveJobs, startScheduler } from "../../jobs/scheduler.ts";
import { closeOnSignal, loadConfig, progressLine, releaseLine } from "../context.ts";

export function register(program: Command): void {
  program
    .command("worker")
    .description(
      "run the recurring jobs against DATABASE_URL (or the embedded server) until Ctrl-C or SIGTERM; any number of " +
        "workers and `start` processes may run on one database: each slot runs once",
    )
    .action(async () => {
      const config = loadConfig();
      const target = await openTarget(config, progressLine);
      const release = closeOnSignal(target);
      let scheduler: Awaited<ReturnType<typeof startScheduler>>;
      let on: string[];
      try {
        const jobs = resolveJobs({ url: target.url, config, embedded: target.embedded });
        on = jobs.filter((j) => j.off === undefined).map((j) => j.definition.name);
        scheduler = await startScheduler({
          env: { url: target.url, config, embedded: target.embedded },
          jobs,
          onLog: progressLine,
        });
      } catch (e) {
        release();
        await target.close();
        throw e;
      }
      release();
      process.stdout.write(`worker running ${on.length} jobs (${on.join(", ")}) on ${target.display}\n`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        // The timer keeps the event loop alive while pg-boss's timers are unref'd.
        const keepAlive = setInterval(() => {}, 60_000);
        const done = (s: NodeJS.Signals) => {
          clearInterval(keepAlive);
          resolve(s);
        };
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      progressLine(`${signal}: stopping the jobs…`);
      await scheduler.stop();
      progressLine(releaseLine(await target.close(), config.dataDir));
    });
}
