import { existsSync } from "node:fs";
import path from "node:path";

/**
 * The folder holding vpb-db's package.json and database/: found by walking up from this file, so it
 * is the same whether the code runs from src/ (tests) or dist/src/ (the built CLI).
 */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "database"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`vpb-db's package root was not found above ${from}`);
  }
}

export const PACKAGE_ROOT = findRoot(import.meta.dirname);
