import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { seed } from "../src/dev/seed.ts";
import { client, createDatabase } from "./support/harness.ts";

async function seeded(scale: number) {
  const db = await createDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const counts = await seed(pool, { scale });
  await pool.end();
  return { counts, c: await client(db.url) };
}

/** A digest of a table's content that ignores timestamps relative to now(). */
const digest = (c: pg.Client, table: string, columns: string) =>
  c
    .query(`select md5(string_agg(concat_ws('|', ${columns}), ',' order by id)) as d from ${table}`)
    .then((r) => r.rows[0].d as string);

test("the seed is reproducible: the same scale gives the same data", async () => {
  const a = await seeded(0.001);
  const b = await seeded(0.001);
  assert.deepEqual(a.counts, b.counts);
  for (const [table, columns] of [
    ["users", "id, email, plan"],
    ["projects", "id, owner_id, name, layout, deleted_at is null"],
    ["project_components", "id, project_id, parent_id, type, content"],
    ["collaborators", "id, project_id, user_id, role"],
    ["user_activity", "id, user_id, project_id, action"],
  ] as const) {
    assert.equal(await digest(a.c, table, columns), await digest(b.c, table, columns), table);
  }
  const { rows } = await a.c.query(
    "select (select count(*)::int from users) as users, (select count(*)::int from project_components where parent_id is not null) as nested",
  );
  assert.equal(rows[0].users, a.counts.users);
  assert.ok(rows[0].nested > 0, "components are nested");
  // The seed loads with triggers off, so it must set what the triggers would (owner_id, 007).
  for (const table of ["project_components", "audio_recordings", "prompt_generations"]) {
    const { rows: wrong } = await a.c.query(
      `select count(*)::int as n, count(*) filter (where t.owner_id is distinct from p.owner_id)::int as wrong
         from ${table} t join projects p on p.id = t.project_id`,
    );
    assert.ok(wrong[0].n > 0, `${table} has rows`);
    assert.equal(wrong[0].wrong, 0, `${table}: owner_id is the project's owner`);
  }
});
