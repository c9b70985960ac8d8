import type { FastifyInstance } from "fastify";
import type { DashboardContext } from "../context.ts";
import { STORAGE_USERS } from "../queries.ts";

/** GET /api/storage/users: the 20 largest users' latest storage against their quota (last 24 hours' samples). */
export default function storageUsers(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/api/storage/users", async () => {
    const { rows } = await ctx.pool.query(STORAGE_USERS, ["24 hours", 20]);
    return { users: rows };
  });
}
