import { createSigner, createVerifier, TokenError } from "fast-jwt";
import { VpbError } from "../errors.ts";
import type { Actor } from "../sdk/db.ts";
import { storageErrors } from "./errors.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const API_ROLES = new Set(["anon", "authenticated", "service_role"]);

const keys = new Map<string, Uint8Array>();

/**
 * The HS256 key of a project's JWT secret (the one that signs its anon and service keys): one object
 * per secret, which the caches below are keyed by.
 */
export function jwtKey(secret: string): Uint8Array {
  let key = keys.get(secret);
  if (key === undefined) {
    key = new TextEncoder().encode(secret);
    keys.set(secret, key);
  }
  return key;
}

interface Hs256 {
  sign: (payload: Record<string, unknown>) => string;
  verify: (token: string) => Record<string, unknown>;
}
const hs256Of = new WeakMap<Uint8Array, Hs256>();

/**
 * HS256 signing and verification with `key`, made once per key. fast-jwt computes the HMAC with
 * node:crypto on the calling thread: WebCrypto's HMAC (what jose uses) is a job on libuv's thread
 * pool, whose hop cost 90-500 us per signed URL here, more than the signing itself.
 */
function hs256(key: Uint8Array): Hs256 {
  let h = hs256Of.get(key);
  if (h === undefined) {
    const secret = Buffer.from(key);
    h = {
      sign: createSigner({ key: secret, algorithm: "HS256" }),
      verify: createVerifier({ key: secret, algorithms: ["HS256"], cache: false }),
    };
    hs256Of.set(key, h);
  }
  return h;
}

/** The payload of a valid HS256 token; "expired" or "invalid" (signature, form, nbf) otherwise. */
function verifyHs256(token: string, key: Uint8Array): Record<string, unknown> | "expired" | "invalid" {
  try {
    return hs256(key).verify(token);
  } catch (e) {
    if (e instanceof TokenError && e.code === TokenError.codes.expired) return "expired";
    return "invalid";
  }
}

/** True when `token` is a valid HS256 JWT of `secret` whose role is `role` (api.json's keys, the dashboard's login). */
export function hasRole(token: string | undefined, secret: string, role: string): boolean {
  if (!token) return false;
  const payload = verifyHs256(token, jwtKey(secret));
  return typeof payload === "object" && payload.role === role;
}

/**
 * Callers' tokens already verified, by their exact text and key: an app sends one access token with
 * many requests, so its HMAC and JSON are checked once. Only tokens that expire are kept, and an
 * entry is used only before its `exp` (checked at every use, as the verifier does) and only for the
 * key that verified it.
 */
const VERIFIED_MAX = 1000;
const verified = new Map<string, { key: Uint8Array; payload: Record<string, unknown>; exp: number }>();

function verifiedBefore(token: string, key: Uint8Array): Record<string, unknown> | undefined {
  const hit = verified.get(token);
  if (hit === undefined || hit.key !== key) return undefined;
  if (hit.exp <= Date.now() / 1000) {
    verified.delete(token);
    return undefined;
  }
  return hit.payload;
}

function remember(token: string, key: Uint8Array, payload: Record<string, unknown>): void {
  const exp = payload.exp;
  const nbf = payload.nbf;
  if (typeof exp !== "number" || (nbf !== undefined && (typeof nbf !== "number" || nbf > Date.now() / 1000)))
    return;
  // Oldest out first: a flood of distinct tokens cannot grow the map.
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
  verified.set(token, { key, payload: Object.freeze(payload), exp });
}

/**
 * The caller of a request, from `Authorization: Bearer <jwt>` (or the `apikey` header alone, as
 * Supabase accepts). The role must be one of the three API roles: any other (`postgres`, say) would
 * become `set role` and is refused, even when correctly signed.
 */
