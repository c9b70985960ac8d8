import type { FastifyInstance } from "fastify";
import type { DashboardContext } from "../context.ts";
import { API_COST_DAILY } from "../queries.ts";

/** GET /api/cost/daily: API cost in USD per UTC day, the last 30 days. */
export default function apiCost(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/api/cost/daily", async () => {
    const { rows } = await ctx.pool.query(API_COST_DAILY, ["30 days"]);
    return { days: rows };
  });
}
