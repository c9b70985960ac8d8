import type { Command } from "commander";
import { parseDuration } from "../../config.ts";
import { type RunningDashboard, serveDashboard } from "../../dashboard/server.ts";
import { openTarget } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { closeOnSignal, loadConfig, progressLine, releaseLine } from "../context.ts";

export function register(program: Command): void {
  program
    .command("dashboard")
    .description(
      "serve the monitoring dashboard (charts of the collected metrics and the alerts, behind the service key) " +
        "for the database (embedded, or DATABASE_URL) until Ctrl-C; its URL goes to api.json as dashboardUrl",
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0: any free port; default VPB_DASHBOARD_PORT)")
    .option("--refresh <duration>", "how often the page reloads its data", "30s")
    .action(async (flags: { host: string; port?: string; refresh: string }) => {
      const config = loadConfig();
      const port = flags.port === undefined ? config.dashboardPort : Number(flags.port);
      if ((flags.port !== undefined && !/^\d+$/.test(flags.port)) || port > 65535) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "--port must be a number from 0 to 65535",
          "Pass --port 54323, say.",
        );
      }
      const refreshMs = parseDuration(flags.refresh);
      if (refreshMs === undefined || refreshMs < 1000) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "--refresh must be a duration of at least 1s, such as 10s or 1min",
          "Pass --refresh 30s, say.",
        );
      }
      const target = await openTarget(config, progressLine);
      const release = closeOnSignal(target);
      let running: RunningDashboard;
      try {
        running = await serveDashboard({
          databaseUrl: target.url,
          dataDir: config.dataDir,
          host: flags.host,
          port,
          refreshMs,
        });
      } catch (e) {
        await target.close();
        throw e;
      } finally {
        release();
      }
      process.stdout.write(`dashboard ready: ${running.url} (sign in with the service key from api.json)\n`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      progressLine(`${signal}: stopping the dashboard…`);
      await running.close();
      progressLine(releaseLine(await target.close(), config.dataDir));
    });
}
