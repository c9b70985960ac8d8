import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { storageErrors } from "../errors.ts";
import * as objects from "../objects.ts";
import type { StorageService } from "../service.ts";
import { moveBody } from "./move-object.ts";
import { body } from "./params.ts";

/**
 * POST /object/copy — a new object with another's bytes (storage-js `copy`): the caller must see
 * the source and may insert the destination. The bytes are copied to a new version first; if the
 * row then fails, the copy is removed.
 */
export default function copyObject(app: FastifyInstance, svc: StorageService) {
  app.post("/object/copy", async (request) => {
    const actor = await svc.caller(request);
    const m = moveBody(body(request));
    const target = await svc.bucket(m.toBucket);
    const source = await svc.tx(actor, "storage copy", (tx) => objects.findObject(tx, m.bucket, m.from));
    if (!source?.version || !source.metadata) throw storageErrors.noSuchKey();
    const version = randomUUID();
    const row: objects.NewObject = {
      bucket: target.id,
      name: m.to,
      owner: actor.userId,
      version,
      metadata: { ...source.metadata, lastModified: new Date().toISOString() },
      userMetadata: source.user_metadata,
    };
    // Checked before the bytes are copied, so a refused copy writes nothing.
    await svc.tx(actor, "storage copy check", async (tx) => {
      await tx.query("savepoint copy_check");
      await objects.insertObject(tx, row, false);
      await tx.query("rollback to savepoint copy_check");
    });
    const key = `${target.id}/${version}`;
    await svc.driver.copy(`${source.bucket_id}/${source.version}`, key);
    try {
      const id = await svc.tx(actor, "storage copy", (tx) => objects.insertObject(tx, row, false));
      return { Id: id, Key: `${target.id}/${m.to}` };
    } catch (e) {
      await svc.driver.delete([key]);
      throw e;
    }
  });
}
