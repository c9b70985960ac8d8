/**
 * Every error vpb-db raises on purpose is a VpbError with a stable `code`, a message that names the
 * cause, and a `remedy`. Messages never contain query parameters or secrets; the README lists the codes.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: "configuration is invalid",
  EMBEDDED_BINARIES_MISSING: "the embedded PostgreSQL binaries cannot be run",
  EMBEDDED_START_FAILED: "the embedded PostgreSQL server did not start",
  PORT_UNAVAILABLE: "no free port was found for the embedded server",
  EMBEDDED_BUSY: "another vpb-db process has been starting or stopping the embedded server for too long",
  EMBEDDED_SERVER_STOPPED: "the embedded server stopped while `start` was running",
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
  TOKEN_KEYS_INVALID: "the token key ring is malformed",
  TOKEN_KEY_UNKNOWN: "a token was encrypted with a key the ring does not hold",
  TOKEN_DECRYPT_FAILED: "a stored token failed decryption",
  TOKEN_ROTATION_INCOMPLETE: "key rotation left some tokens it could not decrypt",
  BACKUP_ARCHIVING_OFF: "the server does not archive WAL, so a base backup could not be restored",
  BACKUP_NOT_LOCAL: "the server's data folder cannot be read by this process",
  BACKUP_UNSUPPORTED: "the data folder holds tablespaces or links, which backup does not copy yet",
  BACKUP_NOT_FOUND: "no complete base backup matches",
  BACKUP_CORRUPT: "a base backup file differs from its checksum",
  WAL_MISSING: "the WAL archive lacks a segment a restore needs",
  BACKUP_LOCK_TIMEOUT: "long write transactions kept backup verify from marking its consistent point",
  STORAGE_SWEEP_REFUSED:
    "the storage holds none or few of the files its rows name: the sweep removed nothing",
  BACKUP_ARCHIVE_ELSEWHERE: "the server archives its WAL somewhere other than this backup folder",
  BACKUP_ARCHIVE_STALLED: "the WAL a backup or backup verify needs was not archived",
  RESTORE_TARGET_EXISTS: "the restore folder exists and is not empty",
  RESTORE_FAILED: "the restored server did not recover to the target",
  VERIFY_FAILED: "a restored backup failed a check",
  ALERT_RULES_INVALID: "the alert rules file is unreadable or invalid",
  ALERT_DELIVERY_FAILED: "the alert webhook did not accept the test alert",
  EXPORT_TARGET_EXISTS: "the export folder already exists",
  EXPORT_PRIVILEGES: "the role may not read every row of the app's tables",
  EXPORT_INVALID: "the folder is not a complete export this version can import",
  IMPORT_TARGET_NOT_EMPTY: "the database to import into already holds rows",
  IMPORT_MIGRATIONS_MISMATCH: "the database's migration state differs from the export's",
  IMPORT_MISMATCH: "imported rows or files differ from the export's manifest",
  RESTORE_UNCONFIRMED: "restore --replace was not confirmed",
  RESTORE_SERVER_IN_USE: "restore --replace found other vpb-db processes using the server",
  MIGRATION_NOT_APPLIED: "--before-migration names a migration the database has no record of",
  JOB_UNKNOWN: "no recurring job has that name",
  JOB_FAILED: "a recurring job's run failed",
  JOB_TIMEOUT: "a recurring job ran past its timeout and was cancelled",
  PG_CRON_UNAVAILABLE: "pg_cron is not installed in the database, or cannot run that schedule",
  // The data API (SDK and Auth.js adapter): mapped from SQLSTATE by fromDatabaseError below.
  NOT_FOUND: "the row does not exist or this user cannot see it",
  FORBIDDEN: "the row-level security policies refuse this user",
  QUOTA_EXCEEDED: "the plan's project quota is used up",
  STORAGE_QUOTA_EXCEEDED: "the plan's storage quota would be exceeded",
  CONFLICT: "the write conflicts with existing data",
  TRANSACTION_CONFLICT: "the transaction collided with a concurrent one and was rolled back",
  INVALID_INPUT: "an argument or a value is invalid",
  CONNECTION_LOST: "the connection to the database was lost during the call",
  COMMIT_OUTCOME_UNKNOWN: "the connection was lost while the transaction was committing",
  STATEMENT_TIMEOUT: "a statement ran longer than the statement timeout",
  SCHEMA_MISSING: "a table or function the call needs does not exist",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes of the data API: what an app branches on after an SDK or adapter call. */
export type DataErrorCode = Extract<
  ErrorCode,
  | "NOT_FOUND"
  | "FORBIDDEN"
  | "QUOTA_EXCEEDED"
  | "STORAGE_QUOTA_EXCEEDED"
  | "CONFLICT"
  | "TRANSACTION_CONFLICT"
  | "INVALID_INPUT"
  | "CONNECTION_FAILED"
  | "CONNECTION_LOST"
  | "COMMIT_OUTCOME_UNKNOWN"
  | "STATEMENT_TIMEOUT"
  | "SCHEMA_MISSING"
>;

const DATA_REMEDIES: Record<DataErrorCode, string> = {
  NOT_FOUND: "Check the id: the row may have been deleted, or this user has no access to it.",
  FORBIDDEN: "Act as a user the access matrix allows (database/policies/README.md), or as the service.",
  QUOTA_EXCEEDED: "Delete or purge projects, or move the user to a larger plan.",
  STORAGE_QUOTA_EXCEEDED: "Delete recordings, or move the user to a plan with more storage.",
  CONFLICT: "Reload the row and apply the change again (a stale version or a duplicate key).",
  TRANSACTION_CONFLICT: "Run the whole call again: it changed nothing.",
  INVALID_INPUT: "Correct the value the message names.",
  CONNECTION_FAILED:
    "Check that the database runs and the connection string is right; retry when it is back.",
  CONNECTION_LOST:
    "Run the call again: the server rolled the transaction back (a restart, failover or terminated backend).",
  COMMIT_OUTCOME_UNKNOWN:
    "Read the data back before retrying: the commit may or may not have happened (make the write idempotent).",
  STATEMENT_TIMEOUT: "Narrow the call (fewer rows, a smaller page), or raise statementTimeoutMs.",
  SCHEMA_MISSING: "Apply the migrations (`vpb-db migrate up`) to the database the app connects to.",
};

