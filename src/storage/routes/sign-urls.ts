import type { FastifyInstance } from "fastify";
import { signUrlToken } from "../auth.ts";
import { storageErrors } from "../errors.ts";
import * as objects from "../objects.ts";
import { bucketId, objectName } from "../paths.ts";
import type { StorageService } from "../service.ts";
import { body, target } from "./params.ts";
import { expiresIn } from "./sign-url.ts";

const MAX_PATHS = 1000;

/** POST /object/sign/:bucket {expiresIn, paths} — download URLs for many objects (storage-js `createSignedUrls`). */
export default function signUrls(app: FastifyInstance, svc: StorageService) {
  app.post("/object/sign/:bucket", async (request) => {
    const actor = await svc.caller(request);
    const bucket = bucketId(target(request).bucket);
    const b = body(request);
    const seconds = expiresIn(b.expiresIn, svc);
    const paths = b.paths;
    if (!Array.isArray(paths) || paths.length > MAX_PATHS || !paths.every((p) => typeof p === "string")) {
      throw storageErrors.invalidRequest(`paths must be a list of at most ${MAX_PATHS} object names`);
    }
    const names = (paths as string[]).map((p) => objectName(p));
    const visible = await svc.tx(actor, "storage sign many", (tx) => objects.visibleNames(tx, bucket, names));
    return Promise.all(
      names.map(async (name, i) => {
        if (!visible.has(name)) {
          return {
            error: "Either the object does not exist or you do not have access to it",
            path: paths[i],
            signedURL: null,
          };
        }
        const url = `${bucket}/${name}`;
        const token = signUrlToken({ url, scope: "download" }, svc.key, seconds);
        return { error: null, path: paths[i], signedURL: `/object/sign/${url}?token=${token}` };
      }),
    );
  });
}
