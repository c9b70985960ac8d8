import { dataError } from "../errors.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Input checks at the edge, before any query: the value is never echoed, only the field's name. */
export function uuid(operation: string, field: string, value: unknown): string {
  if (typeof value !== "string" || !UUID.test(value))
    throw dataError("INVALID_INPUT", `${operation}: ${field} must be a UUID`);
  return value;
}

export function text(operation: string, field: string, value: unknown, max: number, min = 1): string {
  if (
    typeof value !== "string" ||
    !value.isWellFormed() ||
    value.length < min ||
    value.length > max ||
    (min > 0 && value.trim() === "")
  ) {
    throw dataError(
      "INVALID_INPUT",
      `${operation}: ${field} must be well-formed text of ${min} to ${max} characters`,
    );
  }
  return value;
}

/** Optional text: undefined and null pass as null. */
export function optionalText(operation: string, field: string, value: unknown, max: number): string | null {
  return value == null ? null : text(operation, field, value, max, 0);
}

/**
 * A finite number (the schema's CHECKs bound its range): 1e309 is Infinity in JavaScript, which
 * JSON would send as null and the column's default would then replace.
 */
export function finite(operation: string, field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw dataError("INVALID_INPUT", `${operation}: ${field} must be a finite number`);
  }
  return value;
}

export function int(operation: string, field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw dataError("INVALID_INPUT", `${operation}: ${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * Bounds of a JSON value the SDK sends: deeper nesting overflows JSON.stringify's stack (a RangeError
 * near 4,500 levels) and no canvas needs it; the node count keeps the walk cheap (the schema bounds
 * each column's size in bytes).
 */
export const JSON_MAX_DEPTH = 64;
export const JSON_MAX_NODES = 100_000;

export function object(operation: string, field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw dataError("INVALID_INPUT", `${operation}: ${field} must be a JSON object`);
  }
  json(operation, field, value);
  return value as Record<string, unknown>;
}

/**
 * Refuses what JSON.stringify would throw on or silently change: non-finite numbers (sent as null),
 * lone surrogates in strings or keys (stored as U+FFFD), bigints, and nesting past JSON_MAX_DEPTH
 * (which also catches cycles). Iterative, so the check itself cannot overflow the stack.
 */
export function json(operation: string, field: string, value: unknown): void {
  const fail = (what: string): never => {
    throw dataError("INVALID_INPUT", `${operation}: ${field} ${what}`);
  };
  const stack: Array<[unknown, number]> = [[value, 0]];
  let nodes = 0;
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (++nodes > JSON_MAX_NODES) fail(`has more than ${JSON_MAX_NODES} JSON values`);
    switch (typeof item) {
      case "string":
        if (!item.isWellFormed()) fail("contains text with a lone UTF-16 surrogate");
        break;
      case "number":
        if (!Number.isFinite(item)) fail("contains a number that is not finite (NaN or Infinity)");
        break;
      case "bigint":
        fail("contains a bigint, which JSON cannot hold");
        break;
      case "object": {
        if (item === null) break;
        if (depth >= JSON_MAX_DEPTH) fail(`is nested deeper than ${JSON_MAX_DEPTH} levels`);
        if (Array.isArray(item)) {
          for (const element of item) stack.push([element, depth + 1]);
        } else {
          for (const [key, element] of Object.entries(item)) {
            if (!key.isWellFormed()) fail("contains a key with a lone UTF-16 surrogate");
            stack.push([element, depth + 1]);
          }
        }
        break;
      }
      default:
        // undefined, functions and symbols are left out by JSON, as everywhere in JavaScript.
        break;
    }
  }
}

export function oneOf<T extends string>(
  operation: string,
  field: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw dataError("INVALID_INPUT", `${operation}: ${field} must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}

export function limit(operation: string, value: unknown): number {
  return value === undefined ? 20 : int(operation, "limit", value, 1, 200);
}
