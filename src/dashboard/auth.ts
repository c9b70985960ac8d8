import type { FastifyReply, FastifyRequest } from "fastify";
import { hasRole } from "../storage/auth.ts";

/** The cookie the login form sets: the service key itself, HttpOnly, SameSite=Strict. */
export const SESSION_COOKIE = "vpb_dashboard";

/** True when `token` is a service_role key signed with the project's JWT secret (a user's key is not). */
export function isServiceKey(token: string | undefined, secret: string): boolean {
  return hasRole(token, secret, "service_role");
}

/** The key a request carries: `Authorization: Bearer <key>`, else the login cookie. */
export function requestKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === "string" && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, "");
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === SESSION_COOKIE) return decodeURIComponent(value.join("="));
  }
  return undefined;
}

/** A preHandler refusing (401, JSON) any request without the service key. */
export function requireServiceKey(secret: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isServiceKey(requestKey(request), secret)) {
      return reply.code(401).send({
        error: "unauthorized",
        message:
          "The dashboard needs the service key: send Authorization: Bearer <service key>, or sign in at /.",
      });
    }
  };
}
