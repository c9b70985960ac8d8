import type { FastifyInstance } from "fastify";
import { signUrlToken } from "../auth.ts";
import { objectName } from "../paths.ts";
import type { StorageService } from "../service.ts";
import { target } from "./params.ts";

/**
 * POST /object/upload/sign/:bucket/* — a URL to upload one object without a session
 * (storage-js `createSignedUploadUrl`). The caller's right to write it is checked now, by the same
 * write rolled back; the token carries the caller as owner and lives signedUploadExpiresIn seconds.
 */
export default function signUploadUrl(app: FastifyInstance, svc: StorageService) {
  app.post("/object/upload/sign/:bucket/*", async (request) => {
    const actor = await svc.caller(request);
    const { bucket: bucketId, name: raw } = target(request);
    const name = objectName(raw);
    const bucket = await svc.bucket(bucketId);
    const upsert = request.headers["x-upsert"] === "true";
    await svc.tx(actor, "storage sign upload", async (tx) => {
      await tx.query("savepoint sign_check");
      await tx.query(
        `insert into storage.objects (bucket_id, name, owner, owner_id) values ($1, $2, $3::uuid, $3::text)
         ${upsert ? "on conflict (bucket_id, name) do update set updated_at = now()" : ""}`,
        [bucket.id, name, actor.userId ?? null],
      );
      await tx.query("rollback to savepoint sign_check");
    });
    const url = `${bucket.id}/${name}`;
    const token = signUrlToken(
      { url, scope: "upload", owner: actor.userId, upsert },
      svc.key,
      svc.signedUploadExpiresIn,
    );
    return { url: `/object/upload/sign/${url}?token=${token}`, token };
  });
}
