// Issue 11: each attack a hostile signed-in user made through the API, replayed in its own form (SQL as
// the `authenticated` role with the claims PostgREST sets), and shown closed.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, test } from "node:test";
import type pg from "pg";
import { createDb } from "../src/sdk/index.ts";
import { asActor, becomeActor } from "./support/actors.ts";
import { client, createDatabase } from "./support/harness.ts";
import { audioPath, component, insert, project, user } from "./support/rows.ts";

let c: pg.Client;
let d: pg.Client;
let url: string;

before(async () => {
  const db = await createDatabase();
  url = db.url;
  c = await client(db.url);
  d = await client(db.url);
});

/** Runs `sql` as the signed-in user and returns the error it fails with (the test fails if it succeeds). */
async function attack(userId: string, sql: string, params: unknown[] = []) {
  return asActor(c, "stranger", userId, async () => {
    let caught: { code?: string; message: string; constraint?: string } | undefined;
    await assert.rejects(c.query(sql, params), (e: Error) => {
      caught = e as typeof caught;
      return true;
    });
    if (!caught) throw new Error(`expected a refusal of: ${sql}`);
    return caught;
  });
}

const verifiedUser = (email?: string) => user(c, { ...(email ? { email } : {}), email_verified: new Date() });

const storedObject = (name: string) =>
  c.query("insert into storage.objects (bucket_id, name, owner) values ('audio-recordings', $1, null)", [
    name,
  ]);

test("attack 1: a project made again with a deleted project's id finds none of its audio", async () => {
  const owner = await user(c);
  const formerCollaborator = await user(c);
  const p = await project(c, owner.id);
  const name = audioPath(owner.id, p.id);
  await storedObject(name);
  await asActor(c, "owner", owner.id, async () => {
    await c.query("delete from projects where id = $1", [p.id]);
    await c.query("commit");
  });
  // The attack: take the id, then read the old files.
  const e = await attack(
    formerCollaborator.id,
    "insert into projects (id, owner_id, name) values ($1, $2, 'mine')",
    [p.id, formerCollaborator.id],
  );
  assert.equal(e.code, "42501", e.message);
  assert.match(e.message, /permission denied for table projects/);
  // Even a project made again by the service with that id finds nothing: the storage row is gone and
  // the file waits in the queue for the storage sweep.
  await project(c, formerCollaborator.id, { id: p.id });
  await asActor(c, "stranger", formerCollaborator.id, async () => {
    assert.equal((await c.query("select 1 from storage.objects where name = $1", [name])).rowCount, 0);
  });
  assert.equal(
    (await c.query("select 1 from private.storage_deletions where name = $1", [name])).rowCount,
    1,
  );
});

test("attack 1: purge and account deletion take their audio objects along", async () => {
  const owner = await user(c);
  const uploader = await user(c);
  const trashed = await project(c, owner.id, { deleted_at: new Date(Date.now() - 40 * 86400_000) });
  const shared = await project(c, owner.id);
  const inTrash = audioPath(owner.id, trashed.id);
  const byUploader = audioPath(uploader.id, shared.id);
  const kept = audioPath(owner.id, shared.id);
  for (const n of [inTrash, byUploader, kept]) await storedObject(n);
  await c.query("select public.purge_deleted_projects()");
  await c.query("delete from users where id = $1", [uploader.id]);
  const left = await c.query("select name from storage.objects where name = any($1) order by name", [
    [inTrash, byUploader, kept],
  ]);
  assert.deepEqual(
    left.rows.map((r) => r.name),
    [kept],
  );
  const queued = await c.query(
    "select name from private.storage_deletions where name = any($1) order by name",
    [[inTrash, byUploader, kept]],
  );
  assert.deepEqual(queued.rows.map((r) => r.name).sort(), [inTrash, byUploader].sort());
});

