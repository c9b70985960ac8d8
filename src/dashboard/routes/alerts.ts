import type { FastifyInstance } from "fastify";
import type { DashboardContext } from "../context.ts";
import { ALERTS, ALERTS_TABLE_EXISTS } from "../queries.ts";

/** GET /api/alerts: firing alerts, then those resolved in the last 7 days (details are left out). */
export default function alerts(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/api/alerts", async () => {
    const { rows: present } = await ctx.pool.query<{ present: boolean }>(ALERTS_TABLE_EXISTS);
    if (!present[0]?.present) return { alerts: [], note: "this database has no alerts table yet" };
    const { rows } = await ctx.pool.query(ALERTS);
    return { alerts: rows };
  });
}
