import type { FastifyInstance } from "fastify";
import type { DashboardContext } from "../context.ts";
import { QUERY_SERIES } from "../queries.ts";
import { windowParam } from "./params.ts";

/** GET /api/queries/series: calls and mean latency of the sampled statements over time. */
export default function querySeries(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/api/queries/series", async (request, reply) => {
    const w = windowParam(request.query, reply);
    if (!w) return reply;
    const { rows } = await ctx.pool.query(QUERY_SERIES, [w.interval, w.bucket]);
    return { hours: w.hours, bucket_minutes: w.bucketMinutes, points: rows };
  });
}
