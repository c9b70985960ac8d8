/**
 * The storage service's one-round-trip read as the caller (migration 017, private.storage_object_as):
 * the policies of storage.objects decide exactly as in a transaction as the caller, and neither the
 * role nor the claims nor the lock timeout reach the next statement on the pooled connection.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import type pg from "pg";
import { type Actor, createRunner, inTransaction, type Runner } from "../src/sdk/db.ts";
import { findObject, findObjectAs } from "../src/storage/objects.ts";
import { client, createDatabase } from "./support/harness.ts";
import { audioPath, insert, project, user } from "./support/rows.ts";

const BUCKET = "audio-recordings";
let c: pg.Client;
let runner: Runner;
let owner: string;
let viewer: string;
let stranger: string;
let name: string;

before(async () => {
  const db = await createDatabase();
  c = await client(db.url);
  owner = (await user(c)).id;
  viewer = (await user(c)).id;
  stranger = (await user(c)).id;
  const projectId = (await project(c, owner)).id;
  await insert(c, "collaborators", {
    project_id: projectId,
    user_id: viewer,
    invited_email: `viewer-${randomUUID()}@example.com`,
    role: "viewer",
    invited_by: owner,
    accepted_at: new Date(),
  });
  name = audioPath(owner, projectId);
  await c.query(
    `insert into storage.objects (bucket_id, name, owner, version, metadata)
     values ($1, $2, $3, $4, '{"size": 4}')`,
    [BUCKET, name, owner, randomUUID()],
  );
  // One connection: every call below runs on the backend the previous one used.
  runner = createRunner({ connectionString: db.url, max: 1, statementTimeoutMs: 300 });
});

after(async () => {
  await runner?.pool.end();
});

const as = (role: Actor["role"], userId?: string): Actor => ({ role, userId });
// Functions: the users exist only once before() has run.
const ACTORS: Array<[string, () => Actor, boolean]> = [
  ["owner", () => as("authenticated", owner), true],
  ["viewer", () => as("authenticated", viewer), true],
  ["stranger", () => as("authenticated", stranger), false],
  ["anon", () => as("anon"), false],
  ["service_role", () => as("service_role"), true],
];

/** What the connection carries between statements: must be the same before and after each read. */
async function session(): Promise<Record<string, unknown>> {
  const { rows } = await runner.pool.query(
    `select current_user as user, current_setting('role') as role,
            current_setting('request.jwt.claims', true) as claims,
            current_setting('request.jwt.claim.sub', true) as sub,
            current_setting('lock_timeout') as lock_timeout, pg_backend_pid() as pid`,
  );
  return rows[0] as Record<string, unknown>;
}

for (const [label, actorOf, sees] of ACTORS) {
  test(`${label}: the one-statement read sees what a transaction as ${label} sees, and leaves nothing behind`, async () => {
    const actor = actorOf();
    const viaTx = await inTransaction(runner, actor, "t", (tx) => findObject(tx, BUCKET, name), false);
    const before = await session();
    const row = await findObjectAs(runner, actor, "t", BUCKET, name);
    assert.deepEqual(await session(), before);
    assert.equal(row !== undefined, sees);
    assert.deepEqual(row, viaTx);
    if (row) assert.equal(row.name, name);
    // A name the caller may not see and one that does not exist look the same: no row.
    assert.equal(await findObjectAs(runner, actor, "t", BUCKET, `${name}.missing`), undefined);
  });
}

test("alternating callers on one connection: each sees what its own policies allow (the kept plan is not shared)", async () => {
  const pids = new Set<unknown>();
  for (let round = 0; round < 8; round++) {
    for (const [label, actorOf, sees] of ACTORS) {
      const row = await findObjectAs(runner, actorOf(), "t", BUCKET, name);
      assert.equal(row !== undefined, sees, `${label}, round ${round}`);
    }
    pids.add((await session()).pid);
  }
  assert.equal(pids.size, 1, "all on one backend");
});

test("the caller's claims decide, not the claims of a previous statement", async () => {
  // Claims left on the session by someone else's SET (owner's): the read as the stranger ignores them.
  await runner.pool.query(`select set_config('request.jwt.claims', $1, false)`, [
    JSON.stringify({ sub: owner, role: "authenticated" }),
  ]);
  await runner.pool.query(`select set_config('request.jwt.claim.sub', $1, false)`, [owner]);
  try {
    assert.equal(await findObjectAs(runner, as("authenticated", stranger), "t", BUCKET, name), undefined);
  } finally {
    await runner.pool.query("reset all");
  }
});

test("inside an explicit transaction, the role and claims are put back before the function returns", async () => {
  const conn = await runner.pool.connect();
  try {
    await conn.query("begin");
    const before = (await conn.query("select current_user as u, current_setting('role') as r")).rows[0];
    const { rows } = await conn.query("select name from private.storage_object_as($1, $2, $3, $4, $5)", [
      "authenticated",
      JSON.stringify({ sub: owner, role: "authenticated" }),
      1000,
      BUCKET,
      name,
    ]);
    assert.deepEqual(
      rows.map((r) => r.name),
      [name],
    );
    const after = await conn.query(
      "select current_user as u, current_setting('role') as r, current_setting('request.jwt.claims', true) as c",
    );
    assert.deepEqual({ u: after.rows[0].u, r: after.rows[0].r }, before);
    assert.ok(!after.rows[0].c, "no claims left in the transaction");
  } finally {
    await conn.query("rollback");
    conn.release();
  }
});

test("a role other than the three API roles is refused, and the connection stays as it was", async () => {
  const before = await session();
  for (const role of ["postgres", "pg_read_server_files", "none"]) {
    await assert.rejects(
      findObjectAs(runner, { role: role as Actor["role"], userId: undefined }, "t", BUCKET, name),
      (e: Error & { code?: string }) => e.code === "FORBIDDEN",
    );
  }
  assert.deepEqual(await session(), before);
});

test("claims that are not JSON fail the read and leave nothing behind", async () => {
  // On one checked-out connection: the pool's own query() discards a client whose query failed.
  const conn = await runner.pool.connect();
  const state = `select current_user as u, current_setting('role') as r,
                        current_setting('request.jwt.claims', true) as c, current_setting('lock_timeout') as l`;
  try {
    const before = (await conn.query(state)).rows[0];
    await assert.rejects(
      conn.query("select * from private.storage_object_as($1, $2, $3, $4, $5)", [
        "authenticated",
        "{not json",
        300,
        BUCKET,
        name,
      ]),
      /json/i,
    );
    assert.deepEqual((await conn.query(state)).rows[0], before);
  } finally {
    conn.release();
  }
});

test("a read waiting for a lock gives up after the runner's timeout", async () => {
  const locker = await client(runner.pool.options.connectionString as string);
  await locker.query("begin");
  await locker.query("lock table storage.objects in access exclusive mode");
  try {
    const t = performance.now();
    await assert.rejects(findObjectAs(runner, as("authenticated", owner), "t", BUCKET, name));
    assert.ok(performance.now() - t < 5000, "gave up after lock_timeout, not hanging");
  } finally {
    await locker.query("rollback");
  }
  assert.equal((await session()).lock_timeout, "0");
});