test("attack 1/2: API roles choose no project id, version, trash date or timestamps", async () => {
  const me = await user(c);
  for (const [col, value] of [
    ["version", 2147483646],
    ["deleted_at", "infinity"],
    ["created_at", "2000-01-01"],
    ["updated_at", "2000-01-01"],
  ] as const) {
    const e = await attack(me.id, `insert into projects (owner_id, name, ${col}) values ($1, 'p', $2)`, [
      me.id,
      value,
    ]);
    assert.equal(e.code, "42501", `${col}: ${e.message}`);
  }
  const p = await project(c, me.id);
  for (const [table, col] of [
    ["prompt_generations", "id"],
    ["audio_recordings", "bucket_id"],
    ["collaborators", "accepted_at"],
  ] as const) {
    const e = await attack(me.id, `insert into ${table} (${col}) values (null)`);
    assert.equal(e.code, "42501", `${table}.${col}: ${e.message}`);
  }
  assert.ok(p.id);
});

test("attack 2: an owner cannot push a project onto someone; the recipient accepts an offer, within quota", async () => {
  const pusher = await user(c);
  const alt = await user(c);
  const victim = await verifiedUser();
  const p = await project(c, pusher.id);
  await insert(c, "collaborators", {
    project_id: p.id,
    user_id: alt.id,
    invited_email: alt.email,
    role: "admin",
    invited_by: pusher.id,
    accepted_at: new Date(),
  });
  const e = await attack(pusher.id, "update projects set owner_id = $1 where id = $2", [victim.id, p.id]);
  assert.equal(e.code, "42501", e.message);
  assert.match(e.message, /permission denied for table projects/);

  // The offer; only the addressee accepts it.
  await asActor(c, "owner", pusher.id, async () => {
    await c.query("select offer_project_transfer($1, $2)", [p.id, victim.email]);
    await c.query("commit");
  });
  for (const who of [pusher.id, alt.id]) {
    const refusal = await attack(who, "select accept_project_transfer($1)", [p.id]);
    assert.equal(refusal.code, "P0002", refusal.message);
  }
  // A full plan refuses it.
  for (let i = 0; i < 10; i++) await project(c, victim.id);
  const full = await attack(victim.id, "select accept_project_transfer($1)", [p.id]);
  assert.equal(full.code, "P0001", full.message);
  assert.match(full.message, /quota exceeded/);
  await c.query("delete from projects where owner_id = $1", [victim.id]);
  await asActor(c, "stranger", victim.id, async () => {
    await c.query("select accept_project_transfer($1)", [p.id]);
    await c.query("commit");
  });
  const after = await c.query(
    "select owner_id, (select count(*)::int from collaborators where project_id = $1) as members from projects where id = $1",
    [p.id],
  );
  assert.deepEqual(
    after.rows[0],
    { owner_id: victim.id, members: 0 },
    "the pusher's alt is no admin of the gift",
  );
  assert.equal((await c.query("select 1 from project_transfers where project_id = $1", [p.id])).rowCount, 0);
});

test("attack 3: deleted_at is set only by soft_delete_project, and a project in the trash is read-only", async () => {
  const me = await user(c);
  const p = await project(c, me.id);
  const e = await attack(me.id, "update projects set deleted_at = 'infinity' where id = $1", [p.id]);
  assert.equal(e.code, "42501", e.message);
  assert.match(e.message, /permission denied for table projects/);
  await asActor(c, "owner", me.id, async () => {
    await c.query("select soft_delete_project($1, $2)", [p.id, me.id]);
    await c.query("commit");
  });
  const trashed = await c.query("select deleted_at <= now() as now_or_before from projects where id = $1", [
    p.id,
  ]);
  assert.equal(trashed.rows[0].now_or_before, true);
  await asActor(c, "owner", me.id, async () => {
    assert.equal(
      (await c.query("update projects set name = 'still usable' where id = $1", [p.id])).rowCount,
      0,
    );
  });
  const refusal = await attack(
    me.id,
    "insert into project_components (project_id, type) values ($1, 'text')",
    [p.id],
  );
  assert.equal(refusal.code, "42501", refusal.message);
  assert.match(refusal.message, /row-level security/);
  await asActor(c, "owner", me.id, async () => {
    await c.query("select restore_project($1)", [p.id]);
    assert.equal((await c.query("update projects set name = 'back' where id = $1", [p.id])).rowCount, 1);
  });
});

