import { VpbError } from "../errors.ts";
import type { StorageDriver } from "../storage/drivers/driver.ts";
import { StorageService } from "../storage/service.ts";
import type { Runner } from "./db.ts";

/** createDb's `storage` option: how the SDK stores files, as the storage service does. */
export interface StorageOptions {
  /** Where the bytes go: the same driver (folder, S3 bucket) the storage service serves them from. */
  driver: StorageDriver;
  /** The project's JWT secret (api.json's `jwtSecret`): signed URLs must verify at the service. */
  jwtSecret: string;
  /** The storage service's URL as storage-js takes it (`${api.url}/storage/v1`): signed URLs point there. */
  url: string;
  /** As the service's options of the same names. */
  maxUploadBytes?: number;
  signedUrlMaxExpiresIn?: number;
}

/** The service's checks and driver, on the SDK's pool, and the URL signed URLs name. */
export interface SdkStorage {
  service: StorageService;
  url: string;
}

export function sdkStorage(runner: Runner, options: StorageOptions): SdkStorage {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new VpbError(
      "CONFIG_INVALID",
      "createDb: storage.url is not a URL",
      "Pass the storage service's URL, such as http://127.0.0.1:54321/storage/v1.",
    );
  }
  if (options.jwtSecret.length < 32) {
    throw new VpbError(
      "CONFIG_INVALID",
      "createDb: storage.jwtSecret has fewer than 32 characters",
      "Pass the jwtSecret of the data folder's api.json (the one the storage service verifies with).",
    );
  }
  const service = new StorageService({
    runner,
    driver: options.driver,
    jwtSecret: options.jwtSecret,
    ...(options.maxUploadBytes === undefined ? {} : { maxUploadBytes: options.maxUploadBytes }),
    ...(options.signedUrlMaxExpiresIn === undefined
      ? {}
      : { signedUrlMaxExpiresIn: options.signedUrlMaxExpiresIn }),
  });
  return { service, url: url.toString().replace(/\/+$/, "") };
}
