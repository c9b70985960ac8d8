import assert from "node:assert/strict";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { runCli } from "./support/cli.ts";
import { client, createDatabase } from "./support/harness.ts";

/** An app folder outside the repository, with its own migrations and rollbacks. */
async function appFolder(files: Record<string, { up: string; down: string }>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vpb-app-"));
  await mkdir(path.join(dir, "db", "migrations"), { recursive: true });
  await mkdir(path.join(dir, "db", "rollbacks"), { recursive: true });
  for (const [name, { up, down }] of Object.entries(files)) {
    await writeFile(path.join(dir, "db", "migrations", `${name}.sql`), up);
    await writeFile(path.join(dir, "db", "rollbacks", `${name}.down.sql`), down);
  }
  return dir;
}

test("vpb-db's own migrations are the default wherever it runs; an app's come after, in their own namespace", async () => {
  const db = await createDatabase("empty");
  const app = await appFolder({
    // Numbered 001 like ours: its own namespace, so no collision; it may use our tables.
    "001_project_tags": {
      up: "create table public.project_tags (project_id uuid references public.projects (id), tag text);\n",
      down: "drop table public.project_tags;\n",
    },
  });
  // From the app folder, with no VPB_MIGRATIONS_DIR: the package's migrations, not ./database/migrations.
  const env = { DATABASE_URL: db.url, VPB_APP_MIGRATIONS_DIR: path.join(app, "db", "migrations") };
  const status = await runCli(["migrate", "status", "--json"], env, app);
  assert.equal(status.code, 3, status.stderr);
  const pending = JSON.parse(status.stdout).pending.map((m: { name: string }) => m.name);
  assert.equal(pending[0], "001_auth_tables");
  assert.equal(pending.at(-1), "app/001_project_tags", "the app's migrations come after ours");
  const up = await runCli(["migrate", "up"], env, app);
  assert.equal(up.code, 0, up.stderr);
  const c = await client(db.url);
  const { rows } = await c.query<{ name: string }>("select name from vpb_migrate.migrations order by name");
  assert.ok(rows.some((r) => r.name === "001_auth_tables"));
  assert.ok(rows.some((r) => r.name === "app/001_project_tags"));
  assert.equal(
    (await c.query("select to_regclass('public.project_tags') is not null as ok")).rows[0].ok,
    true,
  );
  // A rollback takes the app's migration back first.
  const down = await runCli(["migrate", "down"], env, app);
  assert.equal(down.code, 0, down.stderr);
  assert.equal((await c.query("select to_regclass('public.project_tags') is null as ok")).rows[0].ok, true);
  assert.equal((await runCli(["migrate", "status"], env, app)).code, 3);
});

test("a migrations folder that is given and missing is CONFIG_INVALID, and nothing is applied", async () => {
  const db = await createDatabase("empty");
  const app = await appFolder({});
  for (const env of [
    { DATABASE_URL: db.url, VPB_APP_MIGRATIONS_DIR: path.join(app, "no-such-folder") },
    { DATABASE_URL: db.url, VPB_MIGRATIONS_DIR: path.join(app, "nor-this") },
  ]) {
    const up = await runCli(["migrate", "up"], env, app);
    assert.equal(up.code, 1, up.stdout);
    assert.match(up.stderr, /error \[CONFIG_INVALID\]: The migrations folder .* does not exist/);
  }
  const c = await client(db.url);
  assert.equal((await c.query("select to_regnamespace('vpb_migrate') is null as none")).rows[0].none, true);
});
