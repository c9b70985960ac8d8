import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CreateMultipartUploadCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { StorageClient } from "@supabase/storage-js";
import { SignJWT } from "jose";
import type pg from "pg";
import { createRunner } from "../../src/sdk/db.ts";
import { DiskDriver } from "../../src/storage/drivers/disk.ts";
import type { StorageDriver } from "../../src/storage/drivers/driver.ts";
import { S3Driver } from "../../src/storage/drivers/s3.ts";
import type { StorageHttpStats } from "../../src/storage/http-stats.ts";
import { createStorageServer, STORAGE_PREFIX } from "../../src/storage/server.ts";
import { startS3 } from "./s3.ts";

export const JWT_SECRET = "test-secret-of-at-least-32-characters-long";
const key = new TextEncoder().encode(JWT_SECRET);

/** A JWT as Supabase Auth issues it (or an API key, without `sub`), signed with the test secret. */
export async function jwt(claims: Record<string, unknown>, expiresIn = 3600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(key);
}

/** The start of a WebM file as MediaRecorder writes it (EBML header, DocType "webm"): what file-type reads. */
export const WEBM_HEADER = Uint8Array.from([
  0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81, 0x04, 0x42,
  0xf3, 0x81, 0x08, 0x42, 0x82, 0x84, 0x77, 0x65, 0x62, 0x6d, 0x42, 0x87, 0x81, 0x04, 0x42, 0x85, 0x81, 0x02,
]);

/** `n` bytes of a WebM-looking file: the header, then bytes that vary with `seed`. */
export function webmBytes(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  if (n < WEBM_HEADER.length) throw new Error(`a WebM sample needs at least ${WEBM_HEADER.length} bytes`);
  const out = Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 256);
  out.set(WEBM_HEADER);
  return out;
}

/** The first page of an Ogg Opus file as far as file-type reads it, then `text`. */
export function oggOpus(text = ""): Uint8Array<ArrayBuffer> {
  const head = Buffer.alloc(64);
  head.write("OggS", 0, "latin1");
  head.write("OpusHead", 28, "latin1");
  return new Uint8Array(Buffer.concat([head, Buffer.from(text)]));
}

/** The drivers every driver-independent storage test runs against. */
export const DRIVERS = ["disk", "s3"] as const;
export type DriverKind = (typeof DRIVERS)[number];

/** A driver of that kind: a disk folder of its own, or a bucket on an s3rver of its own. */
export async function startDriver(kind: DriverKind, options: { partSize?: number } = {}) {
  if (kind === "disk") {
    const driver = new DiskDriver(await mkdtemp(path.join(os.tmpdir(), "vpb-storage-")));
    const list = async (dir: string) =>
      (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []))
        .filter((e) => e.isFile())
        .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
        .sort();
    return {
      driver: driver as StorageDriver,
      /** Every stored object (by key) and every upload in flight (temporary files). */
      files: async () => ({ objects: await list(driver.objectsDir), tmp: await list(driver.tmpDir) }),
      /** What a crash mid-upload leaves: a temporary file. */
      async leaveHalfUpload() {
        await mkdir(driver.tmpDir, { recursive: true });
        await writeFile(path.join(driver.tmpDir, `${randomUUID()}.part`), "half an upload");
      },
      async close() {},
    };
  }
  const s3 = await startS3();
  const driver = new S3Driver({
    ...s3.settings,
    ...(options.partSize ? { partSize: options.partSize } : {}),
  });
  return {
    driver: driver as StorageDriver,
    files: async () => {
      const objects: string[] = [];
      for await (const o of driver.list()) objects.push(o.key);
      return { objects: objects.sort(), tmp: await s3.uploadsInFlight() };
    },
    /** What a crash mid-upload leaves: a multipart upload begun, one part sent, never completed. */
    async leaveHalfUpload() {
      const Key = `${BUCKET_OF_TESTS}/${randomUUID()}`;
      const { UploadId } = await driver.client.send(
        new CreateMultipartUploadCommand({ Bucket: s3.settings.bucket, Key }),
      );
      await driver.client.send(
        new UploadPartCommand({ Bucket: s3.settings.bucket, Key, UploadId, PartNumber: 1, Body: "half" }),
      );
    },
    async close() {
      driver.close();
      await s3.close();
    },
  };
}

const BUCKET_OF_TESTS = "audio-recordings";

/** The storage service on a loopback port, over a disk folder or an S3 bucket of its own. */
export async function startStorage(
  url: string,
  options: {
    signedUrlMaxExpiresIn?: number;
    driver?: DriverKind;
    partSize?: number;
    stats?: StorageHttpStats;
  } = {},
) {
  const { driver: kind = "disk", partSize, ...serviceOptions } = options;
  const store = await startDriver(kind, partSize ? { partSize } : {});
  const driver = store.driver;
  const runner = createRunner({ connectionString: url, max: 4, applicationName: "vpb-db storage test" });
  const serverErrors: Error[] = [];
  const app = await createStorageServer({
    runner,
    jwtSecret: JWT_SECRET,
    driver,
    onServerError: (e) => serverErrors.push(e),
    ...serviceOptions,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  const base = `http://127.0.0.1:${address.port}${STORAGE_PREFIX}`;
  const anonKey = await jwt({ role: "anon" });
  return {
    base,
    kind,
    driver,
    /** Stops the server, its pool and its store: call in the file's after hook. */
    async close() {
      await app.close();
      await runner.pool.end();
      await store.close();
    },
    serverErrors,
    anonKey,
    /** storage-js as supabase-js builds it: apikey plus the caller's bearer token. */
    storage(token: string) {
      return new StorageClient(base, { apikey: anonKey, Authorization: `Bearer ${token}` });
    },
    /** Every stored object (by key) and every upload in flight (temporary files, unfinished multipart uploads). */
    files: store.files,
    leaveHalfUpload: store.leaveHalfUpload,
  };
}

/** The storage.objects rows, as the superuser sees them. */
export async function objectRows(c: pg.Client) {
  const { rows } = await c.query<{ name: string; version: string; owner: string | null }>(
    "select name, version, owner from storage.objects order by name",
  );
  return rows;
}