test("attack 7: creating a project in another user's name reveals nothing of their quota", async () => {
  const victim = await user(c);
  const attacker = await user(c);
  for (let i = 0; i < 10; i++) await project(c, victim.id);
  const e = await attack(attacker.id, "insert into projects (owner_id, name) values ($1, 'x')", [victim.id]);
  assert.equal(e.code, "42501", e.message);
  assert.equal(e.message, 'new row violates row-level security policy for table "projects"');
});

test("attack 4: one INSERT of two components naming each other as parents is refused", async () => {
  const me = await user(c);
  const p = await project(c, me.id);
  const e = await attack(
    me.id,
    `insert into project_components (id, project_id, parent_id, type)
     values ('00000000-0000-4000-8000-00000000000a', $1, '00000000-0000-4000-8000-00000000000b', 'container'),
            ('00000000-0000-4000-8000-00000000000b', $1, '00000000-0000-4000-8000-00000000000a', 'container')`,
    [p.id],
  );
  assert.equal(e.code, "23514", e.message);
  assert.equal(e.constraint, "project_components_no_cycle");
});

test("attack 4: two concurrent moves cannot make a cycle", async () => {
  const me = await user(c);
  const editor = await user(c);
  const p = await project(c, me.id);
  await insert(c, "collaborators", {
    project_id: p.id,
    user_id: editor.id,
    invited_email: editor.email,
    role: "editor",
    invited_by: me.id,
    accepted_at: new Date(),
  });
  const a = await component(c, p.id, { type: "container" });
  const b = await component(c, p.id, { type: "container" });
  await c.query("begin");
  await becomeActor(c, "owner", me.id);
  await c.query("update project_components set parent_id = $1 where id = $2", [b.id, a.id]);
  await d.query("begin");
  await becomeActor(d, "editor", editor.id);
  const second = d.query("update project_components set parent_id = $1 where id = $2", [a.id, b.id]).then(
    () => undefined,
    (e: { code?: string; message: string }) => e,
  );
  await new Promise((r) => setTimeout(r, 200));
  await c.query("commit");
  const e = await second;
  await d.query("rollback");
  assert.ok(e, "the second move must be refused");
  assert.equal(e.code, "23514", e.message);
  const rows = await c.query(
    "select id, parent_id from project_components where project_id = $1 order by id",
    [p.id],
  );
  assert.equal(rows.rows.filter((r) => r.parent_id !== null).length, 1);
});

test("attack 10: nesting is at most 100 deep, and a project holds at most 10,000 components", async () => {
  const me = await user(c);
  const p = await project(c, me.id);
  let parent: string | null = null;
  for (let i = 0; i < 101; i++)
    parent = (await component(c, p.id, { type: "container", parent_id: parent })).id;
  const deep = await attack(
    me.id,
    "insert into project_components (project_id, parent_id, type) values ($1, $2, 'text')",
    [p.id, parent],
  );
  assert.equal(deep.code, "23514", deep.message);
  assert.equal(deep.constraint, "project_components_nesting_depth");
  const q = await project(c, me.id);
  const many = await attack(
    me.id,
    "insert into project_components (project_id, type) select $1, 'text' from generate_series(1, 10001)",
    [q.id],
  );
  assert.equal(many.code, "23514", many.message);
  assert.equal(many.constraint, "project_components_per_project");
});

