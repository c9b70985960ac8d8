import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { before, test } from "node:test";
import type pg from "pg";
import { client, createDatabase, type TestDatabase } from "./support/harness.ts";
import { audioPath, component, insert, project, user } from "./support/rows.ts";

let db: TestDatabase;
let c: pg.Client;
before(async () => {
  db = await createDatabase();
  c = await client(db.url);
});

const count = async (sql: string, params: unknown[] = []) => (await c.query(sql, params)).rows[0].n as number;

/** Runs `fn` as the authenticated user `userId`, as Supabase would set the request (rolled back). */
async function asUser<T>(userId: string, fn: () => Promise<T>): Promise<T> {
  await c.query("begin");
  try {
    await c.query("select set_config('request.jwt.claims', $1, true)", [
      JSON.stringify({ sub: userId, role: "authenticated" }),
    ]);
    await c.query("set local role authenticated");
    return await fn();
  } finally {
    await c.query("rollback");
  }
}

test("deleting a user removes everything of theirs; deleting a project removes its dependents", async () => {
  const u = await user(c);
  const other = await user(c);
  const p = await project(c, u.id);
  const parent = await component(c, p.id, { type: "container" });
  await component(c, p.id, { parent_id: parent.id });
  await insert(c, "audio_recordings", {
    project_id: p.id,
    user_id: u.id,
    storage_path: audioPath(u.id, p.id),
    mime_type: "audio/mpeg",
    size_bytes: 9,
  });
  const g = await insert(c, "prompt_generations", {
    project_id: p.id,
    user_id: u.id,
    input_snapshot: {},
    model: "m",
  });
  await insert(c, "collaborators", { project_id: p.id, user_id: other.id, invited_email: "o@example.com" });
  await insert(c, "user_activity", { user_id: u.id, project_id: p.id, action: "project.open" });
  await insert(c, "api_usage", {
    user_id: u.id,
    project_id: p.id,
    generation_id: g.id,
    provider: "openai",
    model: "m",
    cost_usd: 1,
  });
  await insert(c, "accounts", {
    user_id: u.id,
    type: "oauth",
    provider: "github",
    provider_account_id: randomUUID(),
  });
  await insert(c, "sessions", {
    user_id: u.id,
    session_token_hash: createHash("sha256").update(randomUUID()).digest(),
    expires: new Date(),
  });

  await c.query("delete from projects where id = $1", [p.id]);
  for (const t of [
    "project_components",
    "audio_recordings",
    "prompt_generations",
    "collaborators",
    "user_activity",
  ]) {
    assert.equal(await count(`select count(*)::int as n from ${t} where project_id = $1`, [p.id]), 0, t);
  }
  // The cost history stays, detached from the deleted project and generation.
  const usage = await c.query("select project_id, generation_id from api_usage where user_id = $1", [u.id]);
  assert.deepEqual(usage.rows, [{ project_id: null, generation_id: null }]);

  await c.query("delete from users where id = $1", [u.id]);
  for (const t of ["accounts", "sessions", "projects", "api_usage", "user_activity"]) {
    const col = t === "projects" ? "owner_id" : "user_id";
    assert.equal(await count(`select count(*)::int as n from ${t} where ${col} = $1`, [u.id]), 0, t);
  }
  assert.equal(await count("select count(*)::int as n from users where id = $1", [other.id]), 1);
});

test("updated_at follows updates and every project update bumps its version", async () => {
  const u = await user(c);
  const p = await project(c, u.id, { updated_at: new Date("2020-01-01") });
  const { rows } = await c.query(
    "update projects set name = 'Renamed' where id = $1 and version = 1 returning version, updated_at",
    [p.id],
  );
  assert.equal(rows[0].version, 2);
  assert.ok(rows[0].updated_at > new Date("2021-01-01"));
  const stale = await c.query("update projects set name = 'Lost update' where id = $1 and version = 1", [
    p.id,
  ]);
  assert.equal(stale.rowCount, 0, "a writer holding version 1 learns of the concurrent change");
});

