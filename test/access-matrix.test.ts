import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import type pg from "pg";
import { loadMatrix } from "../scripts/policies-docs.ts";
import { type Actor, asActor } from "./support/actors.ts";
import { client, createDatabase } from "./support/harness.ts";
import { audioPath, component, insert, project, user } from "./support/rows.ts";

const matrix = await loadMatrix();
const ACTORS = Object.keys(matrix.actors) as Actor[];

let c: pg.Client;
const ids: Record<string, string> = {};
const sha = () => createHash("sha256").update(randomUUID()).digest();

before(async () => {
  c = await client((await createDatabase()).url);
  for (const who of ["owner", "viewer", "editor", "admin", "stranger", "member"]) {
    ids[who] = (await user(c, { email: `${who}-${randomUUID()}@example.com` })).id;
  }
  const owner = ids.owner as string;
  const p = await project(c, owner);
  ids.project = p.id;
  for (const role of ["viewer", "editor", "admin"]) {
    await insert(c, "collaborators", {
      project_id: p.id,
      user_id: ids[role],
      invited_email: `${role}@example.com`,
      role,
      invited_by: owner,
      accepted_at: new Date(),
    });
  }
  // The collaborator row the update and delete cells aim at: someone else's pending invitation.
  ids.collaborators = (
    await insert(c, "collaborators", {
      project_id: p.id,
      user_id: ids.member,
      invited_email: "member@example.com",
      invited_by: owner,
    })
  ).id;
  ids.users = owner;
  ids.projects = p.id;
  // A pending offer of another of the owner's projects, to someone outside the project.
  ids.project_transfers = (
    await insert(c, "project_transfers", {
      project_id: (await project(c, owner)).id,
      offered_by: owner,
      recipient_email: "outsider@example.com",
    })
  ).id;
  ids.accounts = (
    await insert(c, "accounts", {
      user_id: owner,
      type: "oauth",
      provider: "github",
      provider_account_id: randomUUID(),
    })
  ).id;
  ids.sessions = (
    await insert(c, "sessions", {
      user_id: owner,
      session_token_hash: sha(),
      expires: new Date(Date.now() + 3600_000),
    })
  ).id;
  ids.verification_tokens = (
    await insert(c, "verification_tokens", {
      identifier: "owner@example.com",
      token_hash: sha(),
      expires: new Date(),
    })
  ).id;
  ids.project_components = (await component(c, p.id)).id;
  ids.audio_recordings = (
    await insert(c, "audio_recordings", {
      project_id: p.id,
      user_id: owner,
      storage_path: audioPath(owner, p.id),
      mime_type: "audio/ogg",
      size_bytes: 10,
    })
  ).id;
  ids.prompt_generations = (
    await insert(c, "prompt_generations", {
      project_id: p.id,
      user_id: owner,
      input_snapshot: {},
      model: "m",
    })
  ).id;
  ids.user_activity = (
    await insert(c, "user_activity", { user_id: owner, project_id: p.id, action: "project.open" })
  ).id;
  ids.api_usage = (await insert(c, "api_usage", { user_id: owner, provider: "openai", model: "m" })).id;
  ids.error_logs = (await insert(c, "error_logs", { severity: "error", source: "web", message: "boom" })).id;
  const object = await c.query(
    "insert into storage.objects (bucket_id, name) values ('audio-recordings', $1) returning id",
    [audioPath(owner, p.id, "owner-take.webm")],
  );
  ids["storage:audio-recordings"] = object.rows[0].id;
  ids.performance_metrics = (
    await insert(c, "performance_metrics", { metric: "query.ms", value: 3, unit: "ms" })
  ).id;
});

/** The row an actor tries to insert into the owner's scope of each table. */
function newRow(table: string, actorId: string): Record<string, unknown> {
  const owner = ids.owner as string;
  const p = ids.project as string;
  switch (table) {
    case "users":
      return { email: `new-${randomUUID()}@example.com` };
    case "accounts":
      return { user_id: owner, type: "oauth", provider: "google", provider_account_id: randomUUID() };
    case "sessions":
      return { user_id: owner, session_token_hash: sha(), expires: new Date() };
    case "verification_tokens":
      return { identifier: "owner@example.com", token_hash: sha(), expires: new Date() };
    case "projects":
      return { owner_id: owner, name: "New" };
    case "project_components":
      return { project_id: p, type: "note" };
    case "audio_recordings":
      return {
        project_id: p,
        user_id: actorId,
        storage_path: audioPath(actorId, p, `${randomUUID()}.mp3`),
        mime_type: "audio/mpeg",
        size_bytes: 5,
      };
    case "prompt_generations":
      return { project_id: p, user_id: actorId, input_snapshot: {}, model: "m" };
    case "collaborators":
      return { project_id: p, invited_email: `new-${randomUUID()}@example.com`, invited_by: actorId };
    case "project_transfers":
      return { project_id: p, offered_by: owner, recipient_email: `new-${randomUUID()}@example.com` };
    case "user_activity":
      return { user_id: owner, action: "project.share" };
    case "api_usage":
      return { user_id: owner, provider: "openai", model: "m" };
    case "error_logs":
      return { severity: "info", source: "web", message: "hello" };
    case "performance_metrics":
      return { metric: "page.load", value: 1, unit: "ms" };
    default:
      throw new Error(`no insert defined for ${table}`);
  }
}

