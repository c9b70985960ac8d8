import path from "node:path";
import type { Command } from "commander";
import { openTarget } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { serveStorage } from "../../storage/serve.ts";
import { closeOnSignal, loadConfig, progressLine, releaseLine } from "../context.ts";

export function register(storage: Command): void {
  storage
    .command("serve")
    .description(
      "serve Supabase Storage's API at /storage/v1 for the database (embedded, or DATABASE_URL) until " +
        "Ctrl-C; writes api.json (url, anon and service keys, JWT secret) to the data folder",
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0: any free port; default VPB_STORAGE_PORT)")
    .action(async (flags: { host: string; port?: string }) => {
      const config = loadConfig();
      const port = flags.port === undefined ? config.storagePort : Number(flags.port);
      if ((flags.port !== undefined && !/^\d+$/.test(flags.port)) || port > 65535) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "--port must be a number from 0 to 65535",
          "Pass --port 54321, say.",
        );
      }
      const target = await openTarget(config, progressLine);
      const release = closeOnSignal(target);
      let running: Awaited<ReturnType<typeof serveStorage>>;
      try {
        running = await serveStorage({
          databaseUrl: target.url,
          dataDir: config.dataDir,
          host: flags.host,
          port,
          storage: config.storage,
          signedUrls: config.signedUrls,
          onServerError: (m) => progressLine(`storage: ${m}`),
        });
      } catch (e) {
        await target.close();
        throw e;
      } finally {
        release();
      }
      process.stdout.write(
        `storage ready: ${running.storageUrl}\n` +
          `anon key: ${running.api.anonKey}\n` +
          `service key and JWT secret: ${path.relative(process.cwd(), path.join(config.dataDir, "api.json"))}\n`,
      );
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      // Requests in flight finish first, then the pool, then the embedded server (if this started it).
      progressLine(`${signal}: stopping the storage service…`);
      await running.close();
      progressLine(releaseLine(await target.close(), config.dataDir));
    });
}
