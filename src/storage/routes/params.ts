import type { FastifyRequest } from "fastify";

/** The `:bucket/*` of a route: the bucket id and the object name (decoded by the router). */
export function target(request: FastifyRequest): { bucket: string; name: string } {
  const p = request.params as { bucket?: string; "*"?: string };
  return { bucket: p.bucket ?? "", name: p["*"] ?? "" };
}

/** The JSON body as an object (an absent or non-object body is an empty one). */
export function body(request: FastifyRequest): Record<string, unknown> {
  const b = request.body;
  return typeof b === "object" && b !== null && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
}
