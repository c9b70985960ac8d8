// The driver interface itself, on each driver: bodies of several parts (multipart on S3), ranges,
// copies, listing, deletion, and failed puts that must leave no object behind.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { S3Driver } from "../src/storage/drivers/s3.ts";
import { DRIVERS, startDriver } from "./support/storage.ts";

const PART = 64 * 1024;
const key = () => `audio-recordings/${randomUUID()}`;
const body = (n: number, seed = 3) =>
  Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) % 251));
/** The bytes in 16 KiB chunks, as a request body arrives. */
const stream = (b: Buffer) =>
  Readable.from(
    Array.from({ length: Math.ceil(b.length / 16384) }, (_, i) => b.subarray(i * 16384, (i + 1) * 16384)),
  );
async function read(r: Readable | undefined): Promise<Buffer> {
  assert.ok(r, "no such object");
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

for (const kind of DRIVERS)
  describe(`${kind} driver`, () => {
    let store: Awaited<ReturnType<typeof startDriver>>;
    /** The S3 requests sent (command and upload id): what a failed multipart upload must abort. */
    const sent: { command: string; uploadId: string | undefined }[] = [];

    before(async () => {
      store = await startDriver(kind, { partSize: PART });
      if (store.driver instanceof S3Driver) {
        store.driver.client.middlewareStack.add(
          (next, context) => async (args) => {
            const command = context.commandName as string;
            const input = args.input as { UploadId?: string };
            // Recorded before it is sent: s3rver refuses AbortMultipartUpload, and it was still sent.
            if (input.UploadId) sent.push({ command, uploadId: input.UploadId });
            const result = await next(args);
            if (!input.UploadId)
              sent.push({ command, uploadId: (result.output as { UploadId?: string }).UploadId });
            return result;
          },
          { step: "initialize", name: "recordCommands" },
        );
      }
    });
    after(async () => {
      await store?.close();
    });

    test("a body of several parts round-trips, whole and by range; head, copy, list and delete", async () => {
      const { driver } = store;
      const bytes = body(5 * PART + 123);
      const a = key();
      const stored = await driver.put(a, stream(bytes), { maxBytes: 10 * PART, contentType: "audio/webm" });
      assert.deepEqual(stored, { size: bytes.length, md5: createHash("md5").update(bytes).digest("hex") });
      assert.ok((await read(await driver.get(a))).equals(bytes));
      assert.ok(
        (await read(await driver.get(a, { start: PART - 5, end: PART + 4 }))).equals(
          bytes.subarray(PART - 5, PART + 5),
        ),
      );
      assert.deepEqual(await driver.head(a), { size: bytes.length });
      if (kind === "s3") {
        const multipart = sent.filter((s) => s.command === "CompleteMultipartUploadCommand");
        assert.equal(multipart.length, 1, "a body over one part goes as a multipart upload");
      }
      // One part or less: one request.
      const small = key();
      await driver.put(small, stream(body(100)), { maxBytes: PART, contentType: "audio/webm" });
      assert.ok((await read(await driver.get(small))).equals(body(100)));
      // A small answer's bytes in one buffer, where the driver offers it (the service's 1 KB downloads).
      if (driver.read) {
        assert.ok((await driver.read(small, { start: 0, end: 99 }))?.equals(body(100)));
        assert.ok(
          (await driver.read(a, { start: PART - 5, end: PART + 4 }))?.equals(
            bytes.subarray(PART - 5, PART + 5),
          ),
        );
        assert.equal(await driver.read(key(), { start: 0, end: 9 }), undefined);
      }

      const b = key();
      await driver.copy(a, b);
      assert.ok((await read(await driver.get(b))).equals(bytes));
      const listed = [];
      for await (const o of driver.list()) listed.push(o.key);
      assert.deepEqual(listed.sort(), [a, b, small].sort());

      await driver.delete([a, b, small, key()]);
      assert.equal(await driver.get(a), undefined);
      assert.equal(await driver.head(b), undefined);
      assert.deepEqual(await store.files(), { objects: [], tmp: [] });
    });

    test("an oversize body and a body failing mid-stream leave no object; a begun multipart upload is aborted", async () => {
      const { driver } = store;
      const before = await store.files();
      const big = key();
      await assert.rejects(
        driver.put(big, stream(body(4 * PART)), { maxBytes: 3 * PART, contentType: "audio/webm" }),
        { name: "StorageHttpError", message: /exceeded the maximum allowed size/ },
      );
      const broken = key();
      const failing = Readable.from(
        (async function* () {
          yield body(2 * PART);
          throw new Error("client went away");
        })(),
      );
      await assert.rejects(driver.put(broken, failing, { maxBytes: 10 * PART, contentType: "audio/webm" }), {
        message: "client went away",
      });
      assert.equal(await driver.head(big), undefined);
      assert.equal(await driver.head(broken), undefined);
      const after = await store.files();
      assert.deepEqual(after.objects, before.objects);
      if (kind === "disk") {
        assert.deepEqual(after.tmp, []);
      } else {
        // Each multipart upload begun was aborted. (s3rver implements no AbortMultipartUpload and
        // keeps the parts; S3 removes them.)
        const begun = sent.filter((s) => s.command === "CreateMultipartUploadCommand").map((s) => s.uploadId);
        const completed = sent
          .filter((s) => s.command === "CompleteMultipartUploadCommand")
          .map((s) => s.uploadId);
        const aborted = sent
          .filter((s) => s.command === "AbortMultipartUploadCommand")
          .map((s) => s.uploadId);
        const failed = begun.filter((id) => !completed.includes(id));
        assert.equal(failed.length, 2);
        assert.deepEqual(aborted.sort(), failed.sort());
      }
    });
  });
