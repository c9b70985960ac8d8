import type { FastifyInstance } from "fastify";

const METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
/** What storage-js and supabase-js send, for a preflight that names none. */
const DEFAULT_HEADERS =
  "authorization, apikey, content-type, x-client-info, x-upsert, x-metadata, cache-control, range";
/** What a page may read of an answer: a player's Range bookkeeping, a download's name, the ETag. */
const EXPOSED =
  "content-range, content-length, accept-ranges, content-type, etag, last-modified, content-disposition, cache-control";

/**
 * Cross-origin access as Supabase's gateway allows it: any origin, without credentials (callers send
 * bearer tokens and signed URLs, never cookies), so a browser app on another origin (a dev server on
 * its own port) uses storage-js unchanged. A preflight is answered here, before any authentication.
 */
export function allowCrossOrigin(app: FastifyInstance): void {
  app.addHook("onRequest", async (request, reply) => {
    reply.header("access-control-allow-origin", "*").header("access-control-expose-headers", EXPOSED);
    if (request.method !== "OPTIONS" || !request.headers["access-control-request-method"]) return;
    const asked = request.headers["access-control-request-headers"];
    reply
      .header("access-control-allow-methods", METHODS)
      .header("access-control-allow-headers", typeof asked === "string" ? asked : DEFAULT_HEADERS)
      .header("access-control-max-age", "3600")
      .code(204)
      .send();
    return reply;
  });
}
