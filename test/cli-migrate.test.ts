import assert from "node:assert/strict";
import { appendFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { runCli } from "./support/cli.ts";
import { fixtureProject } from "./support/fixtures.ts";
import { createDatabase } from "./support/harness.ts";

test("the migrate CLI: status exits 3 when pending and 4 on drift, plan prints the SQL, errors read file:line", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_people": { up: "create table people (id int primary key);\n", down: "drop table people;\n" },
    "002_pets": {
      up: "create table pets (id int primary key,\n  owner int references nobody);\n",
      down: "drop table pets;\n",
    },
  });
  const env = {
    DATABASE_URL: db.url,
    VPB_MIGRATIONS_DIR: p.migrationsDir,
    VPB_ROLLBACKS_DIR: p.rollbacksDir,
  };

  const up = await runCli(["migrate", "up", "--to", "001"], env);
  assert.equal(up.code, 0, up.stderr);
  const pending = await runCli(["migrate", "status", "--json"], env);
  assert.equal(pending.code, 3);
  assert.deepEqual(
    JSON.parse(pending.stdout).pending.map((m: { name: string }) => m.name),
    ["002_pets"],
  );

  const plan = await runCli(["migrate", "plan"], env);
  assert.equal(plan.code, 0);
  assert.match(
    plan.stdout,
    /^-- .*002_pets\.sql \(in one transaction, sha256 [0-9a-f]{12}\)\ncreate table pets/m,
  );

  const failed = await runCli(["migrate", "up"], env);
  assert.equal(failed.code, 1);
  assert.match(
    failed.stderr,
    /error \[MIGRATION_FAILED\]: .*002_pets\.sql:1:1: relation "nobody" does not exist/,
  );
  assert.match(failed.stderr, /remedy: /);

  await appendFile(path.join(p.migrationsDir, "001_people.sql"), "-- edited\n");
  const drift = await runCli(["migrate", "status"], env);
  assert.equal(drift.code, 4);
  assert.match(drift.stdout, /MIGRATION_CHECKSUM_MISMATCH/);

  // Stopped before any migration ran: only the error is reported, no "applied: 0 of 0" first.
  await writeFile(path.join(p.migrationsDir, "3_bad name.sql"), "select 1;\n");
  const early = await runCli(["migrate", "up"], env);
  assert.equal(early.code, 1);
  assert.match(early.stderr, /error \[MIGRATION_NAME_INVALID\]/);
  assert.equal(early.stdout, "", "nothing on stdout");
});