test("get_user_project_stats counts active and deleted projects, their contents and the user's cost", async () => {
  const u = await user(c);
  const empty = await c.query("select * from get_user_project_stats($1)", [u.id]);
  assert.deepEqual(empty.rows[0], {
    active_projects: "0",
    deleted_projects: "0",
    components: "0",
    audio_recordings: "0",
    prompt_generations: "0",
    total_cost_usd: "0",
    last_project_update: null,
  });
  const p = await project(c, u.id);
  const gone = await project(c, u.id, { deleted_at: new Date() });
  await component(c, p.id);
  await component(c, p.id);
  await component(c, gone.id);
  await insert(c, "prompt_generations", { project_id: p.id, user_id: u.id, input_snapshot: {}, model: "m" });
  await insert(c, "api_usage", { user_id: u.id, provider: "openai", model: "m", cost_usd: "0.25" });
  await insert(c, "api_usage", { user_id: u.id, provider: "openai", model: "m", cost_usd: "0.50" });
  const s = (await c.query("select * from get_user_project_stats($1)", [u.id])).rows[0];
  assert.equal(s.active_projects, "1");
  assert.equal(s.deleted_projects, "1");
  assert.equal(s.components, "2");
  assert.equal(s.prompt_generations, "1");
  assert.equal(s.total_cost_usd, "0.750000");
  assert.ok(s.last_project_update instanceof Date);
});

test("get_monthly_api_costs sums one UTC month by provider and model; an empty month has no rows", async () => {
  const u = await user(c);
  const rows = [
    ["openai", "gpt-4o", "0.10", "2026-03-01T00:00:00Z"],
    ["openai", "gpt-4o", "0.20", "2026-03-31T23:59:59Z"],
    ["anthropic", "claude", "1.00", "2026-03-15T12:00:00Z"],
    ["openai", "gpt-4o", "9.00", "2026-04-01T00:00:00Z"],
    ["openai", "gpt-4o", "9.00", "2026-02-28T23:59:59Z"],
  ];
  for (const [provider, model, cost, at] of rows) {
    await insert(c, "api_usage", {
      user_id: u.id,
      provider,
      model,
      cost_usd: cost,
      input_tokens: 10,
      output_tokens: 5,
      occurred_at: at,
    });
  }
  const march = await c.query("select * from get_monthly_api_costs($1, '2026-03-17')", [u.id]);
  assert.deepEqual(march.rows, [
    {
      provider: "anthropic",
      model: "claude",
      calls: "1",
      input_tokens: "10",
      output_tokens: "5",
      cost_usd: "1.000000",
    },
    {
      provider: "openai",
      model: "gpt-4o",
      calls: "2",
      input_tokens: "20",
      output_tokens: "10",
      cost_usd: "0.300000",
    },
  ]);
  assert.equal((await c.query("select * from get_monthly_api_costs($1, '2025-01-01')", [u.id])).rowCount, 0);
  await assert.rejects(
    c.query("select * from get_monthly_api_costs($1, null)", [u.id]),
    /a month is required/,
  );
});

test("check_project_quota and the plan limit that project creation enforces", async () => {
  const u = await user(c);
  assert.equal((await c.query("select check_project_quota($1, 1) as ok", [u.id])).rows[0].ok, true);
  await project(c, u.id);
  assert.equal((await c.query("select check_project_quota($1, 1) as ok", [u.id])).rows[0].ok, false);
  await assert.rejects(c.query("select check_project_quota($1, -1)", [u.id]), /max must be zero or more/);
  for (let i = 1; i < 10; i++) await project(c, u.id, { name: `p${i}` });
  await assert.rejects(project(c, u.id, { name: "eleventh" }), (e: pg.DatabaseError) => {
    assert.match(e.message, /project quota exceeded: 10 of 10/);
    assert.equal(e.detail, "quota_exceeded");
    return true;
  });
  // A project in the trash frees its place; restoring it when full is refused.
  const { rows } = await c.query("select id from projects where owner_id = $1 limit 1", [u.id]);
  await c.query("update projects set deleted_at = now() where id = $1", [rows[0].id]);
  await project(c, u.id, { name: "replacement" });
  await assert.rejects(
    c.query("update projects set deleted_at = null where id = $1", [rows[0].id]),
    /quota exceeded/,
  );
});

test("20 concurrent creations for a user one below quota leave exactly one new project", async () => {
  const u = await user(c);
  for (let i = 0; i < 9; i++) await project(c, u.id, { name: `p${i}` });
  const clients = await Promise.all(Array.from({ length: 20 }, () => client(db.url)));
  const outcomes = await Promise.allSettled(clients.map((k, i) => project(k, u.id, { name: `race ${i}` })));
  assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1);
  for (const o of outcomes) if (o.status === "rejected") assert.match(String(o.reason), /quota exceeded/);
  assert.equal(
    await count("select count(*)::int as n from projects where owner_id = $1 and deleted_at is null", [u.id]),
    10,
  );
});

