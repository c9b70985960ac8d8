import type { FastifyReply, FastifyRequest } from "fastify";
import { jwtVerify } from "jose";
import { jwtKey } from "../storage/auth.ts";

/** The cookie the login form sets: the service key itself, HttpOnly, SameSite=Strict. */
export const SESSION_COOKIE = "vpb_dashboard";

/** True when `token` is a service_role key signed with the project's JWT secret (a user's key is not). */
export async function isServiceKey(token: string | undefined, secret: string): Promise<boolean> {
  if (!token) return false;
  try {
    const { payload } = await jwtVerify(token, jwtKey(secret), { algorithms: ["HS256"] });
    return payload.role === "service_role";
  } catch {
    return false;
  }
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
    if (!(await isServiceKey(requestKey(request), secret))) {
      return reply.code(401).send({
        error: "unauthorized",
        message:
          "The dashboard needs the service key: send Authorization: Bearer <service key>, or sign in at /.",
      });
    }
  };
}
