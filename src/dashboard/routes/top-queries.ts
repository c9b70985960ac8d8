import type { FastifyInstance } from "fastify";
import type { DashboardContext } from "../context.ts";
import { TOP_QUERIES, TOP_QUERIES_HOURLY } from "../queries.ts";
import { topQueriesFromRollup, windowParam } from "./params.ts";

/** GET /api/queries/top: the 20 statements that took the most time in the window. */
export default function topQueries(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/api/queries/top", async (request, reply) => {
    const w = windowParam(request.query, reply);
    if (!w) return reply;
    const { rows } = await ctx.pool.query(topQueriesFromRollup(w) ? TOP_QUERIES_HOURLY : TOP_QUERIES, [
      w.interval,
      20,
    ]);
    return { hours: w.hours, queries: rows };
  });
}