test("soft_delete_project: the owner's project goes to the trash; missing, foreign and repeated calls", async () => {
  const u = await user(c);
  const stranger = await user(c);
  const p = await project(c, u.id);
  const at = (await c.query("select soft_delete_project($1, $2) as at", [p.id, u.id])).rows[0].at as Date;
  assert.ok(at instanceof Date);
  const again = (await c.query("select soft_delete_project($1, $2) as at", [p.id, u.id])).rows[0].at as Date;
  assert.equal(again.getTime(), at.getTime(), "deleting twice keeps the first time");
  await assert.rejects(
    c.query("select soft_delete_project($1, $2)", [randomUUID(), u.id]),
    (e: pg.DatabaseError) => e.code === "P0002",
  );
  const q = await project(c, u.id, { name: "q" });
  await assert.rejects(
    c.query("select soft_delete_project($1, $2)", [q.id, stranger.id]),
    (e: pg.DatabaseError) => e.code === "P0002",
  );
  assert.equal(
    await count("select count(*)::int as n from projects where id = $1 and deleted_at is null", [q.id]),
    1,
  );
  // Called by an API role, a user id other than the caller's is refused.
  await asUser(stranger.id, async () => {
    await assert.rejects(
      c.query("select soft_delete_project($1, $2)", [q.id, u.id]),
      (e: pg.DatabaseError) => e.code === "42501",
    );
  });
});

test("duplicate_project copies layout and nested components with new ids and the same shape", async () => {
  const u = await user(c);
  const src = await project(c, u.id, { layout: { zoom: 2 }, settings: { grid: true }, description: "src" });
  const a = await component(c, src.id, { type: "container", z_index: 1 });
  const b = await component(c, src.id, { type: "container", parent_id: a.id, z_index: 2 });
  await component(c, src.id, { parent_id: b.id, content: { text: "deep" }, z_index: 3 });
  await component(c, src.id, { z_index: 4 });
  const copyId = (await c.query("select duplicate_project($1, $2, 'Copy') as id", [src.id, u.id])).rows[0]
    .id as string;
  const copy = (await c.query("select * from projects where id = $1", [copyId])).rows[0];
  assert.deepEqual(
    [copy.name, copy.layout, copy.settings, copy.description, copy.owner_id],
    ["Copy", { zoom: 2 }, { grid: true }, "src", u.id],
  );
  const shape = async (projectId: string) =>
    (
      await c.query(
        `select c.type, c.z_index, c.content, p.z_index as parent_z from project_components c
           left join project_components p on p.id = c.parent_id where c.project_id = $1 order by c.z_index`,
        [projectId],
      )
    ).rows;
  assert.deepEqual(await shape(copyId), await shape(src.id));
  const overlap = await count(
    "select count(*)::int as n from project_components a join project_components b on a.id = b.id where a.project_id = $1 and b.project_id = $2",
    [copyId, src.id],
  );
  assert.equal(overlap, 0);
  const defaultId = (await c.query("select duplicate_project($1, $2, null) as id", [src.id, u.id])).rows[0]
    .id;
  const defaultName = (await c.query("select name from projects where id = $1", [defaultId])).rows[0];
  assert.equal(defaultName.name, "Canvas (copy)");
  await assert.rejects(
    c.query("select duplicate_project($1, $2, 'x')", [randomUUID(), u.id]),
    (e: pg.DatabaseError) => e.code === "P0002",
  );
  await c.query("update projects set deleted_at = now() where id = $1", [src.id]);
  await assert.rejects(c.query("select duplicate_project($1, $2, 'x')", [src.id, u.id]), /project not found/);
});

test("cleanup functions remove expired auth rows and projects past the grace period, and say what", async () => {
  const u = await user(c);
  const hash = () => createHash("sha256").update(randomUUID()).digest();
  await c.query("delete from sessions; delete from verification_tokens");
  await insert(c, "sessions", {
    user_id: u.id,
    session_token_hash: hash(),
    expires: new Date(Date.now() - 1000),
  });
  await insert(c, "sessions", {
    user_id: u.id,
    session_token_hash: hash(),
    expires: new Date(Date.now() + 3600_000),
  });
  await insert(c, "verification_tokens", {
    identifier: "a@b.c",
    token_hash: hash(),
    expires: new Date(Date.now() - 1000),
  });
  assert.deepEqual((await c.query("select * from cleanup_expired_auth()")).rows[0], {
    sessions_removed: "1",
    verification_tokens_removed: "1",
  });
  assert.deepEqual((await c.query("select * from cleanup_expired_auth()")).rows[0], {
    sessions_removed: "0",
    verification_tokens_removed: "0",
  });

  const old = await project(c, u.id, { deleted_at: new Date(Date.now() - 40 * 86400_000) });
  await component(c, old.id);
  const recent = await project(c, u.id, { deleted_at: new Date(Date.now() - 86400_000) });
  const purged = (await c.query("select id from purge_deleted_projects() as id")).rows.map((r) => r.id);
  assert.ok(purged.includes(old.id));
  assert.ok(!purged.includes(recent.id));
  assert.equal(
    await count("select count(*)::int as n from project_components where project_id = $1", [old.id]),
    0,
  );
  await assert.rejects(
    c.query("select purge_deleted_projects(interval '-1 day')"),
    /grace must be zero or more/,
  );
});