test("attack 5: a component inserted during a transfer never keeps the old owner", async () => {
  const oldOwner = await user(c);
  const newOwner = await verifiedUser();
  const p = await project(c, oldOwner.id);
  await insert(c, "project_transfers", {
    project_id: p.id,
    offered_by: oldOwner.id,
    recipient_email: newOwner.email,
  });
  await c.query("begin");
  await becomeActor(c, "stranger", newOwner.id);
  await c.query("select accept_project_transfer($1)", [p.id]);
  await d.query("begin");
  await becomeActor(d, "owner", oldOwner.id);
  const racing = d
    .query("insert into project_components (project_id, type) values ($1, 'text') returning owner_id", [p.id])
    .then(
      (r) => r.rows[0],
      (e: { code?: string }) => e,
    );
  await new Promise((r) => setTimeout(r, 200));
  await c.query("commit");
  const outcome = await racing;
  await d.query("commit").catch(() => {});
  await d.query("rollback").catch(() => {});
  const stale = await c.query(
    "select count(*)::int as n from project_components where project_id = $1 and owner_id <> $2",
    [p.id, newOwner.id],
  );
  assert.equal(stale.rows[0].n, 0, `no stale owner (the racing insert gave ${JSON.stringify(outcome)})`);
});

test("attack 8: activity, usage and audio cannot point into other users' data", async () => {
  const victim = await user(c);
  const attacker = await user(c);
  const vp = await project(c, victim.id);
  const gen = await insert(c, "prompt_generations", {
    project_id: vp.id,
    user_id: victim.id,
    input_snapshot: {},
    model: "m",
  });
  const victimComponent = await component(c, vp.id);
  const mine = await project(c, attacker.id);
  for (const [sql, params] of [
    [
      "insert into user_activity (user_id, project_id, action) values ($1, $2, 'project.open')",
      [attacker.id, vp.id],
    ],
    [
      "insert into api_usage (user_id, project_id, generation_id, provider, model, cost_usd) values ($1, $2, $3, 'x', 'y', 1000)",
      [attacker.id, vp.id, gen.id],
    ],
    [
      "insert into api_usage (user_id, project_id, generation_id, provider, model, cost_usd) values ($1, $2, $3, 'x', 'y', 1000)",
      [attacker.id, mine.id, gen.id],
    ],
  ] as const) {
    const e = await attack(attacker.id, sql, [...params]);
    assert.equal(e.code, "42501", e.message);
    assert.match(e.message, /row-level security/);
  }
  const e = await attack(
    attacker.id,
    "insert into audio_recordings (project_id, user_id, storage_path, mime_type, size_bytes, component_id) values ($1, $2, $3, 'audio/ogg', 1, $4)",
    [mine.id, attacker.id, audioPath(attacker.id, mine.id), victimComponent.id],
  );
  assert.equal(e.code, "23503", e.message);
  assert.equal(e.constraint, "audio_recordings_component_fkey");
});

test("attack 6: monitoring records the caller, refuses forged severity and oversized payloads, and is rate-limited", async () => {
  const me = await user(c);
  const metric = await asActor(c, "stranger", me.id, async () => {
    const id = (await c.query("select record_metric('page.load', 1, 'ms') as id")).rows[0].id as string;
    const logged = (await c.query("select log_error('error', 'web', 'boom', null, null, '{}', 'r-1') as id"))
      .rows[0].id as string;
    await c.query("commit");
    return { id, logged };
  });
  assert.equal(
    (await c.query("select user_id from performance_metrics where id = $1", [metric.id])).rows[0].user_id,
    me.id,
  );
  assert.equal(
    (await c.query("select request_id from error_logs where id = $1", [metric.logged])).rows[0].request_id,
    "client:r-1",
  );
  const critical = await attack(me.id, "select log_error('critical', 'web', 'forged')");
  assert.equal(critical.code, "22023", critical.message);
  const big = await attack(
    me.id,
    "select record_metric('x', 1, 'ms', jsonb_build_object('k', repeat('a', 2000)))",
  );
  assert.equal(big.code, "22023", big.message);
  const flood = await attack(me.id, "select record_metric('page.load', 1, 'ms') from generate_series(1, 61)");
  assert.equal(flood.code, "54000", flood.message);
});

