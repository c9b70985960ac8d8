import { type ErrorCode, pgFields, VpbError } from "../errors.ts";
import type { Script } from "./migration-files.ts";
import { lineColumn, positionInScript, type Statement } from "./sql-splitter.ts";

/**
 * Turns a failed statement into an error that reads `file:line:column: message`, followed by the
 * lines around it with a caret under the failing token, then the Postgres code, detail and hint.
 */
export function statementError(
  code: ErrorCode,
  script: Script,
  stmt: Pick<Statement, "offset" | "text">,
  cause: unknown,
  remedy?: string,
): VpbError {
  const rec = (typeof cause === "object" && cause !== null ? cause : {}) as Record<string, unknown>;
  const position = Number(rec.position);
  // Postgres counts the position in characters from 1 within the statement it was sent.
  const offset = Number.isInteger(position) && position > 0 ? positionInScript(stmt, position) : stmt.offset;
  const { line, column } = lineColumn(script.sql, offset);
  const fields = pgFields(cause);
  const message = cause instanceof Error ? cause.message : String(cause);
  const lines = [`${script.file}:${line}:${column}: ${message}`, context(script.sql, line, column)];
  if (fields?.code) lines.push(`  code:   ${fields.code}`);
  if (fields?.detail) lines.push(`  detail: ${fields.detail}`);
  if (fields?.hint) lines.push(`  hint:   ${fields.hint}`);
  if (fields?.where) lines.push(`  where:  ${fields.where.split("\n")[0]}`);
  const fallback =
    code === "ROLLBACK_FAILED"
      ? "Fix the rollback script; the migration is still applied and nothing was changed."
      : "Fix the statement above; the transaction was rolled back, so nothing of this migration remains.";
  return new VpbError(code, lines.join("\n"), remedy ?? fallback, { cause });
}

function context(sql: string, line: number, column: number): string {
  const all = sql.split("\n");
  const from = Math.max(1, line - 2);
  const to = Math.min(all.length, line + 2);
  const width = String(to).length;
  const out: string[] = [];
  for (let n = from; n <= to; n++) {
    out.push(`  ${String(n).padStart(width)} | ${all[n - 1] ?? ""}`);
    if (n === line) out.push(`  ${" ".repeat(width)} | ${" ".repeat(Math.max(0, column - 1))}^`);
  }
  return out.join("\n");
}
