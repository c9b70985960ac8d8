/**
 * The SDK's errors: a stable `code` the app branches on, a message that names the operation and
 * the rule (a constraint name, an SQLSTATE), and never a parameter value or a secret.
 */
export type SdkErrorCode = "not_found" | "forbidden" | "quota_exceeded" | "conflict" | "invalid_input";

export class SdkError extends Error {
  readonly code: SdkErrorCode;
  /** The PostgreSQL SQLSTATE behind it, when there is one. */
  readonly sqlstate: string | undefined;
  /** The constraint that refused the write, when there is one. */
  readonly constraint: string | undefined;

  constructor(
    code: SdkErrorCode,
    message: string,
    extra: { sqlstate?: string; constraint?: string; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "SdkError";
    this.code = code;
    this.sqlstate = extra.sqlstate;
    this.constraint = extra.constraint;
  }
}

export function isSdkError(e: unknown, code?: SdkErrorCode): e is SdkError {
  return e instanceof SdkError && (code === undefined || e.code === code);
}

/**
 * Maps a database error to an SdkError. PostgreSQL's own message is not reused: it can quote the
 * offending value (`invalid input syntax for type uuid: "..."`, `Key (email)=(...)`).
 */
export function fromDatabaseError(operation: string, e: unknown): unknown {
  if (typeof e !== "object" || e === null || typeof (e as { code?: unknown }).code !== "string") return e;
  const { code: sqlstate, constraint, detail } = e as { code: string; constraint?: string; detail?: string };
  const extra = { sqlstate, cause: e, ...(constraint ? { constraint } : {}) };
  const rule = constraint ? `constraint ${constraint}` : `SQLSTATE ${sqlstate}`;
  if (sqlstate === "42501")
    return new SdkError("forbidden", `${operation}: not allowed for this user (${rule})`, extra);
  if (sqlstate === "P0002") return new SdkError("not_found", `${operation}: not found`, extra);
  if (sqlstate === "P0001" && detail === "quota_exceeded") {
    return new SdkError("quota_exceeded", `${operation}: the plan's project quota is used up`, extra);
  }
  if (sqlstate === "23505" || sqlstate === "40001" || sqlstate === "40P01") {
    return new SdkError("conflict", `${operation}: conflicts with existing data (${rule})`, extra);
  }
  if (sqlstate === "23503")
    return new SdkError("not_found", `${operation}: a referenced row does not exist (${rule})`, extra);
  if (sqlstate.startsWith("22") || sqlstate.startsWith("23")) {
    return new SdkError("invalid_input", `${operation}: invalid input (${rule})`, extra);
  }
  return e;
}
