/**
 * Property: for random users, projects (some in the trash) with content in every content table
 * (components, audio recordings, prompt generations), shares (any role, accepted or not, or a pending
 * invitation by email address only) and operations, what an actor reads, updates or deletes through RLS
 * is exactly what the access model allows, never a row more. The model below is written from the rules,
 * independently of the SQL.
 *
 * The seed changes every run and is printed (`ℹ seed N`); VPB_PROPERTY_SEED=N replays a run.
 */
import assert from "node:assert/strict";
import { randomInt, randomUUID } from "node:crypto";
import { before, test } from "node:test";
import fc from "fast-check";
import type pg from "pg";
import { client, createDatabase } from "./support/harness.ts";

type Role = "viewer" | "editor" | "admin";
/** The tables whose rows belong to a project and follow its rights. */
const CONTENT = {
  project_components: "z_index = z_index",
  audio_recordings: "duration_ms = duration_ms",
  prompt_generations: "latency_ms = latency_ms",
} as const;
type ContentTable = keyof typeof CONTENT;
type Table = "projects" | "collaborators" | ContentTable;
interface World {
  users: number;
  projects: Array<{ owner: number; deleted: boolean; content: Record<ContentTable, number> }>;
  /** byEmail: a pending invitation naming the user's address only (user_id null, never accepted). */
  shares: Array<{ project: number; user: number; role: Role; accepted: boolean; byEmail: boolean }>;
  ops: Array<{ actor: number; table: Table; op: "select" | "update" | "delete" }>;
}

