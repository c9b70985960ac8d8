import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { FastifyInstance } from "fastify";
import { CLIENT_SCRIPT } from "../client-script.ts";
import { DASHBOARD_CSS } from "../page-html.ts";

const require = createRequire(import.meta.url);

/** uPlot's files from its npm package, read once: the page needs no network. */
const ASSETS: Record<string, { type: string; body: string }> = {
  "uPlot.iife.min.js": {
    type: "text/javascript; charset=utf-8",
    body: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
  },
  "uPlot.min.css": {
    type: "text/css; charset=utf-8",
    body: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
  },
  "dashboard.js": { type: "text/javascript; charset=utf-8", body: CLIENT_SCRIPT },
  "dashboard.css": { type: "text/css; charset=utf-8", body: DASHBOARD_CSS },
};

/** GET /assets/<file>: the page's code and styles (public: no data in them). */
export default function assets(app: FastifyInstance): void {
  app.get("/assets/:file", async (request, reply) => {
    const asset = ASSETS[(request.params as { file: string }).file];
    if (!asset) return reply.code(404).send({ error: "not_found", message: "No such asset." });
    return reply.type(asset.type).header("cache-control", "public, max-age=300").send(asset.body);
  });
  // Browsers ask for an icon unbidden: none, said without a 404 in the browser's log.
  app.get("/favicon.ico", async (_request, reply) =>
    reply.code(204).header("cache-control", "public, max-age=86400").send(),
  );
}
