/**
 * Every error vpb-db raises on purpose is a VpbError with a stable `code`, a message that names the
 * cause, and a `remedy`. Messages never contain query parameters or secrets; the README lists the codes.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: "configuration is invalid",
  EMBEDDED_BINARIES_MISSING: "the embedded PostgreSQL binaries cannot be run",
  EMBEDDED_START_FAILED: "the embedded PostgreSQL server did not start",
  PORT_UNAVAILABLE: "no free port was found for the embedded server",
  EMBEDDED_CREDENTIALS_INVALID: "the embedded server's credentials.json is missing, unreadable or incomplete",
  CONNECTION_FAILED: "the database cannot be reached",
  SERVER_TOO_OLD: "the server is older than PostgreSQL 15",
  POOLER_DETECTED: "connected through a transaction-mode pooler",
  LOCK_TIMEOUT: "another migration run holds the migration lock",
  MIGRATION_NAME_INVALID: "a migration file name is not NNN_name.sql",
  MIGRATION_DUPLICATE_NUMBER: "two migration files share a number",
  MIGRATION_ROLLBACK_MISSING: "a migration has no rollback script",
  MIGRATION_CHECKSUM_MISMATCH: "an applied migration file was edited",
  MIGRATION_MISSING_FILE: "an applied migration has no file any more",
  MIGRATION_OUT_OF_ORDER: "a pending migration is older than the latest applied one",
  MIGRATION_FAILED: "a migration statement failed",
  MIGRATION_TARGET_UNKNOWN: "the --to target names no migration",
  ROLLBACK_FAILED: "a rollback statement failed",
  RESET_REFUSED: "reset refused on a non-local database",
  BOOTSTRAP_FAILED: "the Supabase compatibility bootstrap failed",
  INVALID_ARGUMENT: "a command argument is invalid",
  TYPES_STALE: "the committed types do not match the schema",
  TOKEN_KEYS_MISSING: "VPB_TOKEN_KEYS is not set",
  TOKEN_KEY_UNKNOWN: "a token was encrypted with a key the ring does not hold",
  TOKEN_DECRYPT_FAILED: "a stored token failed decryption",
  TOKEN_ROTATION_INCOMPLETE: "key rotation left some tokens it could not decrypt",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface PgErrorFields {
  /** SQLSTATE, e.g. 42P01 */
  code?: string;
  detail?: string;
  hint?: string;
  where?: string;
}

export class VpbError extends Error {
  readonly code: ErrorCode;
  readonly remedy: string;
  readonly pg: PgErrorFields | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    remedy: string,
    options?: { cause?: unknown; pg?: PgErrorFields },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VpbError";
    this.code = code;
    this.remedy = remedy;
    // A database error as the cause brings its SQLSTATE, detail and hint along.
    this.pg = options?.pg ?? pgFields(options?.cause);
  }
}

export function isVpbError(e: unknown, code?: ErrorCode): e is VpbError {
  return e instanceof VpbError && (code === undefined || e.code === code);
}

/** The Postgres fields of a `pg` DatabaseError, without its message's parameters. */
export function pgFields(e: unknown): PgErrorFields | undefined {
  if (typeof e !== "object" || e === null || !("code" in e) || typeof e.code !== "string") return undefined;
  const fields: PgErrorFields = { code: e.code };
  const rec = e as Record<string, unknown>;
  for (const key of ["detail", "hint", "where"] as const) {
    if (typeof rec[key] === "string") fields[key] = rec[key];
  }
  return fields;
}
