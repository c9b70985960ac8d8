import type { FastifyInstance } from "fastify";
import type { StorageService } from "../service.ts";
import { uploadInput } from "./upload-body.ts";

/** POST /object/:bucket/* — upload (storage-js `upload`); `x-upsert: true` replaces an existing object. */
export default function uploadObject(app: FastifyInstance, svc: StorageService) {
  app.post("/object/:bucket/*", async (request) => {
    const actor = await svc.caller(request);
    const upsert = request.headers["x-upsert"] === "true";
    const { id, key } = await svc.upload(
      actor,
      await uploadInput(request, svc, upsert ? "upsert" : "insert"),
    );
    return { Id: id, Key: key };
  });
}
