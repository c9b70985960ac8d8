import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { verifyUrlToken } from "../auth.ts";
import { storageErrors } from "../errors.ts";
import { bucketId, objectName } from "../paths.ts";
import { SERVICE, type StorageService } from "../service.ts";
import { target } from "./params.ts";

/**
 * GET /object/sign/:bucket/*?token= — download by signed URL (what createSignedUrl hands out; an
 * <audio src> needs nothing else). The token, checked for signature, expiry, scope and this exact
 * path, is the authority: the row is read as the service, as on Supabase.
 */
export default function getSignedObject(app: FastifyInstance, svc: StorageService) {
  const handler = (withBody: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    const { bucket: b, name: n } = target(request);
    const bucket = bucketId(b);
    const name = objectName(n);
    const token = (request.query as { token?: string }).token;
    verifyUrlToken(token, svc.key, "download", `${bucket}/${name}`);
    const row = await svc.findObject(SERVICE, "storage signed download", bucket, name);
    if (!row) throw storageErrors.noSuchKey();
    return svc.send(request, reply, row, withBody);
  };
  app.get("/object/sign/:bucket/*", handler(true));
  app.head("/object/sign/:bucket/*", handler(false));
}
