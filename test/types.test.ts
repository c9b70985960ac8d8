import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { generateTypes, TYPES_FILE } from "../src/schema/typegen.ts";
import { createDatabase, MAJOR, ROOT } from "./support/harness.ts";

const once = { skip: MAJOR !== 17 ? "the committed types are PostgreSQL 17's" : false };

test("regenerating the types on a fresh database gives the committed file byte for byte", once, async () => {
  const db = await createDatabase();
  const fresh = await generateTypes(db.url);
  const committed = await readFile(path.join(ROOT, TYPES_FILE), "utf8");
  assert.ok(fresh === committed, `${TYPES_FILE} is stale: run \`vpb-db gen types\``);
  assert.match(fresh, /export type Database = \{/);
  assert.doesNotMatch(fresh, /_p20\d{4}|_default:/, "partitions are left out");
});

test(
  "supabase-js code over the generated types compiles, and every deliberate misuse is rejected",
  once,
  async () => {
    const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
    const { stdout } = await promisify(execFile)(process.execPath, [tsc, "-p", "test/types/tsconfig.json"], {
      cwd: ROOT,
    }).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
    assert.equal(
      stdout.trim(),
      "",
      "tsc reported errors (an unused @ts-expect-error means a misuse compiled)",
    );
  },
);
