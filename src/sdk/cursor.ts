import { dataError } from "../errors.ts";
import type { KeysetQuery } from "./queries.ts";

/**
 * Keyset cursors: the sort key of the last row of a page, opaque to the caller. The timestamp is
 * kept as PostgreSQL's text (microseconds), which a JavaScript Date would round to milliseconds.
 */
export interface Keyset {
  at: string;
  id: string;
}

export function encodeCursor(k: Keyset): string {
  return Buffer.from(JSON.stringify([k.at, k.id]), "utf8").toString("base64url");
}

export function decodeCursor(operation: string, cursor: string | undefined): Keyset | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [unknown, unknown];
    if (typeof at === "string" && typeof id === "string" && at.length < 64 && /^[0-9a-f-]{36}$/.test(id))
      return { at, id };
  } catch {
    // fall through to the error below
  }
  throw dataError("INVALID_INPUT", `${operation}: cursor is not one this API returned`);
}

export interface Page<T> {
  items: T[];
  /** Pass it back to get the next page; undefined on the last page. */
  nextCursor: string | undefined;
}

/** Builds a page from limit + 1 rows: the extra row only says that there is a next page. */
export function page<T extends { cursor_at: string; id: string }>(
  rows: T[],
  limit: number,
): Page<Omit<T, "cursor_at">> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items: items.map(({ cursor_at: _, ...rest }) => rest),
    nextCursor: rows.length > limit && last ? encodeCursor({ at: last.cursor_at, id: last.id }) : undefined,
  };
}

/** The text and values of a keyset page: the first page, or the one after `after`; one row more than `limit`. */
export function keysetArgs(
  query: KeysetQuery,
  filter: string,
  after: Keyset | undefined,
  limit: number,
): [string, unknown[]] {
  return after ? [query.next, [filter, after.at, after.id, limit + 1]] : [query.first, [filter, limit + 1]];
}
