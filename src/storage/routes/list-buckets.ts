import type { FastifyInstance } from "fastify";
import * as objects from "../objects.ts";
import type { StorageService } from "../service.ts";
import { bucketJson } from "./get-bucket.ts";

/** GET /bucket — the buckets the caller may see (storage-js `listBuckets`). */
export default function listBuckets(app: FastifyInstance, svc: StorageService) {
  app.get("/bucket", async (request) => {
    const actor = await svc.caller(request);
    const rows = await svc.tx(actor, "storage buckets", (tx) => objects.listBuckets(tx));
    return rows.map(bucketJson);
  });
}
