import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { before, test } from "node:test";
import type pg from "pg";
import { asActor } from "./support/actors.ts";
import { client, createDatabase } from "./support/harness.ts";
import { audioPath, component, insert, project, refusal, user } from "./support/rows.ts";

let c: pg.Client;
before(async () => {
  c = await client((await createDatabase()).url);
});

const sha = (s: string) => createHash("sha256").update(s).digest();

/**
 * Each bad row must fail with the named constraint (or SQLSTATE). A failed statement writes nothing by
 * itself; the savepoint only keeps the test's transaction usable for the next statement.
 */
async function rejects(table: string, row: Record<string, unknown>, expected: string) {
  await c.query("savepoint s");
  await assert.rejects(
    insert(c, table, row),
    (e: { constraint?: string; code?: string; message: string }) => {
      assert.ok(
        e.constraint === expected || e.code === expected,
        `${table}: expected ${expected}, got ${e.constraint ?? e.code}: ${e.message}`,
      );
      return true;
    },
  );
  await c.query("rollback to savepoint s");
}

test("users: valid rows round-trip; bad email, plan, settings and duplicates (any case) are rejected", async () => {
  await c.query("begin");
  const u = await user(c, {
    email: "Ada@Example.com",
    plan: "pro",
    settings: { theme: "dark" },
    display_name: "Ada L",
  });
  assert.equal(u.email, "Ada@Example.com");
  assert.deepEqual(u.settings, { theme: "dark" });
  assert.equal(u.plan, "pro");
  await rejects("users", { email: "not-an-email" }, "users_email_format");
  await rejects("users", { email: "ada@example.com" }, "users_email_lower_key");
  await rejects("users", { email: "b@example.com", plan: "gold" }, "users_plan_check");
  await rejects("users", { email: "b@example.com", settings: "[]" }, "users_settings_object");
  await rejects("users", { email: "b@example.com", display_name: "" }, "users_display_name_length");
  await rejects("users", { email: null }, "23502");
  await c.query("rollback");
});

test("accounts, sessions and verification tokens: provider uniqueness and 32-byte token digests", async () => {
  await c.query("begin");
  const u = await user(c);
  const a = {
    user_id: u.id,
    type: "oauth",
    provider: "github",
    provider_account_id: "42",
    expires_at: 1_700_000_000,
  };
  const acc = await insert(c, "accounts", a);
  assert.equal(acc.expires_at, "1700000000");
  await rejects("accounts", a, "accounts_provider_account_key");
  await rejects("accounts", { ...a, provider_account_id: "43", type: "password" }, "accounts_type_check");
  await rejects(
    "accounts",
    { ...a, provider_account_id: "44", user_id: randomUUID() },
    "accounts_user_id_fkey",
  );
  const s = { user_id: u.id, session_token_hash: sha("t1"), expires: new Date(Date.now() + 3600_000) };
  await insert(c, "sessions", s);
  await rejects("sessions", s, "sessions_session_token_hash_key");
  await rejects("sessions", { ...s, session_token_hash: Buffer.from("short") }, "sessions_token_hash_length");
  const v = { identifier: "ada@example.com", token_hash: sha("v1"), expires: new Date() };
  await insert(c, "verification_tokens", v);
  await rejects("verification_tokens", v, "verification_tokens_identifier_token_key");
  await rejects(
    "verification_tokens",
    { ...v, token_hash: sha("v2"), identifier: "" },
    "verification_tokens_identifier_length",
  );
  await c.query("rollback");
});

test("projects and components: names, JSON shapes, geometry, types and same-project nesting", async () => {
  await c.query("begin");
  const u = await user(c);
  const p = await project(c, u.id, { layout: { zoom: 1.5 }, description: "d" });
  assert.equal(p.version, 1);
  assert.deepEqual(p.layout, { zoom: 1.5 });
  await rejects("projects", { owner_id: u.id, name: "   " }, "projects_name_check");
  await rejects("projects", { owner_id: u.id, name: "x".repeat(201) }, "projects_name_check");
  await rejects("projects", { owner_id: u.id, name: "x", layout: "[1]" }, "projects_layout_object");
  await rejects("projects", { owner_id: u.id, name: "x", version: 0 }, "projects_version_positive");

  const box = await component(c, p.id, { type: "container", width: 400, height: 300, z_index: 2 });
  const child = await component(c, p.id, { parent_id: box.id, position_x: 10.5 });
  assert.equal(child.parent_id, box.id);
  assert.equal(child.position_x, 10.5);
  await rejects("project_components", { project_id: p.id, type: "button" }, "project_components_type_check");
  await rejects(
    "project_components",
    { project_id: p.id, type: "text", width: 0 },
    "project_components_width_range",
  );
  await rejects(
    "project_components",
    { project_id: p.id, type: "text", position_x: 2e6 },
    "project_components_position_x_range",
  );
  await rejects(
    "project_components",
    { project_id: p.id, type: "text", z_index: 100001 },
    "project_components_z_index_range",
  );
  await rejects(
    "project_components",
    { project_id: p.id, type: "text", content: "[]" },
    "project_components_content_object",
  );
  const other = await project(c, u.id, { name: "Other" });
  await rejects(
    "project_components",
    { project_id: other.id, type: "text", parent_id: box.id },
    "project_components_parent_fkey",
  );

  await c.query("savepoint cyc");
  await assert.rejects(
    c.query("update project_components set parent_id = $1 where id = $2", [child.id, box.id]),
    /nested inside its own descendant/,
  );
  await c.query("rollback to savepoint cyc");
  await c.query("rollback");
});