/** One column each actor may or may not change, per table. */
const UPDATE_SET: Record<string, string> = {
  users: "display_name = 'Renamed'",
  accounts: "scope = 'email'",
  sessions: "expires = now() + interval '1 day'",
  verification_tokens: "expires = now() + interval '1 day'",
  projects: "name = 'Renamed'",
  project_components: "z_index = 7",
  audio_recordings: "transcript = 'words'",
  prompt_generations: "latency_ms = 9",
  collaborators: "role = 'editor'",
  project_transfers: "expires_at = now()",
  user_activity: "action = 'project.edit'",
  api_usage: "latency_ms = 9",
  error_logs: "source = 'api'",
  performance_metrics: "value = 4",
};

/** Performs the operation; true when it took effect on exactly the target (or inserted), false when refused. */
async function attempt(table: string, op: string, actorId: string): Promise<boolean> {
  try {
    if (op === "select") {
      return (await c.query(`select 1 from public.${table} where id = $1`, [ids[table]])).rowCount === 1;
    }
    if (op === "insert") {
      await insert(c, table, newRow(table, actorId));
      return true;
    }
    const sql =
      op === "update"
        ? `update public.${table} set ${UPDATE_SET[table]} where id = $1`
        : `delete from public.${table} where id = $1`;
    return (await c.query(sql, [ids[table]])).rowCount === 1;
  } catch (e) {
    const code = (e as { code?: string }).code;
    // Refusals: no privilege (42501) or a row-level security check; anything else is a test bug.
    if (code === "42501") return false;
    throw e;
  }
}

for (const [table, ops] of Object.entries(matrix.tables)) {
  describe(`access matrix: ${table}`, () => {
    for (const op of matrix.operations) {
      for (const actor of ACTORS) {
        const allowed = ops[op]?.includes(actor) ?? false;
        test(`${actor} ${allowed ? "may" : "may not"} ${op}`, async () => {
          const userId = actor === "anon" || actor === "service_role" ? undefined : (ids[actor] as string);
          const did = await asActor(c, actor, userId, () =>
            attempt(table, op, userId ?? (ids.owner as string)),
          );
          assert.equal(
            did,
            allowed,
            `${actor} ${op} on ${table}: expected ${allowed ? "allowed" : "denied"}`,
          );
        });
      }
    }
  });
}

/** Storage: read, upload under the actor's own id, replace, delete the owner's object. */
async function attemptStorage(bucket: string, op: string, actorId: string): Promise<boolean> {
  const target = ids[`storage:${bucket}`];
  // Supabase's Storage API allows deletes in every request's transaction; policies then decide.
  await c.query("select set_config('storage.allow_delete_query', 'true', true)");
  try {
    if (op === "select")
      return (await c.query("select 1 from storage.objects where id = $1", [target])).rowCount === 1;
    if (op === "insert") {
      const name = audioPath(actorId, ids.project as string, `${randomUUID()}.webm`);
      await c.query("insert into storage.objects (bucket_id, name) values ($1, $2)", [bucket, name]);
      return true;
    }
    const sql =
      op === "update"
        ? "update storage.objects set user_metadata = '{\"k\": 1}' where id = $1"
        : "delete from storage.objects where id = $1";
    return (await c.query(sql, [target])).rowCount === 1;
  } catch (e) {
    if ((e as { code?: string }).code === "42501") return false;
    throw e;
  }
}

for (const [bucket, ops] of Object.entries(matrix.storage)) {
  describe(`access matrix: storage bucket ${bucket}`, () => {
    for (const op of matrix.operations) {
      for (const actor of ACTORS) {
        const allowed = ops[op]?.includes(actor) ?? false;
        test(`${actor} ${allowed ? "may" : "may not"} ${op}`, async () => {
          const userId = actor === "anon" || actor === "service_role" ? undefined : (ids[actor] as string);
          const did = await asActor(c, actor, userId, () =>
            attemptStorage(bucket, op, userId ?? (ids.owner as string)),
          );
          assert.equal(
            did,
            allowed,
            `${actor} ${op} on ${bucket} objects: expected ${allowed ? "allowed" : "denied"}`,
          );
        });
      }
    }
  });
}

test("the matrix covers every table of the schema", async () => {
  const { rows } = await c.query(
    "select relname from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') and not relispartition order by 1",
  );
  assert.deepEqual(rows.map((r) => r.relname).sort(), Object.keys(matrix.tables).sort());
});
