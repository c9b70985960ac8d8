/**
 * Callers' tokens verified once and kept (src/storage/auth.ts): a kept token is still refused once
 * it expires, and one signed with another secret never passes because the same text passed before.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SignJWT } from "jose";
import { createDatabase } from "./support/harness.ts";
import { JWT_SECRET, jwt, startStorage } from "./support/storage.ts";

let svc: Awaited<ReturnType<typeof startStorage>>;

before(async () => {
  svc = await startStorage((await createDatabase()).url);
});

after(async () => {
  await svc?.close();
});

async function listBuckets(token: string): Promise<{ status: number; body: { message?: string } }> {
  const r = await fetch(`${svc.base}/bucket`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: (await r.json()) as { message?: string } };
}

test("a token accepted (and kept) is refused once it has expired", async () => {
  const token = await jwt({ role: "service_role" }, 2);
  for (let i = 0; i < 3; i++) assert.equal((await listBuckets(token)).status, 200);
  // exp is in whole seconds: past it for certain after a little more than two.
  await new Promise((r) => setTimeout(r, 3100));
  const late = await listBuckets(token);
  assert.equal(late.status, 400);
  assert.equal(late.body.message, "jwt expired");
});

test("a token signed with another secret is refused, whatever was accepted before", async () => {
  const good = await jwt({ role: "service_role" });
  assert.equal((await listBuckets(good)).status, 200);
  const now = Math.floor(Date.now() / 1000);
  const forged = await new SignJWT({ role: "service_role" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode("another-secret-of-at-least-32-characters"));
  assert.equal((await listBuckets(forged)).status, 400);
  // The accepted token's payload with the forged token's signature: a different text, verified anew.
  const spliced = `${good.split(".").slice(0, 2).join(".")}.${forged.split(".")[2]}`;
  assert.equal((await listBuckets(spliced)).status, 400);
  assert.equal((await listBuckets(good)).status, 200);
});

test("only HS256 with the project's secret passes: not alg none, not HS512, not before its nbf", async () => {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const claims = { role: "service_role", iat: now, exp: now + 3600 };
  const none = `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
  assert.equal((await listBuckets(none)).status, 400);
  const hs512 = await new SignJWT(claims)
    .setProtectedHeader({ alg: "HS512", typ: "JWT" })
    .sign(new TextEncoder().encode(JWT_SECRET));
  assert.equal((await listBuckets(hs512)).status, 400);
  const early = await new SignJWT({ ...claims, nbf: now + 600 })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(JWT_SECRET));
  assert.equal((await listBuckets(early)).status, 400);
  const fine = await new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(JWT_SECRET));
  assert.equal((await listBuckets(fine)).status, 200);
});
