/**
 * Splits a SQL script into statements the way psql does: on top-level semicolons, skipping those inside
 * quotes, dollar quotes, comments and SQL-standard function bodies (BEGIN ATOMIC ... END).
 * Running statements one at a time tells exactly which one failed, and where.
 */
export interface Statement {
  /** The statement text, without its terminating semicolon. */
  text: string;
  /** Offset of the statement's first non-blank character in the script, in UTF-16 code units. */
  offset: number;
}

const IDENT_CHAR = /[A-Za-z0-9_$]/;
const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

export function splitStatements(sql: string): Statement[] {
  const statements: Statement[] = [];
  let start = 0;
  let i = 0;
  // Words of the current statement at top level, to find BEGIN ATOMIC and its matching END.
  let prevWord = "";
  let atomicDepth = 0;

  const push = (end: number) => {
    const raw = sql.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const text = raw.trim();
    if (text !== "" && !isOnlyComments(text)) statements.push({ text, offset: start + lead });
  };

  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl === -1 ? sql.length : nl + 1;
    } else if (c === "/" && next === "*") {
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === "'") {
      // E'...' strings allow backslash escapes; standard strings only double the quote.
      const escapes = i > 0 && /[eE]/.test(sql[i - 1] as string) && !IDENT_CHAR.test(sql[i - 2] ?? " ");
      i++;
      while (i < sql.length) {
        if (escapes && sql[i] === "\\") i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i++;
    } else if (c === '"') {
      const close = sql.indexOf('"', i + 1);
      i = close === -1 ? sql.length : close + 1;
      // A doubled quote inside an identifier just restarts the scan at the next quote.
    } else if (c === "$" && !IDENT_CHAR.test(sql[i - 1] ?? " ")) {
      const m = DOLLAR_TAG.exec(sql.slice(i, i + 64));
      if (m) {
        const tag = m[0];
        const close = sql.indexOf(tag, i + tag.length);
        i = close === -1 ? sql.length : close + tag.length;
      } else i++;
    } else if (/[A-Za-z_]/.test(c) && !IDENT_CHAR.test(sql[i - 1] ?? " ")) {
      let j = i + 1;
      while (j < sql.length && IDENT_CHAR.test(sql[j] as string)) j++;
      const word = sql.slice(i, j).toUpperCase();
      if (prevWord === "BEGIN" && word === "ATOMIC") atomicDepth = 1;
      else if (atomicDepth > 0 && word === "CASE") atomicDepth++;
      else if (atomicDepth > 0 && word === "END") atomicDepth--;
      prevWord = word;
      i = j;
    } else if (c === ";" && atomicDepth === 0) {
      push(i);
      start = i + 1;
      prevWord = "";
      i++;
    } else {
      i++;
    }
  }
  push(sql.length);
  return statements;
}

function isOnlyComments(text: string): boolean {
  return (
    text
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/--[^\n]*/g, "")
      .trim() === ""
  );
}

/** 1-based line and column of a 0-based offset. */
export function lineColumn(sql: string, offset: number): { line: number; column: number } {
  const before = sql.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return { line, column };
}
