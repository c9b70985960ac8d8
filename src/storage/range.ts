import type { ByteRange } from "./drivers/driver.ts";

/**
 * One `bytes=` range of an object of `size` bytes: `a-b`, `a-` or `-n` (the last n). Undefined means
 * "send the whole object" (no header, or one we do not serve, such as several ranges: a full 200 is
 * a correct answer to those); "unsatisfiable" means 416.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const last = Number(m[2]);
    if (last === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - last), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}
