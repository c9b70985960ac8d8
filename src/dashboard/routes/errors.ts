import type { FastifyInstance } from "fastify";
import type { DashboardContext } from "../context.ts";
import { ERRORS_PER_MINUTE } from "../queries.ts";
import { windowParam } from "./params.ts";

/** GET /api/errors/rate: errors per minute over time (every code). */
export default function errorRate(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/api/errors/rate", async (request, reply) => {
    const w = windowParam(request.query, reply);
    if (!w) return reply;
    const { rows } = await ctx.pool.query(ERRORS_PER_MINUTE, [w.interval, w.bucket]);
    return { hours: w.hours, bucket_minutes: w.bucketMinutes, points: rows };
  });
}
