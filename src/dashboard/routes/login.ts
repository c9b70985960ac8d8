import type { FastifyInstance } from "fastify";
import { isServiceKey, SESSION_COOKIE } from "../auth.ts";
import type { DashboardContext } from "../context.ts";
import { loginPage } from "../page-html.ts";

/**
 * POST /login (form field `key`): a service key sets the session cookie and goes to the dashboard;
 * anything else gets the form again (401). POST /logout clears the cookie.
 */
export default function login(app: FastifyInstance, ctx: DashboardContext): void {
  app.post("/login", async (request, reply) => {
    const key = (request.body as { key?: unknown } | undefined)?.key;
    if (typeof key !== "string" || !isServiceKey(key, ctx.jwtSecret)) {
      return reply.code(401).type("text/html; charset=utf-8").send(loginPage(true));
    }
    return reply
      .header("set-cookie", `${SESSION_COOKIE}=${encodeURIComponent(key)}; Path=/; HttpOnly; SameSite=Strict`)
      .redirect("/", 303);
  });
  app.post("/logout", async (_request, reply) =>
    reply
      .header("set-cookie", `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`)
      .redirect("/", 303),
  );
}
