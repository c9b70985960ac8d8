import type { FastifyInstance } from "fastify";
import type { DashboardContext } from "../context.ts";
import { QUERY_SERIES, QUERY_SERIES_HOURLY } from "../queries.ts";
import { seriesFromRollup, windowParam } from "./params.ts";

/** GET /api/queries/series: calls and mean latency of the sampled statements over time. */
export default function querySeries(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/api/queries/series", async (request, reply) => {
    const w = windowParam(request.query, reply);
    if (!w) return reply;
    const { rows } = await ctx.pool.query(seriesFromRollup(w) ? QUERY_SERIES_HOURLY : QUERY_SERIES, [
      w.interval,
      w.bucket,
    ]);
    return { hours: w.hours, bucket_minutes: w.bucketMinutes, points: rows };
  });
}
