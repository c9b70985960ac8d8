import Fastify, { type FastifyInstance } from "fastify";
import pg from "pg";
import { ensureApiConfig, releaseApiUrl } from "../storage/api-config.ts";
import { requireServiceKey } from "./auth.ts";
import type { DashboardContext } from "./context.ts";
import alerts from "./routes/alerts.ts";
import apiCost from "./routes/api-cost.ts";
import assets from "./routes/assets.ts";
import errorRate from "./routes/errors.ts";
import login from "./routes/login.ts";
import page from "./routes/page.ts";
import querySeries from "./routes/query-series.ts";
import storageUsers from "./routes/storage-users.ts";
import topQueries from "./routes/top-queries.ts";

export const DEFAULT_REFRESH_MS = 30_000;

/** Scripts and styles from this server only (uPlot sets styles through the CSSOM); no framing. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The dashboard's HTTP server, not yet listening. */
export async function createDashboardServer(ctx: DashboardContext): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_request, text, done) => done(null, Object.fromEntries(new URLSearchParams(text as string))),
  );
  // Server-Timing: the server's share of each request (Chromium's resource timing shows it), so a
  // slow first paint can be told apart into the server's queries and the browser's work.
  app.addHook("onRequest", async (request) => {
    (request as { vpbStart?: number }).vpbStart = performance.now();
  });
  app.addHook("onSend", async (request, reply) => {
    const start = (request as { vpbStart?: number }).vpbStart;
    if (start !== undefined)
      reply.header("server-timing", `app;dur=${(performance.now() - start).toFixed(1)}`);
    reply.header("content-security-policy", CSP);
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    if (!reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
  });
  // Errors carry no SQL, parameter or stack: the operator's log has the code.
  app.setErrorHandler((error, _request, reply) => {
    const code = (error as { statusCode?: unknown }).statusCode;
    if (typeof code === "number" && code < 500) {
      return reply.code(code).send({ error: "bad_request", message: (error as Error).message });
    }
    return reply.code(500).send({ error: "internal", message: "The query failed." });
  });
  page(app, ctx);
  login(app, ctx);
  assets(app);
  await app.register(async (api) => {
    api.addHook("preHandler", requireServiceKey(ctx.jwtSecret));
    for (const route of [querySeries, topQueries, storageUsers, apiCost, errorRate, alerts]) route(api, ctx);
  });
  return app;
}

export interface DashboardOptions {
  databaseUrl: string;
  /** The data folder: api.json holds the JWT secret the service key is checked with. */
  dataDir: string;
  host: string;
  /** 0 takes any free port. */
  port: number;
  refreshMs?: number;
}

export interface RunningDashboard {
  url: string;
  close(): Promise<void>;
}

/**
 * Runs the dashboard beside a database (`vpb-db dashboard`, `start`) and records its URL in api.json
 * as `dashboardUrl`. `close()` ends the server, then its pool.
 */
export async function serveDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    // The page asks for its six panels at once.
    max: 6,
    application_name: "vpb-db dashboard",
    // A panel's query must not hold a connection for long: the page refreshes anyway.
    statement_timeout: 10_000,
  });
  pool.on("error", () => {});
  let app: FastifyInstance | undefined;
  try {
    const api = await ensureApiConfig(options.dataDir, undefined);
    app = await createDashboardServer({
      pool,
      jwtSecret: api.jwtSecret,
      refreshMs: options.refreshMs ?? DEFAULT_REFRESH_MS,
    });
    await app.listen({ host: options.host, port: options.port });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : options.port;
    const host = options.host.includes(":") ? `[${options.host}]` : options.host;
    const url = `http://${host}:${port}/`;
    await ensureApiConfig(options.dataDir, undefined, { dashboardUrl: url });
    const server = app;
    return {
      url,
      async close() {
        await server.close();
        await pool.end();
        await releaseApiUrl(options.dataDir, "dashboardUrl", url, api.dashboardUrl);
      },
    };
  } catch (e) {
    await app?.close().catch(() => {});
    await pool.end().catch(() => {});
    throw e;
  }
}