test("attack 9: invitations expire, go with their inviter's admin role, and need a verified address", async () => {
  const owner = await user(c);
  const admin = await user(c);
  const alt = await verifiedUser();
  const unverified = await user(c);
  const late = await verifiedUser();
  const p = await project(c, owner.id);
  const adminRow = await insert(c, "collaborators", {
    project_id: p.id,
    user_id: admin.id,
    invited_email: admin.email,
    role: "admin",
    invited_by: owner.id,
    accepted_at: new Date(),
  });
  await asActor(c, "admin", admin.id, async () => {
    await c.query(
      "insert into collaborators (project_id, invited_email, role, invited_by) values ($1, $2, 'admin', $3)",
      [p.id, alt.email, admin.id],
    );
    await c.query("commit");
  });
  await asActor(c, "owner", owner.id, async () => {
    await c.query("delete from collaborators where id = $1", [adminRow.id]);
    await c.query("commit");
  });
  const back = await attack(alt.id, "select accept_invitation($1)", [p.id]);
  assert.equal(back.code, "P0002", back.message);

  await insert(c, "collaborators", {
    project_id: p.id,
    invited_email: unverified.email,
    role: "viewer",
    invited_by: owner.id,
  });
  const notVerified = await attack(unverified.id, "select accept_invitation($1)", [p.id]);
  assert.equal(notVerified.code, "P0002", notVerified.message);

  await insert(c, "collaborators", {
    project_id: p.id,
    invited_email: late.email,
    role: "viewer",
    invited_by: owner.id,
    invited_at: new Date(Date.now() - 15 * 86400_000),
  });
  const expired = await attack(late.id, "select accept_invitation($1)", [p.id]);
  assert.equal(expired.code, "P0002", expired.message);
});

test("near-miss: non-ASCII look-alike addresses are refused for accounts and invitations", async () => {
  await assert.rejects(user(c, { email: "bob@gma\u0130l.com" }), {
    code: "23514",
    constraint: "users_email_ascii",
  });
  await assert.rejects(user(c, { email: "\u212Aate@example.com" }), {
    code: "23514",
    constraint: "users_email_ascii",
  });
  const owner = await user(c);
  const p = await project(c, owner.id);
  const e = await attack(
    owner.id,
    "insert into collaborators (project_id, invited_email, role, invited_by) values ($1, $2, 'viewer', $3)",
    [p.id, "bob@gma\u0130l.com", owner.id],
  );
  assert.equal(e.code, "23514", e.message);
});

/**
 * Begins a request's transaction as PostgREST 11.1+ does: claims, SET LOCAL ROLE, then the role's own
 * settings (ALTER ROLE ... SET, read from pg_db_role_setting) applied with set_config(..., true), since
 * a role's settings otherwise apply only to sessions that log in as it.
 */
async function beginAsPostgrest(role: "anon" | "authenticated", userId: string | undefined) {
  const { rows } = await c.query<{ name: string; value: string }>(
    `select split_part(setting, '=', 1) as name, substr(setting, strpos(setting, '=') + 1) as value
       from pg_db_role_setting s join pg_roles r on r.oid = s.setrole, unnest(s.setconfig) setting
      where r.rolname = $1 and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))`,
    [role],
  );
  await c.query("begin");
  await becomeActor(c, role === "anon" ? "anon" : "stranger", userId);
  for (const r of rows) await c.query("select set_config($1, $2, true)", [r.name, r.value]);
}

test("attack 10: anon and authenticated statements are cancelled after Supabase's 3 s and 8 s", async () => {
  const settings = await c.query(
    `select r.rolname, setting from pg_db_role_setting s join pg_roles r on r.oid = s.setrole,
            unnest(s.setconfig) setting
      where s.setdatabase = 0 and r.rolname in ('anon', 'authenticated') and setting like 'statement_timeout=%'
      order by 1`,
  );
  assert.deepEqual(settings.rows, [
    { rolname: "anon", setting: "statement_timeout=3s" },
    { rolname: "authenticated", setting: "statement_timeout=8s" },
  ]);
  const me = await user(c);
  for (const [role, limitMs] of [
    ["anon", 3000],
    ["authenticated", 8000],
  ] as const) {
    await beginAsPostgrest(role, role === "anon" ? undefined : me.id);
    const started = Date.now();
    try {
      await assert.rejects(c.query(`select pg_sleep(${limitMs / 1000 + 1.5})`), { code: "57014" });
    } finally {
      await c.query("rollback");
    }
    const took = Date.now() - started;
    assert.ok(took >= limitMs - 100 && took < limitMs + 1400, `${role}: cancelled after ${took} ms`);
  }
});

