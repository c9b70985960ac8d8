import type { FastifyInstance, FastifyRequest } from "fastify";
import { storageErrors } from "../errors.ts";
import { bucketId, objectName } from "../paths.ts";
import type { StorageService } from "../service.ts";
import { target } from "./params.ts";

/** GET /object/info/:bucket/* (and /object/info/authenticated/...) — an object's facts (storage-js `info`). */
export default function getObjectInfo(app: FastifyInstance, svc: StorageService) {
  const handler = async (request: FastifyRequest) => {
    const actor = await svc.caller(request);
    const { bucket, name } = target(request);
    const row = await svc.findObject(actor, "storage info", bucketId(bucket), objectName(name));
    if (!row) throw storageErrors.noSuchKey();
    const m = row.metadata;
    return {
      id: row.id,
      name: row.name,
      version: row.version,
      bucket_id: row.bucket_id,
      size: m?.size ?? null,
      content_type: m?.mimetype ?? null,
      cache_control: m?.cacheControl ?? null,
      etag: m?.eTag ?? null,
      metadata: row.user_metadata,
      last_modified: row.updated_at,
      created_at: row.created_at,
    };
  };
  app.get("/object/info/:bucket/*", handler);
  app.get("/object/info/authenticated/:bucket/*", handler);
}
