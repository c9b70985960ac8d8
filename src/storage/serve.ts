import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { Config, StorageBackend } from "../config.ts";
import { createRunner } from "../sdk/db.ts";
import { type ApiConfig, ensureApiConfig, readApiConfig, releaseApiUrl } from "./api-config.ts";
import { openDriver } from "./drivers/select.ts";
import { createStorageServer, STORAGE_PREFIX } from "./server.ts";

/** Where the disk driver keeps the files: `storage/` in the data folder. */
export function storageRoot(dataDir: string): string {
  return path.join(dataDir, "storage");
}

export interface ServeOptions {
  /** The database (the embedded server's URL or DATABASE_URL). */
  databaseUrl: string;
  /** The data folder: api.json beside database-url, files under storage/. */
  dataDir: string;
  host: string;
  /** 0 takes any free port. */
  port: number;
  /** Where the bytes go (default: disk, under the data folder's storage/). */
  storage?: StorageBackend;
  /** Signed URLs' lifetimes (default: an upload URL 2 h, a download URL up to 7 days). */
  signedUrls?: Config["signedUrls"];
  onServerError?: (message: string) => void;
}

export interface RunningStorage {
  api: ApiConfig;
  /** The service's own URL (`api.url` + /storage/v1). */
  storageUrl: string;
  close(): Promise<void>;
}

/**
 * Runs the storage service beside a database: what `start` and `vpb-db storage serve` call. It keeps
 * one small pool of its own, closed by `close()` after the server has finished its requests.
 */
export async function serveStorage(options: ServeOptions): Promise<RunningStorage> {
  const runner = createRunner({ connectionString: options.databaseUrl, applicationName: "vpb-db storage" });
  let app: FastifyInstance | undefined;
  const driver = await openDriver(options.storage ?? { driver: "disk" }, storageRoot(options.dataDir));
  try {
    // The secret must exist before the server verifies a token; the URL is fixed once the port is known
    // (and the one it replaces is put back on close if that server still runs).
    const replaced = (await readApiConfig(options.dataDir))?.url;
    const provisional = await ensureApiConfig(options.dataDir, undefined);
    app = await createStorageServer({
      runner,
      jwtSecret: provisional.jwtSecret,
      driver,
      ...(options.signedUrls && {
        signedUploadExpiresIn: options.signedUrls.uploadSeconds,
        signedUrlMaxExpiresIn: options.signedUrls.downloadMaxSeconds,
      }),
      onServerError: (e) => options.onServerError?.(`${e.code}: ${e.message}`),
    });
    await app.listen({ host: options.host, port: options.port });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : options.port;
    const host = options.host.includes(":") ? `[${options.host}]` : options.host;
    const api = await ensureApiConfig(options.dataDir, `http://${host}:${port}`);
    const server = app;
    return {
      api,
      storageUrl: `${api.url}${STORAGE_PREFIX}`,
      async close() {
        await server.close();
        await runner.pool.end();
        driver.close?.();
        await releaseApiUrl(options.dataDir, "url", api.url, replaced);
      },
    };
  } catch (e) {
    await app?.close().catch(() => {});
    await runner.pool.end().catch(() => {});
    driver.close?.();
    throw e;
  }
}
