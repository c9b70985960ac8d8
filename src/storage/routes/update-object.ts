import type { FastifyInstance } from "fastify";
import type { StorageService } from "../service.ts";
import { uploadInput } from "./upload-body.ts";

/** PUT /object/:bucket/* — replace an existing object's bytes (storage-js `update`). */
export default function updateObject(app: FastifyInstance, svc: StorageService) {
  app.put("/object/:bucket/*", async (request) => {
    const actor = await svc.caller(request);
    const { id, key } = await svc.upload(actor, await uploadInput(request, svc, "update"));
    return { Id: id, Key: key };
  });
}
