import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import S3rver from "s3rver";
import type { S3Settings } from "../../src/config.ts";

export const S3_BUCKET = "vpb-test";

/**
 * A real S3-protocol server (s3rver) on a loopback port, over a folder of its own, with one bucket.
 * s3rver accepts requests signed with its fixed keys (S3RVER/S3RVER), path-style.
 */
export async function startS3(): Promise<{
  settings: S3Settings;
  /** Multipart uploads begun and neither completed nor aborted (s3rver keeps them in its folder). */
  uploadsInFlight(): Promise<string[]>;
  close(): Promise<void>;
}> {
  const directory = await mkdtemp(path.join(os.tmpdir(), "vpb-s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: S3_BUCKET }],
  });
  const address = await server.run();
  return {
    settings: {
      bucket: S3_BUCKET,
      region: "us-east-1",
      endpoint: `http://127.0.0.1:${address.port}`,
      forcePathStyle: true,
      prefix: "",
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    },
    async uploadsInFlight() {
      const dir = path.join(directory, S3_BUCKET, "._S3rver_uploads");
      return (await readdir(dir).catch(() => [])).sort();
    },
    async close() {
      server.httpServer.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
