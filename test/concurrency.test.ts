import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "./support/cli.ts";
import { fixtureProject } from "./support/fixtures.ts";
import { client, createDatabase } from "./support/harness.ts";

test("5 concurrent `migrate up` processes apply each migration exactly once", async () => {
  const db = await createDatabase("empty");
  const migrations: Record<string, { up: string; down: string }> = {};
  for (let i = 1; i <= 6; i++) {
    const n = String(i).padStart(3, "0");
    // pg_sleep widens the window in which a second run could slip in if the lock did not hold.
    migrations[`${n}_step`] = {
      up: `create table step_${n} (id int); select pg_sleep(0.05);`,
      down: `drop table step_${n};`,
    };
  }
  const p = await fixtureProject(db.url, migrations);
  const env = {
    DATABASE_URL: db.url,
    VPB_MIGRATIONS_DIR: p.migrationsDir,
    VPB_ROLLBACKS_DIR: p.rollbacksDir,
  };
  const runs = await Promise.all(Array.from({ length: 5 }, () => runCli(["migrate", "up", "--json"], env)));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const appliedPerRun = runs.map((r) => (JSON.parse(r.stdout) as { results: unknown[] }).results.length);
  assert.equal(
    appliedPerRun.reduce((a, b) => a + b, 0),
    6,
    `each migration applied by exactly one run: ${appliedPerRun}`,
  );
  const c = await client(db.url);
  const events = await c.query<{ name: string; n: number }>(
    "select name, count(*)::int as n from vpb_migrate.events where kind = 'applied' group by name order by name",
  );
  assert.deepEqual(
    events.rows.map((r) => [r.name, r.n]),
    Object.keys(migrations).map((name) => [name, 1]),
  );
});