test("near-miss: API roles cannot truncate storage tables and hold only select, insert, update, delete on them", async () => {
  const me = await user(c);
  for (const table of ["storage.objects", "storage.buckets"]) {
    const e = await attack(me.id, `truncate ${table}`);
    assert.equal(e.code, "42501", e.message);
    await c.query("begin");
    try {
      await becomeActor(c, "anon", undefined);
      await assert.rejects(c.query(`truncate ${table}`), { code: "42501" });
    } finally {
      await c.query("rollback");
    }
  }
  const held = await c.query(
    `select r.rolname, t.relname, a.privilege_type
       from pg_class t, aclexplode(t.relacl) a join pg_roles r on r.oid = a.grantee
      where t.oid in ('storage.objects'::regclass, 'storage.buckets'::regclass)
        and r.rolname in ('anon', 'authenticated')
      order by 1, 2, 3`,
  );
  for (const row of held.rows)
    assert.match(row.privilege_type, /^(SELECT|INSERT|UPDATE|DELETE)$/, JSON.stringify(row));
  assert.equal(held.rowCount, 16);
});

test("near-miss: a storage object's owner, owner_id and metadata cannot be forged by its uploader", async () => {
  const me = await user(c);
  const victim = await user(c);
  const p = await project(c, me.id);
  const forged = await attack(
    me.id,
    "insert into storage.objects (bucket_id, name, owner, owner_id) values ('audio-recordings', $1, $2::uuid, $2::text)",
    [audioPath(me.id, p.id, "a.webm"), victim.id],
  );
  assert.equal(forged.code, "42501", forged.message);
  const forgedId = await attack(
    me.id,
    "insert into storage.objects (bucket_id, name, owner_id) values ('audio-recordings', $1, $2)",
    [audioPath(me.id, p.id, "b.webm"), victim.id],
  );
  assert.equal(forgedId.code, "42501", forgedId.message);

  // Written without an owner, the row is the uploader's.
  const mine = audioPath(me.id, p.id, "c.webm");
  await asActor(c, "owner", me.id, async () => {
    await c.query(
      `insert into storage.objects (bucket_id, name, version, metadata)
       values ('audio-recordings', $1, 'v1', '{"size": 10}')`,
      [mine],
    );
    await c.query("commit");
  });
  const row = await c.query("select owner::text, owner_id from storage.objects where name = $1", [mine]);
  assert.deepEqual(row.rows[0], { owner: me.id, owner_id: me.id });

  const e1 = await attack(me.id, "update storage.objects set owner = $2 where name = $1", [mine, victim.id]);
  assert.equal(e1.code, "42501", e1.message);
  const e2 = await attack(me.id, "update storage.objects set owner_id = $2 where name = $1", [
    mine,
    victim.id,
  ]);
  assert.equal(e2.code, "42501", e2.message);
  const e3 = await attack(me.id, `update storage.objects set metadata = '{"size": 1}' where name = $1`, [
    mine,
  ]);
  assert.equal(e3.code, "42501", e3.message);
  // A new version (an upload) brings its own metadata; user_metadata stays the user's.
  await asActor(c, "owner", me.id, async () => {
    await c.query(
      `update storage.objects set version = 'v2', metadata = '{"size": 20}', user_metadata = '{"k": 1}'
        where name = $1`,
      [mine],
    );
    await c.query("commit");
  });
  const after = await c.query("select owner::text, version, metadata from storage.objects where name = $1", [
    mine,
  ]);
  assert.deepEqual(after.rows[0], { owner: me.id, version: "v2", metadata: { size: 20 } });
});