test("audio recordings: path shape tied to user and project, MIME types, 50 MB limit", async () => {
  await c.query("begin");
  const u = await user(c);
  const p = await project(c, u.id);
  const ok = {
    project_id: p.id,
    user_id: u.id,
    storage_path: audioPath(u.id, p.id),
    mime_type: "audio/webm",
    size_bytes: 1024,
    duration_ms: 3000,
  };
  const row = await insert(c, "audio_recordings", ok);
  assert.equal(row.bucket_id, "audio-recordings");
  assert.equal(row.transcript_status, "none");
  await rejects("audio_recordings", ok, "audio_recordings_bucket_path_key");
  const p2 = await project(c, u.id, { name: "p2" });
  await rejects(
    "audio_recordings",
    { ...ok, storage_path: audioPath(u.id, p2.id) },
    "audio_recordings_storage_path_format",
  );
  await rejects(
    "audio_recordings",
    { ...ok, storage_path: `${u.id}/${p.id}/take.webm` },
    "audio_recordings_storage_path_format",
  );
  await rejects(
    "audio_recordings",
    { ...ok, storage_path: audioPath(u.id, p.id, "b.webm"), mime_type: "video/x-msvideo" },
    "audio_recordings_mime_type_check",
  );
  await rejects(
    "audio_recordings",
    { ...ok, storage_path: audioPath(u.id, p.id, "c.webm"), size_bytes: 52428801 },
    "audio_recordings_size_range",
  );
  await rejects(
    "audio_recordings",
    { ...ok, storage_path: audioPath(u.id, p.id, "d.webm"), transcript_status: "done" },
    "audio_recordings_transcript_status_check",
  );
  await c.query("rollback");
});

test("prompt generations and collaborators: status rules, costs, roles, one membership per user and address", async () => {
  await c.query("begin");
  const u = await user(c);
  const friend = await user(c);
  const p = await project(c, u.id);
  const g = { project_id: p.id, user_id: u.id, input_snapshot: { components: [] }, model: "gpt-4o" };
  const row = await insert(c, "prompt_generations", {
    ...g,
    status: "completed",
    output: "A prompt",
    input_tokens: 10,
    output_tokens: 20,
    cost_usd: "0.000123",
  });
  assert.equal(row.cost_usd, "0.000123");
  await rejects(
    "prompt_generations",
    { ...g, status: "completed" },
    "prompt_generations_completed_has_output",
  );
  await rejects("prompt_generations", { ...g, status: "failed" }, "prompt_generations_failed_has_error");
  await rejects("prompt_generations", { ...g, status: "done" }, "prompt_generations_status_check");
  await rejects("prompt_generations", { ...g, cost_usd: -1 }, "prompt_generations_cost_check");
  await rejects("prompt_generations", { ...g, input_tokens: -1 }, "prompt_generations_input_tokens_check");

  const inv = {
    project_id: p.id,
    user_id: friend.id,
    invited_email: "Friend@Example.com",
    role: "editor",
    invited_by: u.id,
  };
  await insert(c, "collaborators", inv);
  await rejects(
    "collaborators",
    { ...inv, invited_email: "other@example.com" },
    "collaborators_project_user_key",
  );
  await rejects(
    "collaborators",
    { ...inv, user_id: null, invited_email: "friend@example.com" },
    "collaborators_project_email_key",
  );
  await rejects(
    "collaborators",
    { ...inv, user_id: null, invited_email: "x@example.com", role: "owner" },
    "collaborators_role_check",
  );
  await rejects(
    "collaborators",
    { ...inv, user_id: null, invited_email: "y@example.com", accepted_at: new Date() },
    "collaborators_accepted_has_user",
  );
  await c.query("rollback");
});

