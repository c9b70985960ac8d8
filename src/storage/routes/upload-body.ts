import type { Readable } from "node:stream";
import type { FastifyRequest } from "fastify";
import { storageErrors } from "../errors.ts";
import { cacheControlOf, type StorageService, type UploadInput } from "../service.ts";
import { target } from "./params.ts";

/**
 * The file of an upload request, as storage-js sends it: multipart/form-data (fields `cacheControl`
 * and `metadata`, then the file; its part's type is the object's) or the raw body with its
 * Content-Type, `cache-control` and base64 JSON `x-metadata` headers.
 */
export async function uploadInput(
  request: FastifyRequest,
  svc: StorageService,
  mode: UploadInput["mode"],
): Promise<UploadInput> {
  const { bucket, name } = target(request);
  const length = request.headers["content-length"];
  if (request.isMultipart()) {
    const part = await request.file({
      // One more byte than any bucket allows: the driver's count, which knows the bucket, refuses first.
      limits: { fileSize: svc.maxUploadBytes + 1, files: 1, fields: 10, fieldSize: 64 * 1024 },
    });
    if (!part) throw storageErrors.invalidRequest("No file in the multipart body");
    const field = (k: string) => {
      const f = part.fields[k];
      return f && !Array.isArray(f) && f.type === "field" ? String(f.value) : undefined;
    };
    return {
      bucket,
      name,
      body: part.file,
      contentType: part.mimetype,
      // The multipart body is larger than its file: the declared length cannot judge the file.
      contentLength: undefined,
      cacheControl: cacheControlOf(field("cacheControl")),
      userMetadata: parseMetadata(field("metadata")),
      mode,
    };
  }
  return {
    bucket,
    name,
    body: request.raw as Readable,
    contentType: request.headers["content-type"],
    contentLength: typeof length === "string" && /^\d+$/.test(length) ? Number(length) : undefined,
    cacheControl: cacheControlOf(request.headers["cache-control"]),
    userMetadata: parseMetadata(
      typeof request.headers["x-metadata"] === "string"
        ? Buffer.from(request.headers["x-metadata"], "base64").toString("utf8")
        : undefined,
    ),
    mode,
  };
}

function parseMetadata(text: string | undefined): Record<string, unknown> | null {
  if (text === undefined || text === "") return null;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {}
  throw storageErrors.invalidRequest("metadata must be a JSON object");
}
