/**
 * The disk driver's upload path, flushing as the bytes arrive (DiskDriver.put): the digest and the
 * stored bytes are those of the body, for bodies larger than the flush interval, several at once,
 * and a failed upload leaves no temporary file.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import { DiskDriver } from "../src/storage/drivers/disk.ts";

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE(((i + seed) * 2654435761) >>> 0, i);
  return b;
}

/** `body` as a stream of chunks of the given sizes, in turn. */
function chunked(body: Buffer, sizes: number[]): Readable {
  const parts: Buffer[] = [];
  for (let at = 0, i = 0; at < body.length; i++) {
    const n = sizes[i % sizes.length] as number;
    parts.push(body.subarray(at, at + n));
    at += n;
  }
  return Readable.from(parts);
}

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

test("DiskDriver.put stores 20 MB (flushed twice on the way) with its size and MD5, four at once", async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), "vpb-md5-"));
  dirs.push(root);
  const driver = new DiskDriver(root);
  const bodies = [0, 1, 2, 3].map((i) => bytes(20_000_000 + i, i));
  const results = await Promise.all(
    bodies.map((body, i) =>
      driver.put(`b/0000000${i}-0000-4000-8000-000000000000`, chunked(body, [65536, 1000, 300_000]), {
        maxBytes: 50_000_000,
        contentType: "audio/webm",
      }),
    ),
  );
  for (const [i, body] of bodies.entries()) {
    assert.deepEqual(results[i], { size: body.length, md5: md5(body) });
    const stored = await readFile(path.join(root, "objects", "b", `0000000${i}-0000-4000-8000-000000000000`));
    assert.ok(stored.equals(body), `object ${i} holds the body's bytes`);
  }
  assert.deepEqual(await readdir(path.join(root, "tmp")), []);
});

test("an upload over the limit after a flush fails and leaves no temporary file; the next one hashes right", async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), "vpb-md5-"));
  dirs.push(root);
  const driver = new DiskDriver(root);
  await assert.rejects(
    driver.put("b/00000000-0000-4000-8000-000000000009", chunked(bytes(12_000_000, 9), [65536]), {
      maxBytes: 10_000_000,
      contentType: "audio/webm",
    }),
    (e: Error & { status?: number }) => e.status === 413,
  );
  assert.deepEqual(await readdir(path.join(root, "tmp")), []);
  const body = bytes(9_000_000, 10);
  const ok = await driver.put("b/00000000-0000-4000-8000-000000000010", chunked(body, [65536]), {
    maxBytes: 10_000_000,
    contentType: "audio/webm",
  });
  assert.deepEqual(ok, { size: body.length, md5: md5(body) });
});