const world: fc.Arbitrary<World> = fc
  .record({ users: fc.integer({ min: 2, max: 5 }), projectCount: fc.integer({ min: 1, max: 4 }) })
  .chain(({ users, projectCount }) =>
    fc.record({
      users: fc.constant(users),
      projects: fc.array(
        fc.record({
          owner: fc.nat(users - 1),
          deleted: fc.boolean(),
          content: fc.record({
            project_components: fc.integer({ min: 0, max: 2 }),
            audio_recordings: fc.integer({ min: 0, max: 2 }),
            prompt_generations: fc.integer({ min: 0, max: 2 }),
          }),
        }),
        { minLength: projectCount, maxLength: projectCount },
      ),
      shares: fc.array(
        fc.record({
          project: fc.nat(projectCount - 1),
          user: fc.nat(users - 1),
          role: fc.constantFrom<Role>("viewer", "editor", "admin"),
          accepted: fc.boolean(),
          byEmail: fc.boolean(),
        }),
        { maxLength: 6 },
      ),
      ops: fc.array(
        fc.record({
          actor: fc.nat(users - 1),
          table: fc.constantFrom<Table>(
            "projects",
            "collaborators",
            ...(Object.keys(CONTENT) as ContentTable[]),
          ),
          op: fc.constantFrom("select" as const, "update" as const, "delete" as const),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    }),
  )
  // One share per (project, user), never to the owner, and only a user accepts: the schema's own rules.
  .map((w) => ({
    ...w,
    shares: w.shares
      .filter(
        (s, i, all) =>
          w.projects[s.project]?.owner !== s.user &&
          all.findIndex((t) => t.project === s.project && t.user === s.user) === i,
      )
      .map((s) => (s.byEmail ? { ...s, accepted: false } : s)),
  }));

/** The model: which projects an actor may read, edit, administer and delete. */
function rights(w: World, actor: number) {
  const share = (p: number) => w.shares.find((s) => s.project === p && s.user === actor && s.accepted);
  const read = new Set<number>();
  const edit = new Set<number>();
  const admin = new Set<number>();
  const own = new Set<number>();
  w.projects.forEach((p, i) => {
    const s = share(i);
    if (p.owner === actor) {
      own.add(i);
      read.add(i);
      // A project in the trash is read-only, for its owner too (009).
      if (!p.deleted) edit.add(i);
      if (!p.deleted) admin.add(i);
    } else if (s && !p.deleted) {
      read.add(i);
      if (s.role !== "viewer") edit.add(i);
      if (s.role === "admin") admin.add(i);
    }
  });
  return { read, edit, admin, own };
}

let c: pg.Client;
before(async () => {
  c = await client((await createDatabase()).url);
});

const seed = Number(process.env.VPB_PROPERTY_SEED ?? randomInt(2 ** 31));

test("RLS lets every actor reach exactly the rows the access model allows", async (t) => {
  assert.ok(Number.isInteger(seed), "VPB_PROPERTY_SEED must be an integer");
  t.diagnostic(`seed ${seed} (replay with VPB_PROPERTY_SEED=${seed})`);
  await fc.assert(
    fc.asyncProperty(world, async (w) => {
      await c.query("begin");
      try {
        const userIds = Array.from({ length: w.users }, () => randomUUID());
        const emails = userIds.map((id, i) => `u${i}-${id}@example.com`);
        for (const [i, id] of userIds.entries()) {
          await c.query("insert into users (id, email) values ($1, $2)", [id, emails[i]]);
        }
        const projectIds = w.projects.map(() => randomUUID());
        const contentProject = new Map<string, number>();
        const contentIds: Record<ContentTable, string[]> = {
          project_components: [],
          audio_recordings: [],
          prompt_generations: [],
        };
        for (const [i, p] of w.projects.entries()) {
          const projectId = projectIds[i] as string;
          const ownerId = userIds[p.owner] as string;
          await c.query("insert into projects (id, owner_id, name, deleted_at) values ($1, $2, 'p', $3)", [
            projectId,
            ownerId,
            p.deleted ? new Date() : null,
          ]);
          const rows: Record<ContentTable, [string, unknown[]]> = {
            project_components: ["(id, project_id, type) values ($1, $2, 'text')", []],
            audio_recordings: [
              "(id, project_id, user_id, storage_path, mime_type, size_bytes) values ($1, $2, $3, $4, 'audio/webm', 10)",
              [ownerId],
            ],
            prompt_generations: [
              "(id, project_id, user_id, input_snapshot, model) values ($1, $2, $3, '{}', 'gpt')",
              [ownerId],
            ],
          };
          for (const table of Object.keys(CONTENT) as ContentTable[]) {
            for (let k = 0; k < p.content[table]; k++) {
              const id = randomUUID();
              contentProject.set(id, i);
              contentIds[table].push(id);
              const [values, extra] = rows[table];
              const params = [id, projectId, ...extra];
              if (table === "audio_recordings")
                params.push(`${ownerId}/${projectId}/1700000000000_${k}.webm`);
              await c.query(`insert into ${table} ${values}`, params);
            }
          }
        }
        const shareRows = new Map<string, (typeof w.shares)[number]>();
        for (const s of w.shares) {
          const id = randomUUID();
          shareRows.set(id, s);
          await c.query(
            "insert into collaborators (id, project_id, user_id, invited_email, role, accepted_at) values ($1, $2, $3, $4, $5, $6)",
            [
              id,
              projectIds[s.project],
              s.byEmail ? null : userIds[s.user],
              // An invitation by address matches the user's email whatever its case.
              s.byEmail ? (emails[s.user] as string).toUpperCase() : `${id}@example.com`,
              s.role,
              s.accepted ? new Date() : null,
            ],
          );
        }

        for (const { actor, table, op } of w.ops) {
          const r = rights(w, actor);
          let expected: Set<string>;
          if (table === "projects") {
            const allowed = op === "select" ? r.read : op === "update" ? r.edit : r.own;
            expected = new Set([...allowed].map((i) => projectIds[i] as string));
          } else if (table === "collaborators") {
            // The invitee sees an invitation by address; leaving (delete) needs the row to name them.
            expected = new Set(
              [...shareRows]
                .filter(([, s]) =>
                  op === "select"
                    ? r.read.has(s.project) || s.user === actor
                    : op === "update"
                      ? r.admin.has(s.project)
                      : r.admin.has(s.project) || (s.user === actor && !s.byEmail),
                )
                .map(([id]) => id),
            );
          } else {
            const allowed = op === "select" ? r.read : r.edit;
            expected = new Set(
              contentIds[table].filter((id) => allowed.has(contentProject.get(id) as number)),
            );
          }
          const assignment =
            table === "collaborators" ? "role = role" : table === "projects" ? "name = name" : CONTENT[table];
          const sql = {
            select: `select id from ${table}`,
            update: `update ${table} set ${assignment} returning id`,
            delete: `delete from ${table} returning id`,
          }[op];
          await c.query("savepoint op");
          await c.query("select set_config('request.jwt.claims', $1, true)", [
            JSON.stringify({ sub: userIds[actor], role: "authenticated" }),
          ]);
          await c.query("set local role authenticated");
          const got = new Set((await c.query<{ id: string }>(sql)).rows.map((x) => x.id));
          await c.query("rollback to savepoint op");
          assert.deepEqual([...got].sort(), [...expected].sort(), `user ${actor} ${op} ${table}`);
        }
      } finally {
        await c.query("rollback");
      }
    }),
    { numRuns: 60, seed },
  );
});
