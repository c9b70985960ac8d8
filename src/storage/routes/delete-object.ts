import type { FastifyInstance } from "fastify";
import { storageErrors } from "../errors.ts";
import * as objects from "../objects.ts";
import { bucketId, objectName } from "../paths.ts";
import type { StorageService } from "../service.ts";
import { target } from "./params.ts";

/** DELETE /object/:bucket/* — remove one object; 404 when it is absent or not the caller's to remove. */
export default function deleteObject(app: FastifyInstance, svc: StorageService) {
  app.delete("/object/:bucket/*", async (request) => {
    const actor = await svc.caller(request);
    const { bucket, name } = target(request);
    const removed = await svc.tx(actor, "storage remove", (tx) =>
      objects.deleteObjects(tx, bucketId(bucket), [objectName(name)]),
    );
    const row = removed[0];
    if (!row) throw storageErrors.noSuchKey();
    if (row.version) await svc.driver.delete([`${row.bucket_id}/${row.version}`]).catch(() => {});
    return { message: "Successfully deleted" };
  });
}
