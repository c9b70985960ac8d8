import multipart from "@fastify/multipart";
import Fastify, { type FastifyInstance } from "fastify";
import { allowCrossOrigin } from "./cors.ts";
import { StorageHttpError, toStorageError } from "./errors.ts";
import { requestCaller, requestRealStatus, type StorageHttpStats, storageHttpStats } from "./http-stats.ts";
import copyObject from "./routes/copy-object.ts";
import deleteObject from "./routes/delete-object.ts";
import deleteObjects from "./routes/delete-objects.ts";
import getBucket from "./routes/get-bucket.ts";
import getObject from "./routes/get-object.ts";
import getObjectInfo from "./routes/get-object-info.ts";
import getSignedObject from "./routes/get-signed-object.ts";
import listBuckets from "./routes/list-buckets.ts";
import listObjects from "./routes/list-objects.ts";
import moveObject from "./routes/move-object.ts";
import signUploadUrl from "./routes/sign-upload-url.ts";
import signUrl from "./routes/sign-url.ts";
import signUrls from "./routes/sign-urls.ts";
import updateObject from "./routes/update-object.ts";
import uploadObject from "./routes/upload-object.ts";
import uploadSignedObject from "./routes/upload-signed-object.ts";
import { StorageService, type StorageServiceOptions } from "./service.ts";

/** Where supabase-js looks for Storage under a project URL. */
export const STORAGE_PREFIX = "/storage/v1";

export interface StorageServerOptions extends StorageServiceOptions {
  /** Told of every server error (5xx): code and message only, never a request's values. */
  onServerError?: (e: StorageHttpError) => void;
  /** Where request counts and latencies go (default: the process's, which the metrics collector reads). */
  stats?: StorageHttpStats;
}

/**
 * The storage HTTP service, Supabase Storage's API under /storage/v1, not yet listening: call
 * `listen({ host, port })` on it, and `close()` to stop (in-flight requests finish first).
 */
export async function createStorageServer(options: StorageServerOptions): Promise<FastifyInstance> {
  const svc = new StorageService(options);
  const app = Fastify({ logger: false, exposeHeadRoutes: false, bodyLimit: 1024 * 1024 });
  allowCrossOrigin(app);
  const stats = options.stats ?? storageHttpStats;
  app.addHook("onResponse", async (request, reply) => {
    stats.record(
      requestRealStatus.get(request) ?? reply.statusCode,
      reply.elapsedTime,
      requestCaller.get(request),
    );
  });
  app.setErrorHandler((error, request, reply) => {
    const e =
      error instanceof StorageHttpError
        ? error
        : typeof (error as { statusCode?: unknown }).statusCode === "number" &&
            (error as { statusCode: number }).statusCode < 500
          ? new StorageHttpError(
              (error as { statusCode: number }).statusCode,
              "InvalidRequest",
              (error as Error).message,
            )
          : toStorageError(error);
    if (e.status >= 500) options.onServerError?.(e);
    requestRealStatus.set(request, e.status);
    // An upload refused mid-body leaves bytes unread: the connection cannot carry another request.
    if (!request.raw.complete) reply.header("connection", "close");
    return reply.code(e.httpStatus).type("application/json").send(e.body());
  });
  app.setNotFoundHandler((request, reply) => {
    requestRealStatus.set(request, 404);
    return reply.code(400).send(new StorageHttpError(404, "NotFound", "Route not found").body());
  });
  await app.register(
    async (api) => {
      // Uploads: the body is the file, whatever its type (JSON and text files included), streamed.
      await api.register(async (uploads) => {
        uploads.removeAllContentTypeParsers();
        uploads.addContentTypeParser("*", (_request, _payload, done) => done(null));
        await uploads.register(multipart);
        for (const route of [uploadObject, updateObject, uploadSignedObject]) route(uploads, svc);
      });
      for (const route of [
        getObject,
        getObjectInfo,
        getSignedObject,
        signUrl,
        signUrls,
        signUploadUrl,
        listObjects,
        deleteObjects,
        deleteObject,
        moveObject,
        copyObject,
        getBucket,
        listBuckets,
      ]) {
        route(api, svc);
      }
    },
    { prefix: STORAGE_PREFIX },
  );
  return app;
}
