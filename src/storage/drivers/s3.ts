import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { storageErrors } from "../errors.ts";
import { uploadMd5 } from "../upload-md5.ts";
import {
  type ByteRange,
  checkKey,
  isKey,
  type PutOptions,
  type PutResult,
  type StorageDriver,
} from "./driver.ts";

export interface S3DriverOptions {
  /** The S3 bucket that holds every object (one for all storage buckets). */
  bucket: string;
  region: string;
  /** Any S3-compatible endpoint (MinIO, R2, Ceph…); undefined for AWS itself. */
  endpoint?: string | undefined;
  /** `endpoint/bucket/key` instead of `bucket.endpoint/key`: what most S3-compatible servers need. */
  forcePathStyle: boolean;
  /** Put before every key, so that one S3 bucket can hold several deployments' objects. */
  prefix: string;
  /** Undefined: the SDK's default chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Bytes per multipart part, and the most an upload buffers in memory twice (default 8 MiB; S3 needs >= 5 MiB). */
  partSize?: number;
}

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/**
 * Objects in one S3 bucket under `{prefix}{bucket}/{version}`. A put becomes visible only complete:
 * a body of at most one part is sent as one PutObject (S3 creates nothing unless the whole request
 * arrives), a larger one as a multipart upload, which S3 shows only once completed and which is
 * aborted on any failure. This rather than a temporary key and a copy: the copy would send every
 * byte twice and leave temporary objects to find after a crash; an interrupted multipart upload is
 * invisible, and the sweep aborts the stale ones.
 */
export class S3Driver implements StorageDriver {
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(options: S3DriverOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // The SDK's default since 3.729 adds CRC checksums that many S3-compatible servers refuse;
      // the bytes' MD5 is checked by the service itself (the eTag).
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  private objectKey(key: string): string {
    return this.prefix + checkKey(key);
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<PutResult> {
    const Key = this.objectKey(key);
    const md5 = uploadMd5();
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    let next = 1;
    // One part is sent while the next is read: at most two parts of this upload in memory.
    let sending: Promise<void> = Promise.resolve();
    const send = (chunk: Buffer, PartNumber: number) =>
      this.client
        .send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key,
            UploadId: uploadId,
            PartNumber,
            Body: chunk,
            ContentLength: chunk.length,
          }),
        )
        .then((r) => {
          parts[PartNumber - 1] = { ETag: r.ETag, PartNumber };
        });
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length;
        // Counted as it streams, so a body without Content-Length is held to the limit too.
        if (size > options.maxBytes) throw storageErrors.entityTooLarge();
        const hashing = md5.update(chunk);
        if (hashing) await hashing;
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes < this.partSize) continue;
        uploadId ??= await this.startMultipart(Key, options.contentType);
        await sending;
        const part = Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        sending = send(part, next++);
        // Handled here, thrown where awaited: a part failing while the next is read is no unhandled rejection.
        sending.catch(() => {});
      }
      const rest = Buffer.concat(pending, pendingBytes);
      if (uploadId === undefined) {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key,
            Body: rest,
            ContentLength: rest.length,
            ContentType: options.contentType || "application/octet-stream",
            ContentMD5: createHash("md5").update(rest).digest("base64"),
          }),
        );
      } else {
        await sending;
        if (rest.length > 0) await send(rest, next++);
        await this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
          }),
        );
      }
      return { size, md5: await md5.digest() };
    } catch (e) {
      md5.discard();
      // Settled first: a part still in flight would otherwise land after the abort.
      await sending.catch(() => {});
      // Best effort: an upload left here is invisible and the sweep aborts it once stale.
      if (uploadId !== undefined)
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId }))
          .catch(() => {});
      throw e;
    }
  }

  private async startMultipart(Key: string, contentType: string): Promise<string> {
    const r = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key,
        ContentType: contentType || "application/octet-stream",
      }),
    );
    if (!r.UploadId) throw new Error("storage driver: the S3 server started no multipart upload");
    return r.UploadId;
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    try {
      const r = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      return r.Body as Readable;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    try {
      const r = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return { size: r.ContentLength ?? 0 };
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((k) => ({ Key: this.objectKey(k) }));
      if (batch.length === 0) continue;
      const r = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }),
      );
      // A key already gone is not an error (S3 reports none for it anyway).
      const failed = (r.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
      if (failed.length > 0)
        throw new Error(
          `storage driver: S3 refused to delete ${failed.length} object(s): ${failed[0]?.Code}`,
        );
    }
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    // A copy appears whole or not at all (S3 publishes it once written).
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(toKey),
        CopySource: `${this.bucket}/${this.objectKey(fromKey)}`,
      }),
    );
  }

  async *list(): AsyncIterable<{ key: string; modified: Date }> {
    let ContinuationToken: string | undefined;
    do {
      const r = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          ...(this.prefix ? { Prefix: this.prefix } : {}),
          ...(ContinuationToken ? { ContinuationToken } : {}),
        }),
      );
      for (const o of r.Contents ?? []) {
        const key = o.Key?.slice(this.prefix.length);
        if (key === undefined || !isKey(key)) continue; // not ours: never touched
        yield { key, modified: o.LastModified ?? new Date(0) };
      }
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /**
   * Aborts the multipart uploads of our keys started before `before` (left by a crash). A server
   * that does not implement ListMultipartUploads (s3rver, some gateways) answers NotImplemented:
   * then there is nothing this can list, and the bucket's lifecycle rule AbortIncompleteMultipartUpload
   * is what removes them (README, S3 driver).
   */
  async removeStaleTemp(before: Date): Promise<number> {
    let removed = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      let r: Awaited<ReturnType<typeof this.listUploads>>;
      try {
        r = await this.listUploads(KeyMarker, UploadIdMarker);
      } catch (e) {
        if (statusOf(e) === 501) return removed;
        throw e;
      }
      for (const u of r.Uploads ?? []) {
        const key = u.Key?.slice(this.prefix.length);
        if (!u.Key || !u.UploadId || key === undefined || !isKey(key)) continue;
        if (!u.Initiated || u.Initiated >= before) continue; // an upload still in flight
        await this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }),
        );
        removed++;
      }
      KeyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
      UploadIdMarker = r.IsTruncated ? r.NextUploadIdMarker : undefined;
    } while (KeyMarker);
    return removed;
  }

  private listUploads(KeyMarker: string | undefined, UploadIdMarker: string | undefined) {
    return this.client.send(
      new ListMultipartUploadsCommand({
        Bucket: this.bucket,
        ...(this.prefix ? { Prefix: this.prefix } : {}),
        ...(KeyMarker ? { KeyMarker } : {}),
        ...(UploadIdMarker ? { UploadIdMarker } : {}),
      }),
    );
  }

  /** Closes the client's sockets. */
  close(): void {
    this.client.destroy();
  }
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isMissing(e: unknown): boolean {
  const name = (e as { name?: unknown } | undefined)?.name;
  return statusOf(e) === 404 || name === "NoSuchKey" || name === "NotFound";
}