test("attack 11: a row of one's own cannot name another object's version (its file), even after that row is gone", async () => {
  const victim = await user(c);
  const attacker = await user(c);
  const victimProject = await project(c, victim.id);
  const own = await project(c, attacker.id);
  const version = randomUUID();
  const victimName = audioPath(victim.id, victimProject.id, "secret.webm");
  await asActor(c, "owner", victim.id, async () => {
    await c.query(
      "insert into storage.objects (bucket_id, name, version, metadata) values ('audio-recordings', $1, $2, '{\"size\": 5}')",
      [victimName, version],
    );
    await c.query("commit");
  });
  const stolen = audioPath(attacker.id, own.id, "stolen.webm");
  const inserted = await attack(
    attacker.id,
    `insert into storage.objects (bucket_id, name, version, metadata)
     values ('audio-recordings', $1, $2, '{"size": 5}')`,
    [stolen, version],
  );
  assert.equal(inserted.code, "42501", inserted.message);
  assert.match(inserted.message, /version names bytes that are already stored/);
  // Nor by pointing a row of one's own at it, nor by an upsert.
  const mine = audioPath(attacker.id, own.id, "mine.webm");
  await asActor(c, "owner", attacker.id, async () => {
    await c.query(
      "insert into storage.objects (bucket_id, name, version) values ('audio-recordings', $1, $2)",
      [mine, randomUUID()],
    );
    await c.query("commit");
  });
  const updated = await attack(attacker.id, "update storage.objects set version = $2 where name = $1", [
    mine,
    version,
  ]);
  assert.equal(updated.code, "42501", updated.message);
  const upserted = await attack(
    attacker.id,
    `insert into storage.objects (bucket_id, name, version) values ('audio-recordings', $1, $2)
     on conflict (bucket_id, name) do update set version = excluded.version`,
    [mine, version],
  );
  assert.equal(upserted.code, "42501", upserted.message);
  // The victim's row gone, its file may linger until the sweep: the version stays claimed.
  await c.query("begin");
  await c.query("select set_config('storage.allow_delete_query', 'true', true)");
  await c.query("delete from storage.objects where name = $1", [victimName]);
  await c.query("commit");
  const later = await attack(
    attacker.id,
    "insert into storage.objects (bucket_id, name, version) values ('audio-recordings', $1, $2)",
    [stolen, version],
  );
  assert.equal(later.code, "42501", later.message);
  const named = await c.query("select name from storage.objects where version = $1", [version]);
  assert.equal(named.rowCount, 0);
});

test("near-miss (SDK): session settings made by app SQL in a service transaction reach no later user", async () => {
  const victim = await user(c);
  await project(c, victim.id, { name: "Victim's" });
  const users = [await user(c), await user(c), await user(c)];
  const own = new Map<string, string>();
  for (const u of users) own.set(u.id, (await project(c, u.id)).id);
  // One connection: every later call gets the one the app's SQL ran on.
  const db = createDb({ connectionString: url, max: 1 });
  try {
    await db.asService().transaction(async (tx) => {
      await tx.query(`set request.jwt.claim.sub = '${victim.id}'`);
      await tx.query("set application_name = 'leaked'");
      await tx.query("set role authenticated");
    });
    const calls = Array.from({ length: 12 }, (_, i) => users[i % users.length] as (typeof users)[number]);
    const pages = await Promise.all(calls.map((u) => db.asUser(u.id).projects.list()));
    pages.forEach((page, i) => {
      const u = calls[i] as (typeof users)[number];
      assert.deepEqual(
        page.items.map((x) => x.id),
        [own.get(u.id)],
        `user ${i} sees only their own projects`,
      );
    });
    const left = await db.asService().transaction(async (tx) => {
      const r = await tx.query(
        "select auth.uid() as uid, current_setting('request.jwt.claim.sub', true) as sub, current_setting('application_name') as app",
      );
      return r.rows[0];
    });
    assert.equal(left.uid, null);
    assert.notEqual(left.app, "leaked");
    assert.ok(!left.sub, `legacy claim left: ${left.sub}`);
  } finally {
    await db.close();
  }
});
