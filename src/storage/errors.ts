import { type DataErrorCode, dataError, isVpbError } from "../errors.ts";

/**
 * An error in Supabase Storage's wire format: `{ statusCode, code, error, message }`, the real status
 * as a string in the body. Like Supabase, the HTTP status is 400 for every client error (4xx) and the
 * real one only for server errors, because @supabase/storage-js reads the body: a caller sees
 * `error.statusCode === "403"` with `error.status === 400`, on Supabase and here alike.
 */
export class StorageHttpError extends Error {
  constructor(
    /** The real status: 400, 403, 404, 409, 413, 415, 416, 500... */
    readonly status: number,
    /** Supabase's error code: AccessDenied, NoSuchKey, EntityTooLarge, InvalidMimeType... */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StorageHttpError";
  }

  /** The HTTP status sent: 400 for any client error (as Supabase does), the real one otherwise. */
  get httpStatus(): number {
    return this.status >= 500 || this.status === 416 ? this.status : 400;
  }

  body() {
    return { statusCode: String(this.status), code: this.code, error: this.code, message: this.message };
  }
}

export const storageErrors = {
  invalidJwt: (message = "Invalid JWT") => new StorageHttpError(400, "InvalidJWT", message),
  accessDenied: (message = "new row violates row-level security policy") =>
    new StorageHttpError(403, "AccessDenied", message),
  noSuchKey: () => new StorageHttpError(404, "NoSuchKey", "Object not found"),
  noSuchBucket: () => new StorageHttpError(404, "NoSuchBucket", "Bucket not found"),
  duplicate: () => new StorageHttpError(409, "Duplicate", "The resource already exists"),
  entityTooLarge: () =>
    new StorageHttpError(413, "EntityTooLarge", "The object exceeded the maximum allowed size"),
  // Supabase has no per-user quota (its project quota stops the whole project): 413, as for an
  // object over the size limit, with a code of its own so an app can tell the two apart.
  quotaExceeded: () =>
    new StorageHttpError(
      413,
      "QuotaExceeded",
      "The upload does not fit in the storage quota of the uploader's plan: delete recordings or upgrade the plan",
    ),
  invalidMimeType: (mime: string) =>
    new StorageHttpError(415, "InvalidMimeType", `mime type ${mime} is not supported`),
  contentMismatch: (mime: string) =>
    new StorageHttpError(
      415,
      "InvalidMimeType",
      `the file's content is not ${mime}: send the recording's own bytes with its real type`,
    ),
  invalidKey: (reason: string) => new StorageHttpError(400, "InvalidKey", `Invalid key: ${reason}`),
  invalidRequest: (message: string) => new StorageHttpError(400, "InvalidRequest", message),
  invalidSignature: (message = "Invalid signature") => new StorageHttpError(400, "InvalidSignature", message),
  expiredToken: () => new StorageHttpError(400, "ExpiredToken", "The provided token has expired."),
  rangeNotSatisfiable: () =>
    new StorageHttpError(416, "InvalidRange", "The requested range is not satisfiable"),
};

/**
 * Any failure as a wire error. Database errors arrive as VpbErrors (fromDatabaseError mapped their
 * SQLSTATE); their messages name no parameter, and anything unexpected becomes a bare 500.
 */
export function toStorageError(e: unknown): StorageHttpError {
  if (e instanceof StorageHttpError) return e;
  if (isVpbError(e)) {
    switch (e.code) {
      case "FORBIDDEN":
        return storageErrors.accessDenied();
      case "NOT_FOUND":
        return storageErrors.noSuchKey();
      case "CONFLICT":
        return storageErrors.duplicate();
      case "STORAGE_QUOTA_EXCEEDED":
        return storageErrors.quotaExceeded();
      case "INVALID_INPUT":
        return storageErrors.invalidRequest(e.message);
      case "TRANSACTION_CONFLICT":
      case "CONNECTION_FAILED":
      case "CONNECTION_LOST":
      case "STATEMENT_TIMEOUT":
        return new StorageHttpError(503, "DatabaseError", e.message, { cause: e });
      default:
        return new StorageHttpError(500, "DatabaseError", e.message, { cause: e });
    }
  }
  return new StorageHttpError(500, "InternalError", "Internal server error", { cause: e });
}

/** What the SDK says of each refusal: fixed words, never the request's values. */
const SDK_REFUSALS: Record<string, { code: DataErrorCode; what: string }> = {
  AccessDenied: { code: "FORBIDDEN", what: "the storage policies refuse this user" },
  NoSuchKey: { code: "NOT_FOUND", what: "the file does not exist or this user cannot see it" },
  NoSuchBucket: { code: "NOT_FOUND", what: "the bucket does not exist" },
  Duplicate: { code: "CONFLICT", what: "a file of that name exists" },
  EntityTooLarge: { code: "INVALID_INPUT", what: "the file is larger than the bucket allows" },
  QuotaExceeded: {
    code: "STORAGE_QUOTA_EXCEEDED",
    what: "the file does not fit in the plan's storage quota",
  },
  InvalidMimeType: {
    code: "INVALID_INPUT",
    what: "the bucket does not take this type, or the bytes are not of the declared type",
  },
  InvalidKey: { code: "INVALID_INPUT", what: "the file's name is not allowed" },
  InvalidRequest: { code: "INVALID_INPUT", what: "the request is invalid" },
};

/**
 * A storage refusal raised inside the SDK (the service's checks, shared) as a VpbError of the data
 * API; database errors are VpbErrors already, and anything else (a disk failure) passes unchanged.
 */
export function storageToDataError(operation: string, e: unknown): unknown {
  if (!(e instanceof StorageHttpError) || e.status >= 500) return e;
  const refusal = SDK_REFUSALS[e.code] ?? { code: "INVALID_INPUT", what: "the storage refused the file" };
  return dataError(refusal.code, `${operation}: ${refusal.what} (${e.code})`, { cause: e });
}
