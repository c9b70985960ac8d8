import type { FastifyInstance } from "fastify";
import { isServiceKey, requestKey } from "../auth.ts";
import type { DashboardContext } from "../context.ts";
import { dashboardPage, loginPage } from "../page-html.ts";

/** GET /: the dashboard with the key (cookie or bearer), else the sign-in form (401). */
export default function page(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/", async (request, reply) => {
    const signedIn = await isServiceKey(requestKey(request), ctx.jwtSecret);
    return reply
      .code(signedIn ? 200 : 401)
      .type("text/html; charset=utf-8")
      .send(signedIn ? dashboardPage(ctx.refreshMs) : loginPage(false));
  });
}
