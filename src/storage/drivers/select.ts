import type { StorageBackend } from "../../config.ts";
import { DiskDriver } from "./disk.ts";
import type { StorageDriver } from "./driver.ts";

/**
 * The configured driver: disk under `diskRoot` (the data folder's `storage/`), or the S3 bucket. The
 * AWS SDK is loaded only for S3: it is large, and every command would otherwise start slower.
 */
export async function openDriver(
  backend: StorageBackend,
  diskRoot: string,
): Promise<StorageDriver & { close?(): void }> {
  if (backend.driver === "disk") return new DiskDriver(diskRoot);
  const { S3Driver } = await import("./s3.ts");
  return new S3Driver(backend.s3);
}