test("partitions: created ahead, rows moved out of the default one, and dropped past retention", async () => {
  const u = await user(c);
  await insert(c, "user_activity", {
    user_id: u.id,
    action: "old.event",
    occurred_at: "2001-05-10T00:00:00Z",
  });
  const created = (
    await c.query("select create_monthly_partitions('user_activity', 1, '2001-05-01') as p")
  ).rows.map((r) => r.p);
  assert.deepEqual(created, ["user_activity_p200105", "user_activity_p200106"]);
  assert.equal(
    (await c.query("select create_monthly_partitions('user_activity', 1, '2001-05-01') as p")).rowCount,
    0,
    "idempotent",
  );
  const where = await c.query(
    "select tableoid::regclass::text as part from user_activity where action = 'old.event'",
  );
  assert.equal(where.rows[0].part, "user_activity_p200105");
  const sealed = await c.query(
    "select relrowsecurity and relforcerowsecurity as sealed from pg_class where relname = 'user_activity_p200105'",
  );
  assert.equal(sealed.rows[0].sealed, true);

  const plan = await c.query(
    "explain (costs off) select * from user_activity where occurred_at >= '2001-05-01' and occurred_at < '2001-06-01'",
  );
  const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
  assert.match(text, /user_activity_p200105/);
  assert.doesNotMatch(text, /user_activity_p200106|user_activity_default/, "partition pruning");

  const dropped = (
    await c.query("select drop_old_partitions('user_activity', interval '13 months') as p")
  ).rows.map((r) => r.p);
  assert.deepEqual(dropped, ["user_activity_p200105", "user_activity_p200106"]);
  const current = await c.query("select to_char(now(), 'YYYYMM') as m");
  assert.equal(
    (await c.query("select to_regclass($1) is not null as ok", [`user_activity_p${current.rows[0].m}`]))
      .rows[0].ok,
    true,
  );
  await assert.rejects(
    c.query("select create_monthly_partitions('users')"),
    /not a partitioned analytics table/,
  );
  await assert.rejects(
    c.query("select drop_old_partitions('api_usage', interval '1 day')"),
    /at least one month/,
  );
  const cleanup = await c.query("select * from cleanup_analytics_partitions()");
  assert.equal(cleanup.rowCount, 0, "the current partitions are all within retention");
});

test("every foreign key has an index leading with its columns", async () => {
  // A key that refines another key to the same table (content's (project_id, owner_id) and its
  // project_id) is served by that key's index: one project's rows are few to filter by owner.
  const { rows } = await c.query(`
    with indexed as (
      select co.oid, co.conrelid, co.confrelid, co.conkey from pg_constraint co
       where co.contype = 'f' and exists (
         select from pg_index i
          where i.indrelid = co.conrelid
            and (i.indkey::int2[])[0:cardinality(co.conkey) - 1] operator(pg_catalog.@>) co.conkey
            and (i.indkey::int2[])[0:cardinality(co.conkey) - 1] operator(pg_catalog.<@) co.conkey)
    )
    select format('%s.%s (%s)', n.nspname, cl.relname, array_to_string(array(
             select a.attname from unnest(co.conkey) with ordinality k(attnum, i)
             join pg_attribute a on a.attrelid = co.conrelid and a.attnum = k.attnum order by k.i), ', ')) as fk
      from pg_constraint co
      join pg_class cl on cl.oid = co.conrelid join pg_namespace n on n.oid = cl.relnamespace
     where co.contype = 'f' and n.nspname = 'public' and cl.relispartition = false
       and not exists (
         select from pg_index i
          where i.indrelid = co.conrelid
            and (i.indkey::int2[])[0:cardinality(co.conkey) - 1] operator(pg_catalog.@>) co.conkey
            and (i.indkey::int2[])[0:cardinality(co.conkey) - 1] operator(pg_catalog.<@) co.conkey)
       and not exists (
         select from indexed x
          where x.oid <> co.oid and x.conrelid = co.conrelid and x.confrelid = co.confrelid
            and x.conkey operator(pg_catalog.<@) co.conkey)`);
  assert.deepEqual(
    rows.map((r) => r.fk),
    [],
  );
  assert.ok(
    (await count(
      "select count(*)::int as n from pg_constraint where contype = 'f' and connamespace = 'public'::regnamespace",
    )) >= 15,
  );
});

