/**
 * Property: for random users, projects (some in the trash), shares (any role, accepted or not) and
 * operations, what an actor reads, updates or deletes through RLS is exactly what the access model
 * allows, never a row more. The model below is written from the rules, independently of the SQL.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, test } from "node:test";
import fc from "fast-check";
import type pg from "pg";
import { client, createDatabase } from "./support/harness.ts";

type Role = "viewer" | "editor" | "admin";
interface World {
  users: number;
  projects: Array<{ owner: number; deleted: boolean; components: number }>;
  shares: Array<{ project: number; user: number; role: Role; accepted: boolean }>;
  ops: Array<{
    actor: number;
    table: "projects" | "project_components" | "collaborators";
    op: "select" | "update" | "delete";
  }>;
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
          components: fc.integer({ min: 0, max: 2 }),
        }),
        { minLength: projectCount, maxLength: projectCount },
      ),
      shares: fc.array(
        fc.record({
          project: fc.nat(projectCount - 1),
          user: fc.nat(users - 1),
          role: fc.constantFrom<Role>("viewer", "editor", "admin"),
          accepted: fc.boolean(),
        }),
        { maxLength: 6 },
      ),
      ops: fc.array(
        fc.record({
          actor: fc.nat(users - 1),
          table: fc.constantFrom(
            "projects" as const,
            "project_components" as const,
            "collaborators" as const,
          ),
          op: fc.constantFrom("select" as const, "update" as const, "delete" as const),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    }),
  )
  // One share per (project, user), never to the owner: the schema's own rules.
  .map((w) => ({
    ...w,
    shares: w.shares.filter(
      (s, i, all) =>
        w.projects[s.project]?.owner !== s.user &&
        all.findIndex((t) => t.project === s.project && t.user === s.user) === i,
    ),
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
      edit.add(i);
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

test("RLS lets every actor reach exactly the rows the access model allows", async () => {
  await fc.assert(
    fc.asyncProperty(world, async (w) => {
      await c.query("begin");
      try {
        const userIds = Array.from({ length: w.users }, () => randomUUID());
        for (const [i, id] of userIds.entries()) {
          await c.query("insert into users (id, email) values ($1, $2)", [id, `u${i}-${id}@example.com`]);
        }
        const projectIds = w.projects.map(() => randomUUID());
        const componentProject = new Map<string, number>();
        for (const [i, p] of w.projects.entries()) {
          await c.query("insert into projects (id, owner_id, name, deleted_at) values ($1, $2, 'p', $3)", [
            projectIds[i],
            userIds[p.owner],
            p.deleted ? new Date() : null,
          ]);
          for (let k = 0; k < p.components; k++) {
            const id = randomUUID();
            componentProject.set(id, i);
            await c.query("insert into project_components (id, project_id, type) values ($1, $2, 'text')", [
              id,
              projectIds[i],
            ]);
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
              userIds[s.user],
              `${id}@example.com`,
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
          } else if (table === "project_components") {
            const allowed = op === "select" ? r.read : r.edit;
            expected = new Set([...componentProject].filter(([, p]) => allowed.has(p)).map(([id]) => id));
          } else {
            expected = new Set(
              [...shareRows]
                .filter(([, s]) =>
                  op === "select"
                    ? r.read.has(s.project) || s.user === actor
                    : op === "update"
                      ? r.admin.has(s.project)
                      : r.admin.has(s.project) || s.user === actor,
                )
                .map(([id]) => id),
            );
          }
          const sql = {
            select: `select id from ${table}`,
            update: `update ${table} set ${table === "collaborators" ? "role = role" : table === "projects" ? "name = name" : "z_index = z_index"} returning id`,
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
    { numRuns: 60, seed: 20261125 },
  );
});
