import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type Actor, inTransaction, type Runner, type Tx } from "../sdk/db.ts";
import { actorFromHeaders, jwtKey } from "./auth.ts";
import { contentCheck } from "./content-sniff.ts";
import type { StorageDriver } from "./drivers/driver.ts";
import { StorageHttpError, storageErrors } from "./errors.ts";
import { requestCaller } from "./http-stats.ts";
import * as objects from "./objects.ts";
import { baseMimeType, bucketId, mimeAllowed, objectName } from "./paths.ts";
import { parseRange } from "./range.ts";

export interface StorageServiceOptions {
  /** The database the objects' rows live in (one pool, shared with the rest of the stack). */
  runner: Runner;
  /** The project's JWT secret: verifies callers' tokens and signs URL tokens (HS256). */
  jwtSecret: string;
  driver: StorageDriver;
  /** Upload limit of a bucket that sets none, in bytes (default 50 MiB, Supabase's default). */
  maxUploadBytes?: number;
  /** Lifetime of a signed upload URL, seconds (default 7200, as Supabase). */
  signedUploadExpiresIn?: number;
  /** Longest lifetime a signed download URL may ask for, seconds (default 7 days). */
  signedUrlMaxExpiresIn?: number;
}

export const SERVICE: Actor = { role: "service_role", userId: undefined };

export interface UploadInput {
  bucket: string;
  name: string;
  body: Readable;
  contentType: string | undefined;
  /** Declared length, when the client sent one: refused before a byte is read if over the limit. */
  contentLength: number | undefined;
  cacheControl: string | undefined;
  userMetadata: Record<string, unknown> | null;
  mode: "insert" | "upsert" | "update";
}

/** The object an upload stored, as its row's transaction sees it. */
export interface StoredObject {
  bucket: string;
  name: string;
  size: number;
  /** The declared type without parameters: `audio/webm`. */
  mimeType: string;
}

/** Answers up to this many bytes are read into one buffer (where the driver can): a stream's steps cost more. */
const SMALL_ANSWER = 64 * 1024;

/** What the routes share: who the caller is, transactions as the caller, the upload and download paths. */
export class StorageService {
  readonly driver: StorageDriver;
  readonly key: Uint8Array;
  readonly maxUploadBytes: number;
  readonly signedUploadExpiresIn: number;
  readonly signedUrlMaxExpiresIn: number;
  private readonly runner: Runner;

  constructor(options: StorageServiceOptions) {
    if (options.jwtSecret.length < 32)
      throw new Error("storage: the JWT secret must have at least 32 characters");
    this.runner = options.runner;
    this.driver = options.driver;
    this.key = jwtKey(options.jwtSecret);
    this.maxUploadBytes = options.maxUploadBytes ?? 50 * 1024 * 1024;
    this.signedUploadExpiresIn = options.signedUploadExpiresIn ?? 7200;
    this.signedUrlMaxExpiresIn = options.signedUrlMaxExpiresIn ?? 7 * 24 * 3600;
  }

  async caller(request: FastifyRequest): Promise<Actor> {
    const actor = actorFromHeaders(request.headers, this.key);
    if (actor.userId !== undefined) requestCaller.set(request, actor.userId);
    return actor;
  }

  /** Runs `fn` in one transaction as `actor`: the policies of storage.objects decide. */
  tx<T>(actor: Actor, operation: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return inTransaction(this.runner, actor, operation, fn, false);
  }

  /** The object as `actor` sees it, in one round trip (no transaction of its own). */
  findObject(
    actor: Actor,
    operation: string,
    bucket: string,
    name: string,
  ): Promise<objects.ObjectRow | undefined> {
    return objects.findObjectAs(this.runner, actor, operation, bucket, name);
  }

  asService<T>(operation: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.tx(SERVICE, operation, fn);
  }

  /** The bucket's limits, read as the service (Supabase does too: users may not see buckets). */
  async bucket(id: string): Promise<objects.BucketRow> {
    const row = await this.asService("storage bucket", (tx) => objects.findBucket(tx, bucketId(id)));
    if (!row) throw storageErrors.noSuchBucket();
    return row;
  }

