import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { test } from "node:test";
import { uploadMd5 } from "../src/storage/upload-md5.ts";

const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

/** Feeds `body` in chunks of the given sizes (cycled), awaiting the hasher when it asks to. */
async function hashed(body: Buffer, sizes: number[]): Promise<string> {
  const h = uploadMd5();
  for (let at = 0, i = 0; at < body.length; i++) {
    const n = Math.min(sizes[i % sizes.length] as number, body.length - at);
    await h.update(body.subarray(at, at + n));
    at += n;
  }
  return h.digest();
}

test("the upload MD5 equals node:crypto's for bodies around its batch size, in any chunking", async () => {
  for (const size of [0, 1, 4099, MiB / 4 - 1, MiB / 4, MiB / 4 + 1, 3 * MiB + 17]) {
    const body = randomBytes(size);
    for (const sizes of [[65536], [1, 7, 100_000], [5 * MiB]]) {
      assert.equal(await hashed(body, sizes), md5(body), `${size} bytes in chunks of ${sizes}`);
    }
  }
});

test("uploads hashed at once do not mix; a discarded one leaves the others whole", async () => {
  const bodies = [randomBytes(20 * MiB + 3), randomBytes(9 * MiB), randomBytes(2 * MiB + 5)];
  const dropped = uploadMd5();
  await dropped.update(randomBytes(3 * MiB));
  const results = Promise.all(bodies.map((b, i) => hashed(b, [65536 * (i + 1)])));
  dropped.discard();
  assert.deepEqual(await results, bodies.map(md5));
});

test("a process waiting only for the hashing thread stays alive until the digest, then can exit", () => {
  const script = `
    import { uploadMd5 } from ${JSON.stringify(path.resolve(import.meta.dirname, "../src/storage/upload-md5.ts"))};
    const h = uploadMd5();
    await h.update(Buffer.alloc(3 * 1024 * 1024 + 1, 7));
    console.log(await h.digest());`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), md5(Buffer.alloc(3 * MiB + 1, 7)));
});