/** Codes worth running again unchanged: the call changed nothing and the cause is transient. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  "TRANSACTION_CONFLICT",
  "CONNECTION_FAILED",
  "CONNECTION_LOST",
]);

export interface PgErrorFields {
  /** SQLSTATE, e.g. 42P01 */
  code?: string;
  detail?: string;
  hint?: string;
  where?: string;
  /** The constraint that refused a write. */
  constraint?: string;
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

  /** True when the same call, run again unchanged, may succeed. */
  get retryable(): boolean {
    return false;
  }
}

/** A VpbError worth retrying as it is: the call changed nothing and its cause is transient. */
export class RetryableError extends VpbError {
  override get retryable(): boolean {
    return true;
  }
}

export function isVpbError(e: unknown, code?: ErrorCode): e is VpbError {
  return e instanceof VpbError && (code === undefined || e.code === code);
}

/** An error of the data API, with its code's standard remedy. */
export function dataError(
  code: DataErrorCode,
  message: string,
  options?: { cause?: unknown; pg?: PgErrorFields },
): VpbError {
  const Class = RETRYABLE.has(code) ? RetryableError : VpbError;
  return new Class(code, message, DATA_REMEDIES[code], options ?? {});
}

/** The Postgres fields of a `pg` DatabaseError, without its message's parameters. */
export function pgFields(e: unknown): PgErrorFields | undefined {
  if (typeof e !== "object" || e === null || !("code" in e) || typeof e.code !== "string") return undefined;
  const fields: PgErrorFields = { code: e.code };
  const rec = e as Record<string, unknown>;
  for (const key of ["detail", "hint", "where", "constraint"] as const) {
    if (typeof rec[key] === "string") fields[key] = rec[key];
  }
  return fields;
}

/**
 * SQLSTATEs the data API turns into codes, most specific first: an exact state (with the detail the
 * schema's own functions set), or a two-character class.
 */
const SQLSTATE_CODES: ReadonlyArray<{ state: string; detail?: string; code: DataErrorCode; what: string }> = [
  { state: "42501", code: "FORBIDDEN", what: "not allowed for this user" },
  { state: "P0002", code: "NOT_FOUND", what: "not found" },
  {
    state: "P0001",
    detail: "quota_exceeded",
    code: "QUOTA_EXCEEDED",
    what: "the plan's project quota is used up",
  },
  {
    state: "P0001",
    detail: "storage_quota_exceeded",
    code: "STORAGE_QUOTA_EXCEEDED",
    what: "the file does not fit in the plan's storage quota",
  },
  { state: "23503", code: "NOT_FOUND", what: "a referenced row does not exist" },
  { state: "23505", code: "CONFLICT", what: "conflicts with existing data" },
  { state: "40001", code: "TRANSACTION_CONFLICT", what: "collided with a concurrent transaction" },
  { state: "40P01", code: "TRANSACTION_CONFLICT", what: "deadlocked with a concurrent transaction" },
  { state: "57014", code: "STATEMENT_TIMEOUT", what: "a statement ran past the statement timeout" },
  { state: "57P01", code: "CONNECTION_LOST", what: "the server terminated the connection" },
  { state: "57P02", code: "CONNECTION_LOST", what: "the server crashed" },
  { state: "57P03", code: "CONNECTION_FAILED", what: "the server is starting or stopping" },
  { state: "08", code: "CONNECTION_LOST", what: "the connection failed" },
  { state: "42P01", code: "SCHEMA_MISSING", what: "a table does not exist" },
  // The SDK calls only the schema's own functions by their exact signatures: a missing one means an
  // unmigrated (or older) database.
  { state: "42883", code: "SCHEMA_MISSING", what: "a function does not exist" },
  { state: "3F000", code: "SCHEMA_MISSING", what: "a schema does not exist" },
  { state: "22", code: "INVALID_INPUT", what: "invalid input" },
  { state: "23", code: "INVALID_INPUT", what: "invalid input" },
];

/**
 * Maps a database error raised during `operation` to a VpbError; anything else is returned as it is.
 * PostgreSQL's own message and detail are not kept: they can quote the offending value
 * (`invalid input syntax for type uuid: "..."`, `Key (email)=(...)`).
 */
export function fromDatabaseError(operation: string, e: unknown): unknown {
  if (e instanceof VpbError || typeof e !== "object" || e === null) return e;
  const {
    code: sqlstate,
    constraint,
    detail,
  } = e as { code?: unknown; constraint?: string; detail?: string };
  if (typeof sqlstate !== "string") return e;
  const match = SQLSTATE_CODES.find(
    (m) =>
      (m.state === sqlstate || (m.state.length === 2 && sqlstate.startsWith(m.state))) &&
      (m.detail === undefined || m.detail === detail),
  );
  if (!match) return e;
  const rule = constraint ? `constraint ${constraint}` : `SQLSTATE ${sqlstate}`;
  return dataError(match.code, `${operation}: ${match.what} (${rule})`, {
    cause: e,
    pg: { code: sqlstate, ...(constraint ? { constraint } : {}) },
  });
}
