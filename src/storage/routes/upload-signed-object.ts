import type { FastifyInstance } from "fastify";
import { verifyUrlToken } from "../auth.ts";
import { objectName } from "../paths.ts";
import type { StorageService } from "../service.ts";
import { target } from "./params.ts";
import { uploadInput } from "./upload-body.ts";

/**
 * PUT /object/upload/sign/:bucket/*?token= — upload with a token from createSignedUploadUrl
 * (storage-js `uploadToSignedUrl`). The token is the authority: its signer's policies were checked
 * when it was made, so the write runs as the service, owned by the signer, as on Supabase.
 */
export default function uploadSignedObject(app: FastifyInstance, svc: StorageService) {
  app.put("/object/upload/sign/:bucket/*", async (request) => {
    const { bucket, name } = target(request);
    const token = (request.query as { token?: string }).token;
    const claims = verifyUrlToken(token, svc.key, "upload", `${bucket}/${objectName(name)}`);
    const input = await uploadInput(request, svc, claims.upsert ? "upsert" : "insert");
    const { key } = await svc.upload({ role: "service_role", userId: claims.owner }, input);
    return { Key: key };
  });
}
