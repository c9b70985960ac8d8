import type { FastifyInstance } from "fastify";
import { isServiceKey, requestKey } from "../auth.ts";
import type { DashboardContext } from "../context.ts";
import { dashboardPage, loginPage } from "../page-html.ts";
import { HOURS_MESSAGE, hoursParam } from "./params.ts";

/** GET /[?hours=N]: the dashboard with the key (cookie or bearer), else the sign-in form (401). */
export default function page(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/", async (request, reply) => {
    const signedIn = isServiceKey(requestKey(request), ctx.jwtSecret);
    if (!signedIn) return reply.code(401).type("text/html; charset=utf-8").send(loginPage(false));
    const hours = hoursParam(request.query);
    if (hours === undefined) return reply.code(400).type("text/plain; charset=utf-8").send(HOURS_MESSAGE);
    return reply.type("text/html; charset=utf-8").send(dashboardPage(ctx.refreshMs, hours));
  });
}
