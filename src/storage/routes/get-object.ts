import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { storageErrors } from "../errors.ts";
import { bucketId, objectName } from "../paths.ts";
import type { StorageService } from "../service.ts";
import { target } from "./params.ts";

/**
 * GET /object/:bucket/* and /object/authenticated/:bucket/* — download as the caller (storage-js
 * `download`), with Range; HEAD on the same paths answers the headers only (storage-js `exists`).
 */
export default function getObject(app: FastifyInstance, svc: StorageService) {
  const handler = (withBody: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    const actor = await svc.caller(request);
    const { bucket, name } = target(request);
    const row = await svc.findObject(actor, "storage download", bucketId(bucket), objectName(name));
    if (!row) throw storageErrors.noSuchKey();
    return svc.send(request, reply, row, withBody);
  };
  for (const path of ["/object/:bucket/*", "/object/authenticated/:bucket/*"]) {
    app.get(path, handler(true));
    app.head(path, handler(false));
  }
}
