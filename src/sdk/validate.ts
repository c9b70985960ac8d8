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
    value.length < min ||
    value.length > max ||
    (min > 0 && value.trim() === "")
  ) {
    throw dataError("INVALID_INPUT", `${operation}: ${field} must be text of ${min} to ${max} characters`);
  }
  return value;
}

export function int(operation: string, field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw dataError("INVALID_INPUT", `${operation}: ${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function object(operation: string, field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw dataError("INVALID_INPUT", `${operation}: ${field} must be a JSON object`);
  }
  return value as Record<string, unknown>;
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
