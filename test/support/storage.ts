import { mkdtemp, readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { StorageClient } from "@supabase/storage-js";
import { SignJWT } from "jose";
import type pg from "pg";
import { createRunner } from "../../src/sdk/db.ts";
import { DiskDriver } from "../../src/storage/drivers/disk.ts";
import type { StorageHttpStats } from "../../src/storage/http-stats.ts";
import { createStorageServer, STORAGE_PREFIX } from "../../src/storage/server.ts";

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

/** The storage service on a loopback port, over a disk folder of its own. */
export async function startStorage(
  url: string,
  options: { signedUrlMaxExpiresIn?: number; stats?: StorageHttpStats } = {},
) {
  const root = await mkdtemp(path.join(os.tmpdir(), "vpb-storage-"));
  const driver = new DiskDriver(root);
  const runner = createRunner({ connectionString: url, max: 4, applicationName: "vpb-db storage test" });
  const serverErrors: Error[] = [];
  const app = await createStorageServer({
    runner,
    jwtSecret: JWT_SECRET,
    driver,
    onServerError: (e) => serverErrors.push(e),
    ...options,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  const base = `http://127.0.0.1:${address.port}${STORAGE_PREFIX}`;
  const anonKey = await jwt({ role: "anon" });
  return {
    base,
    driver,
    /** Stops the server and its pool: call in the file's after hook. */
    async close() {
      await app.close();
      await runner.pool.end();
    },
    serverErrors,
    anonKey,
    /** storage-js as supabase-js builds it: apikey plus the caller's bearer token. */
    storage(token: string) {
      return new StorageClient(base, { apikey: anonKey, Authorization: `Bearer ${token}` });
    },
    /** Every file under the driver's folders: objects (by key) and temporary uploads. */
    async files(): Promise<{ objects: string[]; tmp: string[] }> {
      const list = async (dir: string) =>
        (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []))
          .filter((e) => e.isFile())
          .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
          .sort();
      return { objects: await list(driver.objectsDir), tmp: await list(driver.tmpDir) };
    },
  };
}

/** The storage.objects rows, as the superuser sees them. */
export async function objectRows(c: pg.Client) {
  const { rows } = await c.query<{ name: string; version: string; owner: string | null }>(
    "select name, version, owner from storage.objects order by name",
  );
  return rows;
}
