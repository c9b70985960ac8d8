import assert from "node:assert/strict";
import { before, test } from "node:test";
import type pg from "pg";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { asActor } from "./support/actors.ts";
import { client, createDatabase } from "./support/harness.ts";
import { audioPath, component, insert, project, refusal, user } from "./support/rows.ts";

// Components, audio and prompts carry their project's owner (007) so that RLS needs no lookup of the
// project: these tests hold the triggers that keep it true to what they promise.

let c: pg.Client;
let owner: string;
let editor: string;
let stranger: string;
let projectId: string;

before(async () => {
  c = await client((await createDatabase()).url);
  owner = (await user(c)).id;
  editor = (await user(c, { email: "editor@example.com" })).id;
  stranger = (await user(c)).id;
  projectId = (await project(c, owner)).id;
  await insert(c, "collaborators", {
    project_id: projectId,
    user_id: editor,
    invited_email: "editor@example.com",
    role: "editor",
    accepted_at: new Date(),
  });
});

const ownerOf = async (table: string, id: string) =>
  (await c.query(`select owner_id from public.${table} where id = $1`, [id])).rows[0]?.owner_id;

test("owner_id is the project's owner whatever an insert names, and naming oneself gains nothing", async () => {
  await asActor(c, "editor", editor, async () => {
    // API roles may not name owner_id at all (009's column grants); the row gets the project's.
    await c.query("savepoint s");
    await assert.rejects(
      c.query("insert into project_components (project_id, type, owner_id) values ($1, 'text', $2)", [
        projectId,
        editor,
      ]),
      (e: { code?: string }) => e.code === "42501",
    );
    await c.query("rollback to savepoint s");
    const { rows } = await c.query(
      "insert into project_components (project_id, type) values ($1, 'text') returning owner_id",
      [projectId],
    );
    assert.equal(rows[0].owner_id, owner, "the editor's insert names the project's owner");
  });
  await asActor(c, "stranger", stranger, async () => {
    for (const [table, row] of [
      ["project_components", "(project_id, type, owner_id) values ($1, 'text', $2)"],
      [
        "prompt_generations",
        "(project_id, user_id, input_snapshot, model, owner_id) values ($1, $2, '{}', 'gpt', $2)",
      ],
    ] as const) {
      await c.query("savepoint s");
      await assert.rejects(
        c.query(`insert into ${table} ${row}`, [projectId, stranger]),
        (e: { code?: string }) => e.code === "42501",
        `${table}: a stranger naming themself owner is refused`,
      );
      await c.query("rollback to savepoint s");
    }
    // Counted inside the transaction, as the table owner: after asActor's rollback a count would be 0
    // whatever the inserts did.
    await c.query("reset role");
    for (const table of ["project_components", "prompt_generations"]) {
      assert.equal(
        (await c.query(`select count(*)::int as n from ${table} where project_id = $1`, [projectId])).rows[0]
          .n,
        0,
        `${table}: nothing was written`,
      );
    }
  });
});

test("a transfer moves owner_id on every row of the project; the old owner loses them, the new one gets them", async () => {
  await c.query("begin");
  try {
    const comp = await component(c, projectId);
    const audio = await insert(c, "audio_recordings", {
      project_id: projectId,
      user_id: owner,
      storage_path: audioPath(owner, projectId),
      mime_type: "audio/webm",
      size_bytes: 10,
    });
    const prompt = await insert(c, "prompt_generations", {
      project_id: projectId,
      user_id: owner,
      input_snapshot: {},
      model: "gpt",
    });
    const other = await component(c, (await project(c, owner)).id);
    const recipient = await user(c, { email_verified: new Date() });
    const newOwner = recipient.id;
    await c.query("savepoint before_transfer");
    // A transfer is an offer the recipient accepts (009).
    await c.query("select set_config('request.jwt.claims', $1, true)", [
      JSON.stringify({ sub: owner, role: "authenticated" }),
    ]);
    await c.query("set local role authenticated");
    await c.query("select offer_project_transfer($1, $2)", [projectId, recipient.email]);
    await c.query("select set_config('request.jwt.claims', $1, true)", [
      JSON.stringify({ sub: newOwner, role: "authenticated" }),
    ]);
    await c.query("select accept_project_transfer($1)", [projectId]);
    await c.query("select set_config('request.jwt.claims', $1, true)", [
      JSON.stringify({ sub: owner, role: "authenticated" }),
    ]);
    assert.equal(
      (await c.query("select count(*)::int as n from project_components where project_id = $1", [projectId]))
        .rows[0].n,
      0,
      "the old owner no longer reads the components",
    );
    await c.query("reset role");
    for (const [table, id] of [
      ["project_components", comp.id],
      ["audio_recordings", audio.id],
      ["prompt_generations", prompt.id],
    ] as const) {
      assert.equal(await ownerOf(table, id), newOwner, `${table} follows the transfer`);
    }
    assert.equal(await ownerOf("project_components", other.id), owner, "another project's rows stay");
    await c.query("select set_config('request.jwt.claims', $1, true)", [
      JSON.stringify({ sub: newOwner, role: "authenticated" }),
    ]);
    await c.query("set local role authenticated");
    assert.equal(
      (await c.query("select count(*)::int as n from project_components where project_id = $1", [projectId]))
        .rows[0].n,
      1,
      "the new owner reads them",
    );
  } finally {
    await c.query("rollback");
  }
});

