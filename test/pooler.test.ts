import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { migrateUp, migrationStatus } from "../src/migrations/migrator.ts";
import { fixtureProject } from "./support/fixtures.ts";
import { createDatabase } from "./support/harness.ts";
import { PGBOUNCER, startPgBouncer } from "./support/pgbouncer.ts";

const ONE = { "001_people": { up: "create table people (id int primary key);", down: "drop table people;" } };
// CI installs PgBouncer (.ci/run), so there a missing one fails instead of skipping.
const needsBouncer = {
  skip:
    existsSync(PGBOUNCER) || process.env.CI
      ? false
      : `${PGBOUNCER} is not installed (apt-get install pgbouncer)`,
};

test("migrations refuse a transaction-mode pooler, and change nothing", needsBouncer, async () => {
  const db = await createDatabase("empty");
  const bouncer = await startPgBouncer(db.url, "transaction");
  try {
    const p = await fixtureProject(bouncer.url(db.name), ONE);
    const r = await migrateUp(p.options);
    assert.equal(r.error?.code, "POOLER_DETECTED");
    assert.match(r.error?.remedy ?? "", /session-mode pooler/);
    const direct = await fixtureProject(db.url, ONE);
    assert.equal((await migrationStatus(direct.options)).applied.length, 0);
  } finally {
    await bouncer.stop();
  }
});

test("a session-mode pooler is accepted", needsBouncer, async () => {
  const db = await createDatabase("empty");
  const bouncer = await startPgBouncer(db.url, "session");
  try {
    const p = await fixtureProject(bouncer.url(db.name), ONE);
    const r = await migrateUp(p.options);
    assert.equal(r.error, undefined);
    assert.equal(r.results.length, 1);
  } finally {
    await bouncer.stop();
  }
});

test("Supabase's transaction pooler port 6543 is refused before connecting", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url.replace(/:\d+\//, ":6543/"), ONE);
  const r = await migrateUp(p.options);
  // Nothing listens on 6543 here: a connection attempt would fail with CONNECTION_FAILED instead.
  assert.equal(r.error?.code, "POOLER_DETECTED");
});