test("partition bounds are UTC months whatever the session's TimeZone and DateStyle", async () => {
  const d = await client((await createDatabase()).url);
  const made: string[] = [];
  for (const [zone, month] of [
    ["Asia/Tokyo", "2030-01-01"],
    ["America/Los_Angeles", "2030-02-01"],
    ["UTC", "2030-03-01"],
  ]) {
    await d.query(`set timezone = '${zone}'`);
    await d.query("set datestyle = 'SQL, DMY'");
    const r = await d.query("select create_monthly_partitions('api_usage', 0, $1::date) as p", [month]);
    made.push(...r.rows.map((x) => x.p));
  }
  assert.deepEqual(made, ["api_usage_p203001", "api_usage_p203002", "api_usage_p203003"]);
  await d.query("reset timezone; reset datestyle; set timezone = 'UTC'");
  const bounds = await d.query(
    "select relname, pg_get_expr(relpartbound, oid) as bound from pg_class where relname = any($1) order by 1",
    [made],
  );
  assert.deepEqual(
    bounds.rows.map((r) => r.bound),
    [
      "FOR VALUES FROM ('2030-01-01 00:00:00+00') TO ('2030-02-01 00:00:00+00')",
      "FOR VALUES FROM ('2030-02-01 00:00:00+00') TO ('2030-03-01 00:00:00+00')",
      "FOR VALUES FROM ('2030-03-01 00:00:00+00') TO ('2030-04-01 00:00:00+00')",
    ],
  );
  // The last hour of January, UTC, belongs to January's partition (not to a gap, not to February).
  const u = await user(d);
  await insert(d, "api_usage", {
    user_id: u.id,
    provider: "p",
    model: "m",
    occurred_at: "2030-01-31T23:30:00Z",
  });
  const where = await d.query("select tableoid::regclass::text as part from api_usage where user_id = $1", [
    u.id,
  ]);
  assert.equal(where.rows[0].part, "api_usage_p203001");
});

test("maintenance empties the default partitions: expired rows purged, others moved into their months", async () => {
  const d = await client((await createDatabase()).url);
  const u = await user(d);
  const at = async (sql: string) => (await d.query(`select (${sql}) as t`)).rows[0].t as Date;
  const months = (t: Date) => `${t.getUTCFullYear()}${String(t.getUTCMonth() + 1).padStart(2, "0")}`;
  const expired = await at("now() - interval '14 months'");
  const kept = await at("now() - interval '5 months'");
  const far = await at("now() + interval '10 years'");
  for (const occurred_at of [expired, kept, far])
    await insert(d, "user_activity", { user_id: u.id, action: "a.b", occurred_at });
  const defaults = (table: string) =>
    d.query(`select count(*)::int as n from ${table}_default`).then((r) => r.rows[0].n as number);
  assert.equal(await defaults("user_activity"), 3, "no partition holds these months yet");
  const swept = await d.query("select * from sweep_default_partition('user_activity', interval '13 months')");
  assert.deepEqual(
    swept.rows.map((r) => [r.action, r.partition_name, Number(r.row_count)]),
    [
      ["purged", "user_activity_default", 1],
      ["moved", `user_activity_p${months(kept)}`, 1],
      ["kept", "user_activity_default", 1],
    ],
  );
  const where = await d.query(
    "select tableoid::regclass::text as part from user_activity where occurred_at = $1",
    [kept],
  );
  assert.equal(where.rows[0].part, `user_activity_p${months(kept)}`);

  // The scheduled cleanup sweeps every table before applying retention (error logs: 3 months).
  await insert(d, "error_logs", {
    severity: "error",
    source: "api",
    message: "m",
    occurred_at: await at("now() - interval '6 months'"),
  });
  await insert(d, "error_logs", {
    severity: "error",
    source: "api",
    message: "m",
    occurred_at: await at("now() - interval '2 months'"),
  });
  await d.query("begin");
  await d.query("set local role service_role");
  const dropped = await d.query("select * from cleanup_analytics_partitions()");
  await d.query("commit");
  assert.equal(dropped.rowCount, 0);
  assert.equal(await defaults("error_logs"), 0);
  assert.equal((await d.query("select count(*)::int as n from error_logs")).rows[0].n, 1);
  await assert.rejects(
    d.query("select * from sweep_default_partition('users', interval '13 months')"),
    /not a partitioned analytics table/,
  );
});