test("owner_id cannot be set apart from the project's owner, even by the service role", async () => {
  await c.query("begin");
  try {
    const comp = await component(c, projectId);
    await c.query("update project_components set owner_id = $1 where id = $2", [stranger, comp.id]);
    assert.equal(await ownerOf("project_components", comp.id), owner);
    const strangers = (await project(c, stranger)).id;
    await c.query("update project_components set project_id = $1 where id = $2", [strangers, comp.id]);
    assert.equal(await ownerOf("project_components", comp.id), stranger, "moved to another owner's project");
    await asActor(c, "editor", editor, async () => {
      await assert.rejects(
        c.query("update project_components set owner_id = $1 where id = $2", [editor, comp.id]),
        (e: { code?: string }) => e.code === "42501",
        "no API role may write the column",
      );
    });
  } finally {
    await c.query("rollback");
  }
});

test("a missing project still fails on its foreign key, not on owner_id", async () => {
  await assert.rejects(
    c.query("insert into project_components (project_id, type) values (gen_random_uuid(), 'text')"),
    (e: { code?: string; constraint?: string }) =>
      e.code === "23503" && e.constraint === "project_components_project_id_fkey",
  );
});

test("migration 007 fills owner_id of existing rows without touching their updated_at", async () => {
  const db = await createDatabase("empty");
  const opts = projectMigratorOptions(db.url);
  const first = await migrateUp(opts, { to: "006" });
  assert.equal(first.error, undefined);
  const d = await client(db.url);
  try {
    const u = (await user(d)).id;
    const p = (await project(d, u)).id;
    const comp = await component(d, p, { updated_at: "2020-01-02T03:04:05Z" });
    const rest = await migrateUp(opts);
    assert.equal(rest.error, undefined);
    const { rows } = await d.query("select owner_id, updated_at from project_components where id = $1", [
      comp.id,
    ]);
    assert.equal(rows[0].owner_id, u);
    assert.equal((rows[0].updated_at as Date).toISOString(), "2020-01-02T03:04:05.000Z");
  } finally {
    await d.end();
  }
});

const CONTENT = ["project_components", "audio_recordings", "prompt_generations"] as const;

test("owner_id is NOT NULL and keyed to the project's owner, so the database refuses a wrong one by itself", async () => {
  const keys = await c.query(
    `select conrelid::regclass::text as t, pg_get_constraintdef(oid) as def from pg_constraint
      where conname = conrelid::regclass::text || '_project_owner_fkey' order by 1`,
  );
  assert.deepEqual(
    keys.rows.map((r) => r.t),
    [...CONTENT].sort(),
  );
  for (const r of keys.rows)
    assert.equal(
      r.def,
      "FOREIGN KEY (project_id, owner_id) REFERENCES projects(id, owner_id) ON UPDATE CASCADE ON DELETE CASCADE",
    );
  const nullable = await c.query(
    `select table_name from information_schema.columns
      where table_schema = 'public' and column_name = 'owner_id' and table_name = any($1) and is_nullable = 'YES'`,
    [[...CONTENT]],
  );
  assert.deepEqual(nullable.rows, []);
  // Without the trigger that sets owner_id, the key and NOT NULL still hold.
  await c.query("begin");
  try {
    await c.query("alter table project_components disable trigger project_components_owner");
    await c.query("savepoint s");
    const e = await refusal(
      c,
      "insert into project_components (project_id, type, owner_id) values ($1, 'text', $2)",
      [projectId, stranger],
    );
    assert.equal(e.code, "23503");
    assert.equal(e.constraint, "project_components_project_owner_fkey");
    await c.query("rollback to savepoint s");
    const n = await refusal(
      c,
      "insert into project_components (project_id, type, owner_id) values ($1, 'text', null)",
      [projectId],
    );
    assert.equal(n.code, "23502");
  } finally {
    await c.query("rollback");
  }
});

test("a transfer moves owner_id through the foreign key alone: 007's trigger is gone", async () => {
  const t = await c.query(
    "select count(*)::int as n from pg_trigger where tgname = 'projects_owner_to_content'",
  );
  assert.equal(t.rows[0].n, 0);
});

test("migration 008 fills owner_id left NULL or wrong before it, without touching updated_at", async () => {
  const db = await createDatabase("empty");
  const opts = projectMigratorOptions(db.url);
  assert.equal((await migrateUp(opts, { to: "007" })).error, undefined);
  const d = await client(db.url);
  try {
    const u = (await user(d)).id;
    const other = (await user(d)).id;
    const p = (await project(d, u)).id;
    const a = await component(d, p, { updated_at: "2020-01-02T03:04:05Z" });
    const b = await component(d, p, { updated_at: "2020-01-02T03:04:05Z" });
    // As an early seed loaded them: triggers off.
    await d.query("set session_replication_role = replica");
    await d.query("update project_components set owner_id = null where id = $1", [a.id]);
    await d.query("update project_components set owner_id = $1 where id = $2", [other, b.id]);
    await d.query("reset session_replication_role");
    const rest = await migrateUp(opts);
    assert.equal(rest.error, undefined, rest.error?.message);
    const { rows } = await d.query(
      "select owner_id, updated_at from project_components where id = any($1) order by id = $2 desc",
      [[a.id, b.id], a.id],
    );
    for (const r of rows) {
      assert.equal(r.owner_id, u);
      assert.equal((r.updated_at as Date).toISOString(), "2020-01-02T03:04:05.000Z");
    }
  } finally {
    await d.end();
  }
});
