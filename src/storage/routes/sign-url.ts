import type { FastifyInstance } from "fastify";
import { signUrlToken } from "../auth.ts";
import { storageErrors } from "../errors.ts";
import { bucketId, objectName } from "../paths.ts";
import type { StorageService } from "../service.ts";
import { body, target } from "./params.ts";

/** The lifetime asked for, in whole seconds from 1 to the configured maximum. */
export function expiresIn(raw: unknown, svc: StorageService): number {
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 1) {
    throw storageErrors.invalidRequest("expiresIn must be a whole number of seconds, at least 1");
  }
  if (raw > svc.signedUrlMaxExpiresIn) {
    throw storageErrors.invalidRequest(`expiresIn may be at most ${svc.signedUrlMaxExpiresIn} seconds`);
  }
  return raw;
}

/**
 * POST /object/sign/:bucket/* {expiresIn} — a download URL for one object the caller may read
 * (storage-js `createSignedUrl`). The token's claims are Supabase's: url, scope, iat, exp.
 */
export default function signUrl(app: FastifyInstance, svc: StorageService) {
  app.post("/object/sign/:bucket/*", async (request) => {
    const actor = await svc.caller(request);
    const { bucket: b, name: n } = target(request);
    const bucket = bucketId(b);
    const name = objectName(n);
    const seconds = expiresIn(body(request).expiresIn, svc);
    const row = await svc.findObject(actor, "storage sign", bucket, name);
    if (!row) throw storageErrors.noSuchKey();
    const url = `${bucket}/${name}`;
    const token = signUrlToken({ url, scope: "download" }, svc.key, seconds);
    return { signedURL: `/object/sign/${url}?token=${token}` };
  });
}
