import { loadModule, parseSync } from "libpg-query";

/**
 * Splits a SQL script into statements with PostgreSQL's own parser (libpg_query, as WebAssembly), so
 * that quoting, dollar quotes, comments and BEGIN ATOMIC bodies are read exactly as the server reads
 * them, and each statement comes with its parse-tree node type (`TransactionStmt`, `CreatePolicyStmt`…).
 * Running statements one at a time tells exactly which one failed, and where.
 */
export interface Statement {
  /** The statement text, without its terminating semicolon or the comments before it. */
  text: string;
  /** Offset of the statement's first character in the script, in UTF-16 code units. */
  offset: number;
  /** The parse-tree node type, e.g. `CreateStmt`, `TransactionStmt`. */
  kind: string;
  /** The node's fields as the parser gives them. */
  node: Record<string, unknown>;
}

/** The script is not valid SQL; `offset` (UTF-16, in the script) is where the parser stopped. */
export class SqlSyntaxError extends Error {
  /** The SQLSTATE the server gives a syntax error, so that messages show the same code. */
  readonly code = "42601";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = "SqlSyntaxError";
  }
}

let loaded: Promise<void> | undefined;

/** Loads the parser's WebAssembly module once per process; every caller awaits the same load. */
export function parserReady(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

/** UTF-16 offset of the `n`th code point of `s` (the parser counts code points in its errors). */
function codePointsToUtf16(s: string, n: number): number {
  let units = 0;
  let points = 0;
  for (const ch of s) {
    if (points >= n) break;
    units += ch.length;
    points++;
  }
  return units;
}

export async function splitStatements(sql: string): Promise<Statement[]> {
  await parserReady();
  if (sql.trim() === "") return [];
  let tree: ReturnType<typeof parseSync>;
  try {
    tree = parseSync(sql);
  } catch (e) {
    const details = (e as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
    const at = codePointsToUtf16(sql, details?.cursorPosition ?? 0);
    const message = details?.message ?? (e instanceof Error ? e.message : String(e));
    throw new SqlSyntaxError(message, at);
  }
  // The parser reports byte offsets into the UTF-8 text: convert them to string offsets.
  const bytes = Buffer.from(sql, "utf8");
  const statements: Statement[] = [];
  for (const raw of tree.stmts ?? []) {
    const start = raw.stmt_location ?? 0;
    // A length of 0 (absent) means "to the end of the script".
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    const text = bytes.subarray(start, end).toString("utf8").trimEnd();
    const offset = bytes.subarray(0, start).toString("utf8").length;
    const [kind, node] = Object.entries(raw.stmt ?? {})[0] ?? ["Unknown", {}];
    statements.push({ text, offset, kind, node: (node ?? {}) as Record<string, unknown> });
  }
  return statements;
}

/** 1-based line and column of a 0-based offset. */
export function lineColumn(sql: string, offset: number): { line: number; column: number } {
  const before = sql.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return { line, column };
}

/** The script offset of Postgres's 1-based error `position` (counted in characters) in a statement. */
export function positionInScript(stmt: Pick<Statement, "offset" | "text">, position: number): number {
  return stmt.offset + codePointsToUtf16(stmt.text, position - 1);
}
