import type { FastifyInstance } from "fastify";
import { storageErrors } from "../errors.ts";
import * as objects from "../objects.ts";
import { bucketId, objectName } from "../paths.ts";
import type { StorageService } from "../service.ts";
import { body } from "./params.ts";

/** The {bucketId, sourceKey, destinationKey, destinationBucket} body of move and copy, checked. */
export function moveBody(raw: Record<string, unknown>) {
  const str = (v: unknown, what: string) => {
    if (typeof v !== "string") throw storageErrors.invalidRequest(`Missing Required Parameter ${what}`);
    return v;
  };
  const bucket = bucketId(str(raw.bucketId, "bucketId"));
  return {
    bucket,
    from: objectName(str(raw.sourceKey, "sourceKey")),
    toBucket:
      raw.destinationBucket == null ? bucket : bucketId(str(raw.destinationBucket, "destinationBucket")),
    to: objectName(str(raw.destinationKey, "destinationKey")),
  };
}

/**
 * POST /object/move — rename an object (storage-js `move`). Only the row changes (files are named
 * by version), in one statement, so the update policy judges both the old name and the new one.
 */
export default function moveObject(app: FastifyInstance, svc: StorageService) {
  app.post("/object/move", async (request) => {
    const actor = await svc.caller(request);
    const m = moveBody(body(request));
    // A file's key holds its bucket: a move between buckets would be a copy and a delete.
    if (m.toBucket !== m.bucket)
      throw storageErrors.invalidRequest("Moving between buckets is not supported");
    const id = await svc.tx(actor, "storage move", (tx) =>
      objects.renameObject(tx, m.bucket, m.from, m.toBucket, m.to),
    );
    if (id === undefined) throw storageErrors.noSuchKey();
    return { message: "Successfully moved" };
  });
}