  /**
   * Stores an upload: limits checked, the caller's right to write checked (the same write, rolled
   * back), the bytes streamed to the driver (complete and durable before the row commits), then the
   * row written in one transaction. If the row fails the new bytes are removed; the replaced
   * version's bytes are removed after the commit. A failure leaves no row and no file.
   */
  async upload<T = undefined>(
    actor: Actor,
    input: UploadInput,
    /** More writes in the row's transaction (the SDK's audio_recordings row): its failure undoes the upload. */
    alongside?: (tx: Tx, object: StoredObject) => Promise<T>,
  ): Promise<{ id: string; key: string; alongside: T | undefined }> {
    const name = objectName(input.name);
    const bucket = await this.bucket(input.bucket);
    const mime = baseMimeType(input.contentType);
    if (!mimeAllowed(mime, bucket.allowed_mime_types)) throw storageErrors.invalidMimeType(mime || "(none)");
    const limit = Math.min(
      bucket.file_size_limit === null ? this.maxUploadBytes : Number(bucket.file_size_limit),
      this.maxUploadBytes,
    );
    if (input.contentLength !== undefined && input.contentLength > limit)
      throw storageErrors.entityTooLarge();

    const version = randomUUID();
    const row = (metadata: objects.ObjectMetadata): objects.NewObject => ({
      bucket: bucket.id,
      name,
      owner: actor.userId,
      version,
      metadata,
      userMetadata: input.userMetadata,
    });
    const write = async (tx: Tx, metadata: objects.ObjectMetadata) => {
      const old = await objects.lockVersion(tx, bucket.id, name);
      if (input.mode === "update") {
        const id = await objects.replaceObject(tx, row(metadata));
        if (id === undefined) throw storageErrors.noSuchKey();
        return { id, old: old?.version ?? null };
      }
      const id = await objects.insertObject(tx, row(metadata), input.mode === "upsert");
      return { id, old: old?.version ?? null };
    };
    // Fail fast, before any byte is stored: the same write under a savepoint, undone. With the
    // declared length as its size, so the storage quota (013) refuses a known-too-big upload here too.
    await this.tx(actor, "storage upload check", async (tx) => {
      await tx.query("savepoint upload_check");
      await write(tx, metadataOf(input.contentLength ?? 0, "", input.contentType, input.cacheControl));
      await tx.query("rollback to savepoint upload_check");
    });

    const key = `${bucket.id}/${version}`;
    // Judged by the bytes too, unless the bucket takes any type: the header is only the client's word.
    let body = input.body;
    if (bucket.allowed_mime_types?.length) {
      const checked = contentCheck(mime);
      input.body.once("error", (e) => checked.destroy(e));
      // The bytes start flowing before the driver's pipeline is attached (it first opens its temporary
      // file): a refusal in that moment stays on the stream (`errored`) for the pipeline to report.
      checked.on("error", () => {});
      body = input.body.pipe(checked);
    }
    const stored = await this.driver.put(key, body, { maxBytes: limit, contentType: mime });
    let result: { id: string; old: string | null; alongside: T | undefined };
    try {
      result = await this.tx(actor, "storage upload", async (tx) => {
        const written = await write(
          tx,
          metadataOf(stored.size, stored.md5, input.contentType, input.cacheControl),
        );
        const more = await alongside?.(tx, { bucket: bucket.id, name, size: stored.size, mimeType: mime });
        return { ...written, alongside: more };
      });
    } catch (e) {
      await this.driver.delete([key]);
      throw e;
    }
    // The old bytes go only once nothing names them; if this fails, the sweeper finds them.
    if (result.old) await this.driver.delete([`${bucket.id}/${result.old}`]).catch(() => {});
    return { id: result.id, key: `${bucket.id}/${name}`, alongside: result.alongside };
  }

  /** Sends an object's bytes (or the requested range) with the headers an <audio> element needs to seek. */
  async send(request: FastifyRequest, reply: FastifyReply, row: objects.ObjectRow, withBody: boolean) {
    const meta = row.metadata;
    const key = `${row.bucket_id}/${row.version}`;
    const size = typeof meta?.size === "number" ? meta.size : (await this.driver.head(key))?.size;
    if (!row.version || size === undefined) throw storageErrors.noSuchKey();
    reply
      .header("content-type", meta?.mimetype || "application/octet-stream")
      .header("accept-ranges", "bytes")
      .header("cache-control", meta?.cacheControl || "no-cache")
      .header("last-modified", new Date(row.updated_at).toUTCString());
    if (meta?.eTag) reply.header("etag", meta.eTag);
    const download = (request.query as { download?: unknown }).download;
    if (typeof download === "string") {
      const file = download || row.name.split("/").pop() || "download";
      reply.header("content-disposition", `attachment; filename*=UTF-8''${encodeURIComponent(file)}`);
    }
    if (meta?.eTag && request.headers["if-none-match"] === meta.eTag) return reply.code(304).send();
    const range = parseRange(request.headers.range, size);
    if (range === "unsatisfiable") {
      reply.header("content-range", `bytes */${size}`);
      throw storageErrors.rangeNotSatisfiable();
    }
    if (range) {
      reply.code(206).header("content-range", `bytes ${range.start}-${range.end}/${size}`);
      reply.header("content-length", range.end - range.start + 1);
    } else {
      reply.header("content-length", size);
    }
    if (!withBody) return reply.send();
    const span = range ?? { start: 0, end: size - 1 };
    if (this.driver.read && size > 0 && span.end - span.start < SMALL_ANSWER) {
      const bytes = await this.driver.read(key, span);
      if (!bytes) throw storageErrors.noSuchKey();
      // The length was promised in the header: a file shorter than its row says is a server fault.
      if (bytes.length !== span.end - span.start + 1)
        throw new Error("stored file is shorter than its row says");
      return reply.send(bytes);
    }
    const stream = await this.driver.get(key, range ?? undefined);
    if (!stream) throw storageErrors.noSuchKey();
    return reply.send(stream);
  }
}

export function metadataOf(
  size: number,
  md5: string,
  contentType: string | undefined,
  cacheControl: string | undefined,
): objects.ObjectMetadata {
  return {
    eTag: `"${md5}"`,
    size,
    mimetype: contentType || "application/octet-stream",
    cacheControl: cacheControl || "no-cache",
    lastModified: new Date().toISOString(),
    contentLength: size,
    httpStatusCode: 200,
  };
}

/** `3600` (storage-js's form field) or `max-age=3600` (its header) as a Cache-Control value. */
export function cacheControlOf(raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  if (/^\d{1,10}$/.test(raw)) return `max-age=${raw}`;
  return /^[\w=, -]{1,200}$/.test(raw) ? raw : undefined;
}

export { StorageHttpError };
