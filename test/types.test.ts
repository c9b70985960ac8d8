import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
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
    // --listFiles proves tsc really ran over the file; a tsc that cannot start, or dies, must fail here
    // too, not pass for printing no errors.
    const r = spawnSync(process.execPath, [tsc, "-p", "test/types/tsconfig.json", "--listFiles"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(r.error, undefined, `tsc could not be launched: ${r.error?.message}`);
    assert.deepEqual(
      r.stdout.split("\n").filter((line) => /error TS\d+/.test(line)),
      [],
      "tsc reported errors (an unused @ts-expect-error means a misuse compiled)",
    );
    assert.equal(r.status, 0, `tsc exited with ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`);
    const checked = r.stdout.split("\n").map((f) => path.resolve(ROOT, f.trim()));
    for (const file of ["test/types/supabase-client.ts", TYPES_FILE]) {
      assert.ok(checked.includes(path.join(ROOT, file)), `tsc did not check ${file}`);
    }
  },
);