test("analytics rows: formats and enumerations are checked; a row of any date is accepted", async () => {
  await c.query("begin");
  const u = await user(c);
  await insert(c, "user_activity", {
    user_id: u.id,
    action: "project.create",
    occurred_at: new Date("1999-01-01"),
  });
  await insert(c, "user_activity", { user_id: u.id, action: "project.open" });
  await rejects("user_activity", { user_id: u.id, action: "Project Create" }, "user_activity_action_format");
  await rejects(
    "api_usage",
    { user_id: u.id, provider: "openai", model: "m", status_code: 99 },
    "api_usage_status_code_check",
  );
  await rejects(
    "error_logs",
    { severity: "fatal", source: "api", message: "x" },
    "error_logs_severity_check",
  );
  await rejects(
    "performance_metrics",
    { metric: "query.ms", value: "Infinity", unit: "ms" },
    "performance_metrics_value_finite",
  );
  await rejects(
    "performance_metrics",
    { metric: "query.ms", value: 1, unit: "seconds" },
    "performance_metrics_unit_check",
  );
  const where = await c.query(
    "select tableoid::regclass::text as part from user_activity where user_id = $1 order by occurred_at",
    [u.id],
  );
  assert.equal(where.rows[0].part, "user_activity_default");
  assert.match(where.rows[1].part, /^user_activity_p\d{6}$/);
  await c.query("rollback");
});

test("the API roles date analytics rows from a day ago to an hour ahead; the service role any date", async () => {
  const u = (await user(c)).id;
  const rows = {
    user_activity: { user_id: u, action: "project.open" },
    api_usage: { user_id: u, provider: "openai", model: "gpt-4o" },
  };
  for (const [table, row] of Object.entries(rows)) {
    for (const offset of ["-2 days", "+2 hours"]) {
      const e = await asActor(c, "owner", u, () =>
        refusal(
          c,
          `insert into public.${table} (${Object.keys(row)}, occurred_at)
           values (${Object.keys(row).map((_, i) => `$${i + 1}`)}, now() + $${Object.keys(row).length + 1}::interval)`,
          [...Object.values(row), offset],
        ),
      );
      assert.equal(e.code, "23514", `${table} ${offset}`);
      assert.equal(e.constraint, `${table}_occurred_at_window`);
      assert.match(
        e.message,
        new RegExp(`^${table}\\.occurred_at must lie between a day before and an hour after now$`),
      );
    }
    for (const [actor, id, offset] of [
      ["owner", u, "-23 hours"],
      ["owner", u, "+59 minutes"],
      ["service_role", undefined, "-400 days"],
    ] as const) {
      const added = await asActor(
        c,
        actor,
        id,
        async () =>
          (
            await c.query(
              `insert into public.${table} (${Object.keys(row)}, occurred_at)
             values (${Object.keys(row).map((_, i) => `$${i + 1}`)}, now() + $${Object.keys(row).length + 1}::interval)`,
              [...Object.values(row), offset],
            )
          ).rowCount,
      );
      assert.equal(added, 1, `${actor} ${table} ${offset}`);
    }
  }
});

test("JSON columns are bounded in bytes of their text: the bound is accepted, one byte more is not", async () => {
  await c.query("begin");
  const u = await user(c);
  const p = await project(c, u.id);
  // {"t": "xxx"} is 9 bytes and the x's.
  const sized = (bytes: number) => JSON.stringify({ t: "x".repeat(bytes - 9) });
  const cases: [string, string, number, Record<string, unknown>][] = [
    ["users", "settings", 16384, { email: `j-${randomUUID()}@example.com` }],
    ["projects", "layout", 262144, { owner_id: u.id, name: "x" }],
    ["projects", "settings", 32768, { owner_id: u.id, name: "x" }],
    ["project_components", "content", 65536, { project_id: p.id, type: "text" }],
    ["prompt_generations", "input_snapshot", 524288, { project_id: p.id, user_id: u.id, model: "m" }],
    ["user_activity", "metadata", 8192, { user_id: u.id, action: "a.b" }],
    ["error_logs", "context", 16384, { severity: "error", source: "api", message: "m" }],
    ["performance_metrics", "tags", 4096, { metric: "m", value: 1, unit: "ms" }],
  ];
  for (const [table, column, bound, row] of cases) {
    const text = await c.query("select octet_length($1::jsonb::text)::int as n", [sized(bound)]);
    assert.equal(text.rows[0].n, bound, "the test's JSON has the bound's size");
    await insert(c, table, { ...row, [column]: sized(bound) });
    if (table === "users") row.email = `j-${randomUUID()}@example.com`;
    await rejects(table, { ...row, [column]: sized(bound + 1) }, `${table}_${column}_size`);
  }
  await c.query("rollback");
});
