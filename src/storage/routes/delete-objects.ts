import type { FastifyInstance } from "fastify";
import { storageErrors } from "../errors.ts";
import * as objects from "../objects.ts";
import { bucketId, objectName } from "../paths.ts";
import type { StorageService } from "../service.ts";
import { body, target } from "./params.ts";

const MAX_PREFIXES = 1000;

/**
 * DELETE /object/:bucket {prefixes} — remove objects (storage-js `remove`); answers the rows removed:
 * one the caller may not delete is not removed and not listed, as on Supabase. The files go after the
 * commit (a failure there leaves files the sweeper removes, never a row without its file).
 */
export default function deleteObjects(app: FastifyInstance, svc: StorageService) {
  app.delete("/object/:bucket", async (request) => {
    const actor = await svc.caller(request);
    const bucket = bucketId(target(request).bucket);
    const prefixes = body(request).prefixes;
    if (
      !Array.isArray(prefixes) ||
      prefixes.length === 0 ||
      prefixes.length > MAX_PREFIXES ||
      !prefixes.every((p) => typeof p === "string")
    ) {
      throw storageErrors.invalidRequest(`prefixes must be a list of 1 to ${MAX_PREFIXES} object names`);
    }
    const names = (prefixes as string[]).map((p) => objectName(p));
    const removed = await svc.tx(actor, "storage remove", (tx) => objects.deleteObjects(tx, bucket, names));
    await svc.driver
      .delete(removed.filter((r) => r.version).map((r) => `${r.bucket_id}/${r.version}`))
      .catch(() => {});
    return removed;
  });
}
