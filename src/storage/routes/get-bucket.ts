import type { FastifyInstance } from "fastify";
import { storageErrors } from "../errors.ts";
import * as objects from "../objects.ts";
import { bucketId } from "../paths.ts";
import type { StorageService } from "../service.ts";

/** GET /bucket/:bucket — one bucket, as the caller may see it (storage-js `getBucket`). */
export default function getBucket(app: FastifyInstance, svc: StorageService) {
  app.get("/bucket/:bucket", async (request) => {
    const actor = await svc.caller(request);
    const id = bucketId((request.params as { bucket?: string }).bucket);
    const row = await svc.tx(actor, "storage bucket", (tx) => objects.findBucket(tx, id));
    if (!row) throw storageErrors.noSuchBucket();
    return bucketJson(row);
  });
}

export function bucketJson(b: objects.BucketRow) {
  return {
    id: b.id,
    name: b.name,
    owner: b.owner ?? "",
    public: b.public,
    file_size_limit: b.file_size_limit === null ? null : Number(b.file_size_limit),
    allowed_mime_types: b.allowed_mime_types,
    created_at: b.created_at,
    updated_at: b.updated_at,
  };
}
