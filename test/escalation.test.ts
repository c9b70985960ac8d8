import assert from "node:assert/strict";
import { before, test } from "node:test";
import type pg from "pg";
import { asActor } from "./support/actors.ts";
import { client, createDatabase } from "./support/harness.ts";
import { audioPath, insert, project, user } from "./support/rows.ts";

let c: pg.Client;
let owner: string;
let editor: string;
let viewer: string;
let stranger: string;
let projectId: string;

before(async () => {
  c = await client((await createDatabase()).url);
  owner = (await user(c, { email: "owner@example.com" })).id;
  editor = (await user(c, { email: "editor@example.com" })).id;
  viewer = (await user(c, { email: "viewer@example.com" })).id;
  stranger = (await user(c, { email: "stranger@example.com" })).id;
  projectId = (await project(c, owner)).id;
  for (const [id, role] of [
    [editor, "editor"],
    [viewer, "viewer"],
  ] as const) {
    await insert(c, "collaborators", {
      project_id: projectId,
      user_id: id,
      invited_email: `${role}@example.com`,
      role,
      invited_by: owner,
      accepted_at: new Date(),
    });
  }
});

/** Runs `sql` as a signed-in user and expects SQLSTATE `code` with a message matching `message`. */
async function refused(userId: string, sql: string, params: unknown[], code: string, message: RegExp) {
  await asActor(c, userId === "" ? "anon" : "stranger", userId || undefined, async () => {
    await assert.rejects(c.query(sql, params), (e: { code?: string; message: string }) => {
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
      return true;
    });
  });
}

const snapshot = async () =>
  (
    await c.query(
      "select (select json_agg(p order by p.id) from projects p) as p, (select json_agg(x order by x.id) from collaborators x) as x",
    )
  ).rows[0];

test("creating a project for someone else is refused, and nothing changes", async () => {
  const before = await snapshot();
  await refused(
    stranger,
    "insert into projects (owner_id, name) values ($1, 'mine now')",
    [owner],
    "42501",
    /row-level security/,
  );
  assert.deepEqual(await snapshot(), before);
});

test("an editor cannot transfer, delete or trash the project; the owner can offer it", async () => {
  // owner_id and deleted_at are written through functions only (009), by nobody directly.
  await refused(
    editor,
    "update projects set owner_id = $1 where id = $2",
    [editor, projectId],
    "42501",
    /permission denied for table projects/,
  );
  await refused(
    editor,
    "update projects set deleted_at = now() where id = $1",
    [projectId],
    "42501",
    /permission denied for table projects/,
  );
  await refused(
    editor,
    "select offer_project_transfer($1, 'someone@example.com')",
    [projectId],
    "P0002",
    /project not found/,
  );
  await asActor(c, "editor", editor, async () => {
    assert.equal((await c.query("delete from projects where id = $1", [projectId])).rowCount, 0);
    assert.equal(
      (await c.query("update projects set name = 'Edited' where id = $1", [projectId])).rowCount,
      1,
    );
  });
  await asActor(c, "owner", owner, async () => {
    await c.query("select offer_project_transfer($1, 'editor@example.com')", [projectId]);
    assert.equal(
      (await c.query("select 1 from project_transfers where project_id = $1", [projectId])).rowCount,
      1,
    );
  });
  assert.equal(
    (await c.query("select owner_id from projects where id = $1", [projectId])).rows[0].owner_id,
    owner,
    "rolled back",
  );
});

test("rows cannot be written in another user's name", async () => {
  const path = audioPath(owner, projectId, "forged.webm");
  await refused(
    editor,
    "insert into audio_recordings (project_id, user_id, storage_path, mime_type, size_bytes) values ($1, $2, $3, 'audio/ogg', 1)",
    [projectId, owner, path],
    "42501",
    /row-level security/,
  );
  await refused(
    stranger,
    "insert into user_activity (user_id, action) values ($1, 'project.open')",
    [owner],
    "42501",
    /row-level security/,
  );
  await refused(
    stranger,
    "insert into api_usage (user_id, provider, model) values ($1, 'x', 'y')",
    [owner],
    "42501",
    /row-level security/,
  );
});

test("nobody adds themself as a collaborator or raises their own role", async () => {
  const before = await snapshot();
  await refused(
    stranger,
    "insert into collaborators (project_id, user_id, invited_email, role, invited_by, accepted_at) values ($1, $2, 'stranger@example.com', 'admin', $2, now())",
    [projectId, stranger],
    "42501",
    /permission denied for table collaborators/,
  );
  await refused(
    viewer,
    "insert into collaborators (project_id, invited_email, role, invited_by) values ($1, 'friend@example.com', 'admin', $2)",
    [projectId, viewer],
    "42501",
    /row-level security/,
  );
  await asActor(c, "viewer", viewer, async () => {
    assert.equal(
      (await c.query("update collaborators set role = 'admin' where user_id = $1", [viewer])).rowCount,
      0,
    );
  });
  await refused(stranger, "select accept_invitation($1)", [projectId], "P0002", /invitation not found/);
  assert.deepEqual(await snapshot(), before);
});

