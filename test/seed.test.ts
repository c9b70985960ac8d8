import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import pg from "pg";
import { POWER_USER, seed } from "../src/dev/seed.ts";
import { runCli } from "./support/cli.ts";
import { client, createDatabase, ROOT } from "./support/harness.ts";

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

test("regression: a seed killed with SIGKILL part-way is finished by the next run, as a clean seed would be", async () => {
  const db = await createDatabase();
  const env = { DATABASE_URL: db.url };
  const child = spawn(
    process.execPath,
    [path.join(ROOT, "dist/src/cli/main.js"), "seed", "--scale", "0.01"],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
    },
  );
  let stderr = "";
  const exited = new Promise((resolve) => child.on("close", resolve));
  // Killed once some units are done and others are not (the components are loading after this line).
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
      if (/power user's projects:/.test(stderr)) resolve();
    });
    child.once("close", () => reject(new Error(`seed ended before it could be killed:\n${stderr}`)));
  });
  child.kill("SIGKILL");
  await exited;
  const c = await client(db.url);
  const { rows } = await c.query("select count(*)::int as n from vpb_seed.units");
  assert.ok(rows[0].n > 0, "some units were done");
  assert.equal((await c.query("select finished_at from vpb_seed.run")).rows[0].finished_at, null);

  const again = await runCli(["seed", "--scale", "0.01"], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /resuming the seed at scale 0.01/);
  const clean = await seeded(0.01);
  for (const [table, columns] of [
    ["users", "id, email, plan"],
    ["projects", "id, owner_id, name, layout, deleted_at is null"],
    ["project_components", "id, project_id, parent_id, type, content"],
    ["user_activity", "id, user_id, project_id, action"],
  ] as const) {
    assert.equal(await digest(c, table, columns), await digest(clean.c, table, columns), table);
  }
  const twice = await runCli(["seed", "--scale", "0.01", "--force"], env);
  assert.equal(twice.code, 2, "a finished seed is not run again, even with --force");
  assert.match(twice.stderr, /already seeded at scale 0.01/);
});

test("a small scale makes small data: the power user's projects shrink with it", async () => {
  const { counts, c } = await seeded(0.001);
  const { rows } = await c.query("select count(*)::int as n from projects where owner_id = $1", [POWER_USER]);
  assert.equal(rows[0].n, 101, "100 projects and the big canvas");
  assert.equal(counts.projects, 10 * 10 + 101);
});
