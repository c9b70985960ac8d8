import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import zlib from "node:zlib";
import { checksumOf, newChecksum } from "../src/ops/checksum.ts";

test("backup checksums: CRC-32 and sha256 of the standard check string, CRC-32 across chunks", () => {
  const check = Buffer.from("123456789");
  assert.equal(checksumOf("crc32", check), "cbf43926");
  assert.equal(
    checksumOf("sha256", check),
    "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
  );
  assert.equal(checksumOf("crc32", Buffer.alloc(0)), "00000000");
  const data = randomBytes(1 << 16);
  const chunked = newChecksum("crc32");
  for (let i = 0; i < data.length; i += 4099) chunked.update(data.subarray(i, i + 4099));
  assert.equal(chunked.digest(), checksumOf("crc32", data));
  assert.equal(checksumOf("crc32", data), zlib.crc32(data).toString(16).padStart(8, "0"));
});
