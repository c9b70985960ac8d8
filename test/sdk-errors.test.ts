import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { createDb, type DataErrorCode, type Db, isVpbError } from "../src/sdk/index.ts";
import { client, createDatabase } from "./support/harness.ts";
import { user } from "./support/rows.ts";

async function rejectsWith(p: Promise<unknown>, code: DataErrorCode, pattern?: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isVpbError(e), `expected a VpbError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

let db: Db;
let owner: string;
let projectId: string;
let url: string;

before(async () => {
  const database = await createDatabase();
  const c = await client(database.url);
  owner = (await user(c)).id;
  url = database.url;
  db = createDb({ connectionString: database.url, max: 2 });
  projectId = (await db.asUser(owner).projects.create({ name: "Errors" })).id;
});

after(async () => {
  await db?.close();
});

/** {a: {a: ... {} }} nested `depth` objects deep. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

test("a statement past statementTimeoutMs fails with STATEMENT_TIMEOUT", async () => {
  const hasty = createDb({ connectionString: url, max: 1, statementTimeoutMs: 200 });
  try {
    await rejectsWith(
      hasty.asService().transaction((tx) => tx.query("select pg_sleep(3)")),
      "STATEMENT_TIMEOUT",
      /^service\.transaction: /,
    );
    // The connection is fine afterwards.
    assert.equal((await hasty.asUser(owner).projects.get(projectId)).name, "Errors");
  } finally {
    await hasty.close();
  }
});

test("a database without the schema fails with SCHEMA_MISSING, for a missing table and a missing function", async () => {
  const empty = await createDatabase("empty");
  const bare = createDb({ connectionString: empty.url, max: 1 });
  try {
    const me = bare.asUser(randomUUID());
    await rejectsWith(me.projects.list(), "SCHEMA_MISSING", /projects\.list: a table does not exist/);
    await rejectsWith(me.projects.stats(), "SCHEMA_MISSING", /projects\.stats: a function does not exist/);
  } finally {
    await bare.close();
  }
});

test("JSON nested past the bound is refused with INVALID_INPUT, not a RangeError; 64 levels pass", async () => {
  const me = db.asUser(owner);
  await rejectsWith(
    me.projects.create({ name: "Deep", layout: nested(4_500) }),
    "INVALID_INPUT",
    /layout is nested deeper than 64 levels/,
  );
  await rejectsWith(me.projects.create({ name: "Deep", settings: nested(65) }), "INVALID_INPUT");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await rejectsWith(me.projects.create({ name: "Cycle", layout: cyclic }), "INVALID_INPUT");
  await rejectsWith(
    me.components.applyLayout(projectId, {
      upsert: [{ id: randomUUID(), type: "note", content: { list: [nested(4_500)] } }],
    }),
    "INVALID_INPUT",
  );
  await rejectsWith(me.activity.record([{ action: "project.open", metadata: nested(100) }]), "INVALID_INPUT");
  const ok = await me.projects.create({ name: "Deep enough", layout: nested(64) });
  assert.deepEqual(ok.layout, nested(64));
});

test("a number that is not finite is refused, never stored as 0 or null", async () => {
  const me = db.asUser(owner);
  const id = randomUUID();
  // What JSON.parse makes of a request body's 1e309.
  const huge = Number("1e309");
  await rejectsWith(
    me.components.applyLayout(projectId, { upsert: [{ id, type: "note", position_x: huge }] }),
    "INVALID_INPUT",
    /upsert\[0\]\.position_x must be a finite number/,
  );
  await rejectsWith(
    me.components.applyLayout(projectId, { upsert: [{ id, type: "note", width: Number.NaN }] }),
    "INVALID_INPUT",
  );
  await rejectsWith(
    me.components.applyLayout(projectId, { upsert: [{ id, type: "note", content: { zoom: -huge } }] }),
    "INVALID_INPUT",
    /content contains a number that is not finite/,
  );
  await rejectsWith(me.projects.create({ name: "NaN", layout: { zoom: Number.NaN } }), "INVALID_INPUT");
  assert.equal((await me.projects.get(projectId)).components.length, 0, "nothing was written");
});

test("a lone surrogate is refused in text, JSON strings and JSON keys, never turned into U+FFFD", async () => {
  const me = db.asUser(owner);
  const lone = "half \ud83d of an emoji";
  const before = (await me.projects.list({ limit: 200 })).items.length;
  await rejectsWith(me.projects.create({ name: lone }), "INVALID_INPUT", /name must be well-formed text/);
  await rejectsWith(me.projects.create({ name: "ok", description: "\udc00 trailing half" }), "INVALID_INPUT");
  await rejectsWith(
    me.projects.create({ name: "ok", layout: { title: lone } }),
    "INVALID_INPUT",
    /layout contains text with a lone UTF-16 surrogate/,
  );
  await rejectsWith(
    me.projects.create({ name: "ok", layout: { [lone]: 1 } }),
    "INVALID_INPUT",
    /layout contains a key with a lone UTF-16 surrogate/,
  );
  await rejectsWith(me.projects.update(projectId, 1, { name: lone }), "INVALID_INPUT");
  await rejectsWith(
    me.prompts.record({
      projectId,
      inputSnapshot: {},
      model: "m",
      provider: "p",
      status: "completed",
      output: lone,
    }),
    "INVALID_INPUT",
    /output must be well-formed text/,
  );
  assert.equal((await me.projects.list({ limit: 200 })).items.length, before, "nothing was created");
  // A whole pair is fine and comes back as it went.
  const emoji = await me.projects.create({
    name: "smile \ud83d\ude00",
    layout: { "\ud83d\ude00": "\ud83d\ude00" },
  });
  assert.equal(emoji.name, "smile 😀");
  assert.deepEqual(emoji.layout, { "😀": "😀" });
});