test("an invitee accepts their own invitation by email; a collaborator may leave", async () => {
  const invitee = (await user(c, { email: "Invitee@Example.com", email_verified: new Date() })).id;
  await insert(c, "collaborators", {
    project_id: projectId,
    invited_email: "invitee@example.com",
    role: "viewer",
    invited_by: owner,
  });
  await asActor(c, "stranger", invitee, async () => {
    assert.equal(
      (await c.query("select count(*)::int as n from collaborators where project_id = $1", [projectId]))
        .rows[0].n,
      1,
      "sees only the invitation",
    );
    await c.query("select accept_invitation($1)", [projectId]);
    assert.equal(
      (await c.query("select count(*)::int as n from projects where id = $1", [projectId])).rows[0].n,
      1,
      "now a member",
    );
    assert.equal(
      (await c.query("delete from collaborators where user_id = $1", [invitee])).rowCount,
      1,
      "may leave",
    );
  });
});

test("another user's storage objects can be neither read nor written", async () => {
  const name = audioPath(owner, projectId, "secret.webm");
  await c.query("insert into storage.objects (bucket_id, name) values ('audio-recordings', $1)", [name]);
  await asActor(c, "stranger", stranger, async () => {
    assert.equal((await c.query("select 1 from storage.objects where name = $1", [name])).rowCount, 0);
    // As the Storage API deletes: with deletes allowed for the request, the policy still hides the row.
    await c.query("select set_config('storage.allow_delete_query', 'true', true)");
    assert.equal((await c.query("delete from storage.objects where name = $1", [name])).rowCount, 0);
  });
  await refused(
    stranger,
    "insert into storage.objects (bucket_id, name) values ('audio-recordings', $1)",
    [audioPath(owner, projectId, "x.webm")],
    "42501",
    /row-level security/,
  );
  await refused(
    editor,
    "insert into storage.objects (bucket_id, name) values ('audio-recordings', $1)",
    [audioPath(owner, projectId, "y.webm")],
    "42501",
    /row-level security/,
  );
  await refused(
    editor,
    "insert into storage.objects (bucket_id, name) values ('audio-recordings', $1)",
    [`${editor}/${projectId}/../../x.webm`],
    "42501",
    /row-level security/,
  );
  await asActor(c, "editor", editor, async () => {
    await c.query("insert into storage.objects (bucket_id, name) values ('audio-recordings', $1)", [
      audioPath(editor, projectId, "mine.webm"),
    ]);
    assert.equal(
      (await c.query("select 1 from storage.objects where name = $1", [name])).rowCount,
      1,
      "members read the project's objects",
    );
  });
  assert.equal(
    (await c.query("select count(*)::int as n from storage.objects where name = $1", [name])).rows[0].n,
    1,
  );
});

test("functions called for another user are refused with 42501", async () => {
  for (const [sql, params] of [
    ["select * from get_user_project_stats($1)", [owner]],
    ["select * from get_monthly_api_costs($1, current_date)", [owner]],
    ["select check_project_quota($1, 5)", [owner]],
    ["select soft_delete_project($1, $2)", [projectId, owner]],
    ["select duplicate_project($1, $2, 'copy')", [projectId, owner]],
  ] as const) {
    await refused(stranger, sql, [...params], "42501", /cannot act for another user/);
  }
  await refused(
    stranger,
    "select duplicate_project($1, $2, 'copy')",
    [projectId, stranger],
    "P0002",
    /project not found/,
  );
});

test("a user cannot change their own plan or email, only their profile", async () => {
  await refused(
    stranger,
    "update users set plan = 'enterprise' where id = $1",
    [stranger],
    "42501",
    /permission denied/,
  );
  await refused(
    stranger,
    "update users set email = 'x@example.com' where id = $1",
    [stranger],
    "42501",
    /permission denied/,
  );
  await asActor(c, "stranger", stranger, async () => {
    assert.equal(
      (await c.query("update users set display_name = 'S' where id = $1", [stranger])).rowCount,
      1,
    );
    assert.equal((await c.query("update users set display_name = 'S' where id = $1", [owner])).rowCount, 0);
  });
});

test("a project in the trash is seen by its owner only", async () => {
  const trashed = (await project(c, owner, { name: "Trashed", deleted_at: new Date() })).id;
  await insert(c, "collaborators", {
    project_id: trashed,
    user_id: viewer,
    invited_email: "v2@example.com",
    role: "viewer",
    invited_by: owner,
    accepted_at: new Date(),
  });
  await asActor(c, "viewer", viewer, async () => {
    assert.equal((await c.query("select 1 from projects where id = $1", [trashed])).rowCount, 0);
  });
  await asActor(c, "owner", owner, async () => {
    assert.equal((await c.query("select 1 from projects where id = $1", [trashed])).rowCount, 1);
  });
});

test("anon can call no function; error logs are written through log_error with the caller's id", async () => {
  await refused(
    "",
    "select log_error('error', 'web', 'boom')",
    [],
    "42501",
    /permission denied for function log_error/,
  );
  await refused("", "select * from get_user_project_stats($1)", [owner], "42501", /permission denied/);
  await refused(stranger, "select * from error_logs", [], "42501", /permission denied/);
  await c.query("begin");
  await c.query("select set_config('request.jwt.claims', $1, true)", [
    JSON.stringify({ sub: stranger, role: "authenticated" }),
  ]);
  await c.query("set local role authenticated");
  const id = (await c.query("select log_error('error', 'web', 'boom') as id")).rows[0].id as string;
  await c.query("commit");
  const row = (await c.query("select user_id, message from error_logs where id = $1", [id])).rows[0];
  assert.deepEqual(row, { user_id: stranger, message: "boom" });
});