export function actorFromHeaders(
  headers: Record<string, string | string[] | undefined>,
  key: Uint8Array,
): Actor {
  const auth = headers.authorization;
  const bearer =
    typeof auth === "string" && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, "") : undefined;
  const token = bearer ?? (typeof headers.apikey === "string" ? headers.apikey : undefined);
  if (!token) throw storageErrors.invalidJwt("No authorization: send Authorization: Bearer <jwt>");
  let payload = verifiedBefore(token, key);
  if (payload === undefined) {
    const verified = verifyHs256(token, key);
    if (verified === "expired") throw storageErrors.invalidJwt("jwt expired");
    if (verified === "invalid") throw storageErrors.invalidJwt();
    payload = verified;
    remember(token, key, payload);
  }
  const role = payload.role;
  if (typeof role !== "string" || !API_ROLES.has(role))
    throw storageErrors.invalidJwt("The JWT's role is not an API role");
  const sub = payload.sub;
  if (sub !== undefined && (typeof sub !== "string" || !UUID.test(sub))) {
    throw storageErrors.invalidJwt("The JWT's sub is not a user id");
  }
  return { role: role as Actor["role"], userId: sub, claims: payload };
}

export type UrlScope = "download" | "upload";

export interface UrlToken {
  url: string;
  scope: UrlScope;
  owner?: string | undefined;
  upsert?: boolean | undefined;
}

/** A signed-URL token: a JWT with Supabase's claims (`url` = bucket/name, `scope`, `iat`, `exp`). */
export function signUrlToken(claims: UrlToken, key: Uint8Array, expiresInSeconds: number): string {
  const now = Math.floor(Date.now() / 1000);
  return hs256(key).sign({ ...claims, iat: now, exp: now + expiresInSeconds });
}

/** Checks a signed-URL token: signature, expiry, scope, and that it names exactly this object. */
export function verifyUrlToken(
  token: string | undefined,
  key: Uint8Array,
  scope: UrlScope,
  url: string,
): UrlToken {
  if (!token) throw storageErrors.invalidRequest("Missing Required Parameter token");
  const payload = verifyHs256(token, key);
  if (payload === "expired") throw storageErrors.expiredToken();
  if (payload === "invalid") throw storageErrors.invalidJwt();
  if (payload.scope !== scope) throw storageErrors.invalidSignature(`Token is not scoped for ${scope}`);
  if (payload.url !== url) throw storageErrors.invalidSignature();
  const owner = typeof payload.owner === "string" && UUID.test(payload.owner) ? payload.owner : undefined;
  return { url, scope, owner, upsert: payload.upsert === true };
}

/** An API key as Supabase issues them: a long-lived JWT with only a role (anon or service_role). */
export function signApiKey(role: "anon" | "service_role", secret: string, years = 10): string {
  const now = Math.floor(Date.now() / 1000);
  return hs256(jwtKey(secret)).sign({ role, iss: "vpb-db", iat: now, exp: now + years * 365 * 24 * 3600 });
}

export interface AccessTokenOptions {
  /** The project's JWT secret (`jwtSecret` in api.json). */
  jwtSecret: string;
  /** The user the token speaks for: `auth.uid()` in every policy. */
  userId: string;
  email?: string | undefined;
  /** Seconds until it expires (default one hour, as Supabase Auth's access tokens). */
  expiresIn?: number | undefined;
}

/**
 * A signed-in user's access token as Supabase Auth issues them (`sub`, `role` and `aud`
 * "authenticated", `email`), for an app whose sign-in is its own (Auth.js, say) to hand to its
 * browser client: `createClient(url, anonKey, { accessToken: async () => token })`.
 */
export async function signAccessToken(options: AccessTokenOptions): Promise<string> {
  const expiresIn = options.expiresIn ?? 3600;
  if (!UUID.test(options.userId)) {
    throw new VpbError("INVALID_INPUT", "userId is not a UUID", "Pass the id of a row of public.users.");
  }
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > 7 * 24 * 3600) {
    throw new VpbError(
      "INVALID_INPUT",
      "expiresIn must be a whole number of seconds from 1 to 604800 (a week)",
      "Keep access tokens short-lived (an hour) and sign a new one when it runs out.",
    );
  }
  if (options.jwtSecret.length < 32) {
    throw new VpbError(
      "INVALID_INPUT",
      "jwtSecret is shorter than 32 characters",
      "Use the jwtSecret of the data folder's api.json (`vpb-db keys api --json`).",
    );
  }
  const now = Math.floor(Date.now() / 1000);
  return hs256(jwtKey(options.jwtSecret)).sign({
    role: "authenticated",
    aud: "authenticated",
    ...(options.email ? { email: options.email } : {}),
    iss: "vpb-db",
    sub: options.userId,
    iat: now,
    exp: now + expiresIn,
  });
}
