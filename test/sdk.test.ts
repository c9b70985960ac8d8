import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { createDb, type DataErrorCode, type Db, isVpbError } from "../src/sdk/index.ts";
import { client, createDatabase, urlFor } from "./support/harness.ts";
import { PGBOUNCER, startPgBouncer } from "./support/pgbouncer.ts";
import { audioPath, insert, user } from "./support/rows.ts";

async function rejectsWith(p: Promise<unknown>, code: DataErrorCode, secret?: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isVpbError(e), `expected a VpbError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (secret) assert.ok(!e.message.includes(secret), "the message must not quote the input");
    return true;
  });
}

// The same suite runs on a direct connection, on one with prepared statements, and through
// PgBouncer in transaction mode.
// PgBouncer in transaction mode with the default (auto), which must notice it and not prepare.
const routes: Array<{ name: string; skip: string | false; prepare: boolean | undefined }> = [
  { name: "direct", skip: false, prepare: false },
  { name: "direct, prepared statements", skip: false, prepare: undefined },
  {
    name: "PgBouncer (transaction mode)",
    skip: existsSync(PGBOUNCER) || process.env.CI ? false : `${PGBOUNCER} is not installed`,
    prepare: undefined,
  },
];

for (const route of routes) {
  describe(`SDK, ${route.name}`, { skip: route.skip }, () => {
    let db: Db;
    let stopBouncer: (() => Promise<void>) | undefined;
    let owner: string;
    let editor: string;
    let viewer: string;
    let stranger: string;

    before(async () => {
      const database = await createDatabase();
      const c = await client(database.url);
      owner = (await user(c)).id;
      editor = (await user(c)).id;
      viewer = (await user(c)).id;
      stranger = (await user(c)).id;
      let url = database.url;
      if (route.name.startsWith("PgBouncer")) {
        const bouncer = await startPgBouncer(database.url, "transaction");
        stopBouncer = bouncer.stop;
        url = bouncer.url(database.name);
      }
      // A small pool, so that calls really share server connections through the pooler.
      db = createDb({
        connectionString: url,
        max: 3,
        ...(route.prepare === undefined ? {} : { prepare: route.prepare }),
      });
      const p = await db.asUser(owner).projects.create({ name: "Shared" });
      for (const [id, role] of [
        [editor, "editor"],
        [viewer, "viewer"],
      ] as const) {
        await insert(c, "collaborators", {
          project_id: p.id,
          user_id: id,
          invited_email: `${role}-${randomUUID()}@example.com`,
          role,
          invited_by: owner,
          accepted_at: new Date(),
        });
      }
      sharedId = p.id;
    });
    let sharedId: string;

    after(async () => {
      await db?.close();
      await stopBouncer?.();
    });

    test("projects: create, list page by page with a keyset cursor, get, stats", async () => {
      const me = db.asUser(owner);
      for (let i = 0; i < 5; i++) await me.projects.create({ name: `P${i}`, layout: { zoom: i } });
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await me.projects.list({ limit: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((p) => p.name));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      assert.deepEqual(seen, ["P4", "P3", "P2", "P1", "P0", "Shared"]);
      assert.equal(pages, 3);
      const stats = await me.projects.stats();
      assert.equal(stats.active_projects, 6);
      await rejectsWith(me.projects.list({ cursor: "garbage" }), "INVALID_INPUT");
      await rejectsWith(db.asUser(stranger).projects.get(sharedId), "NOT_FOUND");
      const asViewer = await db.asUser(viewer).projects.get(sharedId);
      assert.equal(asViewer.name, "Shared");
    });

    test("update with optimistic concurrency: conflict on a stale version, forbidden for a viewer", async () => {
      const p = await db.asUser(owner).projects.create({ name: "Versioned" });
      const v2 = await db.asUser(owner).projects.update(p.id, 1, { name: "Second" });
      assert.equal(v2.version, 2);
      await rejectsWith(db.asUser(owner).projects.update(p.id, 1, { name: "Stale" }), "CONFLICT");
      const shared = await db.asUser(owner).projects.get(sharedId);
      await rejectsWith(
        db.asUser(viewer).projects.update(sharedId, shared.version, { name: "Nope" }),
        "FORBIDDEN",
      );
      await rejectsWith(
        db.asUser(stranger).projects.update(sharedId, shared.version, { name: "Nope" }),
        "NOT_FOUND",
      );
      const edited = await db
        .asUser(editor)
        .projects.update(sharedId, shared.version, { description: "by the editor" });
      assert.equal(edited.description, "by the editor");
    });

    test("a whole layout change in one call: create, nest, move, delete; all or nothing", async () => {
      const p = await db.asUser(owner).projects.create({ name: "Canvas" });
      const box = randomUUID();
      const child = randomUUID();
      const gone = randomUUID();
      const r1 = await db.asUser(owner).components.applyLayout(p.id, {
        expectedVersion: 1,
        layout: { zoom: 2 },
        upsert: [
          { id: child, parent_id: box, type: "text", content: { text: "inside" } },
          { id: box, type: "container", width: 500, height: 400 },
          { id: gone, type: "note" },
        ],
      });
      assert.deepEqual(r1, { version: 2, upserted: 3, deleted: 0 });
      const r2 = await db
        .asUser(editor)
        .components.applyLayout(sharedId, { upsert: [{ id: randomUUID(), type: "note" }] });
      assert.equal(r2.upserted, 1);
      const r3 = await db.asUser(owner).components.applyLayout(p.id, {
        expectedVersion: 2,
        upsert: [{ id: child, parent_id: null, type: "text", position_x: 40 }],
        delete: [gone],
      });
      assert.deepEqual(r3, { version: 3, upserted: 1, deleted: 1 });
      const got = await db.asUser(owner).projects.get(p.id);
      assert.deepEqual(got.layout, { zoom: 2 });
      assert.deepEqual(
        got.components.map((c) => [c.id, c.parent_id, c.position_x]).sort(),
        [
          [box, null, 0],
          [child, null, 40],
        ].sort(),
      );
      await rejectsWith(
        db.asUser(owner).components.applyLayout(p.id, { expectedVersion: 2, delete: [box] }),
        "CONFLICT",
      );
      await rejectsWith(
        db.asUser(viewer).components.applyLayout(sharedId, { upsert: [{ id: randomUUID(), type: "note" }] }),
        "FORBIDDEN",
      );
      // A bad component anywhere in the batch leaves everything as it was.
      await rejectsWith(
        db.asUser(owner).components.applyLayout(p.id, {
          upsert: [
            { id: randomUUID(), type: "note" },
            { id: randomUUID(), type: "text", width: -1 },
          ],
        }),
        "INVALID_INPUT",
      );
      assert.equal((await db.asUser(owner).projects.get(p.id)).components.length, 2);
    });

    test("soft delete, restore, duplicate; the quota is enforced", async () => {
      const me = db.asUser(owner);
      const p = await me.projects.create({ name: "Trash me" });
      await me.projects.softDelete(p.id);
      await rejectsWith(db.asUser(editor).projects.softDelete(sharedId), "NOT_FOUND");
      await me.projects.restore(p.id);
      const copy = await me.projects.duplicate(sharedId, "Copy");
      assert.equal((await me.projects.get(copy)).name, "Copy");
      const active = (await me.projects.stats()).active_projects;
      for (let i = active; i < 10; i++) await me.projects.create({ name: `fill ${i}` });
      await rejectsWith(me.projects.create({ name: "eleventh" }), "QUOTA_EXCEEDED");
    });

    test("audio: register with a browser MIME type, list; bad paths are refused", async () => {
      const me = db.asUser(editor);
      const rec = await me.audio.register({
        projectId: sharedId,
        storagePath: audioPath(editor, sharedId, "take.webm"),
        mimeType: "audio/webm;codecs=opus",
        sizeBytes: 2048,
        durationMs: 1500,
      });
      assert.equal(rec.mime_type, "audio/webm");
      assert.equal(rec.owner_id, owner, "an editor's recording carries the project's owner");
      const list = await db.asUser(viewer).audio.list(sharedId);
      assert.deepEqual(
        list.items.map((r) => r.id),
        [rec.id],
      );
      await rejectsWith(
        me.audio.register({
          projectId: sharedId,
          storagePath: audioPath(owner, sharedId, "x.webm"),
          mimeType: "audio/webm",
          sizeBytes: 1,
        }),
        "INVALID_INPUT",
      );
      await rejectsWith(
        db.asUser(viewer).audio.register({
          projectId: sharedId,
          storagePath: audioPath(viewer, sharedId, "v.webm"),
          mimeType: "audio/webm",
          sizeBytes: 1,
        }),
        "FORBIDDEN",
      );
      await rejectsWith(
        me.audio.register({
          projectId: sharedId,
          storagePath: audioPath(editor, sharedId, "big.webm"),
          mimeType: "audio/webm",
          sizeBytes: 60_000_000,
        }),
        "INVALID_INPUT",
      );
    });

    test("prompts: a generation and its API usage are recorded together; history pages; costs by month", async () => {
      const me = db.asUser(owner);
      for (let i = 0; i < 3; i++) {
        await me.prompts.record({
          projectId: sharedId,
          inputSnapshot: { i },
          model: "gpt-4o",
          provider: "openai",
          status: "completed",
          output: `prompt ${i}`,
          inputTokens: 100,
          outputTokens: 50,
          costUsd: "0.0125",
          latencyMs: 900,
        });
      }
      await rejectsWith(
        me.prompts.record({
          projectId: sharedId,
          inputSnapshot: {},
          model: "m",
          provider: "p",
          status: "completed",
        }),
        "INVALID_INPUT",
      );
      const first = await me.prompts.history(sharedId, { limit: 2 });
      assert.equal(first.items.length, 2);
      assert.deepEqual(
        first.items.map((g) => g.owner_id),
        [owner, owner],
      );
      const second = await me.prompts.history(sharedId, { limit: 2, cursor: first.nextCursor as string });
      assert.equal(second.items.length, 1);
      assert.equal(second.nextCursor, undefined);
      const month = new Date().toISOString().slice(0, 7);
      const costs = await me.costs.monthly(month);
      assert.deepEqual(costs, [
        {
          provider: "openai",
          model: "gpt-4o",
          calls: 3,
          input_tokens: 300,
          output_tokens: 150,
          cost_usd: "0.037500",
        },
      ]);
      assert.deepEqual(await me.costs.monthly("2001-01"), []);
      await rejectsWith(me.costs.monthly("January"), "INVALID_INPUT");
    });

    test("collaborators: invite, accept, change role, remove; only admins manage", async () => {
      // The owner's plan is full after the quota test: the editor owns this one.
      const lead = editor;
      const p = await db.asUser(lead).projects.create({ name: "Team" });
      const email = `invitee-${randomUUID()}@example.com`;
      const invitee = (await db
        .asService()
        .transaction(
          async (tx) =>
            (
              await tx.query<{ id: string }>(
                "insert into users (email, email_verified) values ($1, now()) returning id",
                [email],
              )
            ).rows[0],
        )) as { id: string };
      const inv = await db.asUser(lead).collaborators.invite(p.id, email, "viewer");
      await rejectsWith(
        db.asUser(stranger).collaborators.invite(p.id, "x@example.com", "admin"),
        "FORBIDDEN",
      );
      await db.asUser(invitee.id).collaborators.accept(p.id);
      await rejectsWith(db.asUser(invitee.id).collaborators.accept(p.id), "NOT_FOUND");
      await rejectsWith(db.asUser(invitee.id).collaborators.changeRole(inv.id, "admin"), "NOT_FOUND");
      assert.equal((await db.asUser(lead).collaborators.changeRole(inv.id, "editor")).role, "editor");
      assert.equal((await db.asUser(invitee.id).collaborators.list(p.id)).length, 1);
      await db.asUser(invitee.id).collaborators.remove(inv.id);
      await rejectsWith(db.asUser(invitee.id).projects.get(p.id), "NOT_FOUND");
    });

    test("activity is recorded in batches; maintenance runs as the service", async () => {
      const n = await db.asUser(owner).activity.record(
        Array.from({ length: 250 }, (_, i) => ({
          action: "component.move",
          projectId: sharedId,
          metadata: { i },
        })),
      );
      assert.equal(n, 250);
      await rejectsWith(db.asUser(owner).activity.record([{ action: "Bad Action" }]), "INVALID_INPUT");
      // Within the API's window for occurred_at (a day back at most), and on the previous UTC day
      // unless the run is in the last hour of one.
      const earlier = new Date(Date.now() - 23 * 3_600_000).toISOString();
      await db.asUser(owner).activity.record([{ action: "project.open", occurredAt: earlier }]);
      const today = new Date().toISOString().slice(0, 10);
      const byDay = Object.fromEntries(
        (await db.asUser(owner).activity.trend(7)).map((d) => [d.day, d.actions]),
      );
      if (earlier.slice(0, 10) === today) assert.deepEqual(byDay, { [today]: 251 });
      else assert.deepEqual(byDay, { [earlier.slice(0, 10)]: 1, [today]: 250 });
      assert.deepEqual(
        await db.asUser(stranger).activity.trend(),
        [],
        "another user's actions are not counted",
      );
      await rejectsWith(db.asUser(owner).activity.trend(0), "INVALID_INPUT");
      const m = await db.asService().maintenance();
      assert.deepEqual(m.partitionsDropped, []);
      assert.ok(Array.isArray(m.partitionsCreated));
    });

    test("errors carry no parameter values", async () => {
      const secret = "s3cret-value-in-input";
      await rejectsWith(db.asUser(owner).projects.get(secret), "INVALID_INPUT", secret);
      await rejectsWith(
        db.asUser(owner).projects.create({ name: secret, layout: [] as unknown as Record<string, unknown> }),
        "INVALID_INPUT",
        secret,
      );
      const dup = await db
        .asService()
        .transaction(async (tx) =>
          tx.query("insert into users (email) values ($1) returning id", [`${secret}@example.com`]),
        );
      assert.equal(dup.rowCount, 1);
      await rejectsWith(
        db
          .asService()
          .transaction((tx) => tx.query("insert into users (email) values ($1)", [`${secret}@example.com`])),
        "CONFLICT",
        secret,
      );
    });
  });
}

test("prepare: the SDK's queries become prepared statements of the connection, the caller's own SQL does not", async () => {
  const database = await createDatabase();
  const c = await client(database.url);
  const me = (await user(c)).id;
  await c.end();
  for (const prepare of [true, false]) {
    // One connection, so the service transaction sees what the user's calls prepared on it.
    const db = createDb({ connectionString: database.url, max: 1, prepare });
    try {
      await db.asUser(me).projects.create({ name: "Prepared" });
      await db.asUser(me).projects.list();
      const names = await db.asService().transaction(async (tx) => {
        await tx.query("select $1::int as one", [1]);
        return (await tx.query<{ name: string }>("select name from pg_prepared_statements order by name"))
          .rows;
      });
      assert.equal(names.length, prepare ? 2 : 0, JSON.stringify(names));
      for (const { name } of names) assert.match(name, /^vpb_[A-Za-z0-9_-]{22}$/);
    } finally {
      await db.close();
    }
  }
});

describe("prepare by default (auto): where connections keep their statements, and not behind a transaction pooler", () => {
  const pooled = existsSync(PGBOUNCER) || process.env.CI ? false : `${PGBOUNCER} is not installed`;

  /** The SDK's statements prepared on the connection that served a second call (pool of one). */
  async function preparedAfterCalls(url: string): Promise<string[]> {
    const database = new URL(url).pathname.slice(1);
    const c = await client(urlFor(database));
    const me = (await user(c)).id;
    await c.end();
    const db = createDb({ connectionString: url, max: 1 });
    try {
      await db.asUser(me).projects.create({ name: "Auto" });
      await db.asUser(me).projects.list();
      return await db.asService().transaction(async (tx) => {
        const { rows } = await tx.query<{ name: string }>(
          "select name from pg_prepared_statements where name like 'vpb\\_%' order by name",
        );
        return rows.map((r) => r.name);
      });
    } finally {
      await db.close();
    }
  }

  test("direct: the SDK's queries are prepared without any option", async () => {
    assert.equal((await preparedAfterCalls((await createDatabase()).url)).length, 2);
  });

  for (const mode of ["session", "transaction"] as const) {
    test(`PgBouncer 1.18 in ${mode} mode: ${mode === "session" ? "prepared" : "not prepared, and every call works"}`, {
      skip: pooled,
    }, async () => {
      const database = await createDatabase();
      const bouncer = await startPgBouncer(database.url, mode);
      try {
        const url = bouncer.url(database.name);
        if (mode === "session") {
          assert.equal((await preparedAfterCalls(url)).length, 2);
          return;
        }
        // Many calls on several clients, so that transactions move between server connections.
        const c = await client(database.url);
        const users = await Promise.all(Array.from({ length: 6 }, async () => (await user(c)).id));
        const db = createDb({ connectionString: url, max: 6 });
        try {
          for (let round = 0; round < 5; round++) {
            await Promise.all(
              users.map(async (id, i) => {
                const me = db.asUser(id);
                const p = await me.projects.create({ name: `R${round} U${i}` });
                assert.equal((await me.projects.get(p.id)).name, `R${round} U${i}`);
                assert.equal((await me.projects.list({ limit: 200 })).items.length, round + 1);
              }),
            );
          }
          const names = await db
            .asService()
            .transaction(async (tx) => (await tx.query("select name from pg_prepared_statements")).rows);
          assert.deepEqual(names, [], "nothing was prepared behind the transaction pooler");
        } finally {
          await db.close();
        }
      } finally {
        await bouncer.stop();
      }
    });
  }
});
