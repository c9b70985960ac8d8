import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type pg from "pg";
import { becomeActor } from "./support/actors.ts";
import { client, createDatabase } from "./support/harness.ts";
import { project, user } from "./support/rows.ts";
import { jwt, objectRows, startStorage, webmBytes } from "./support/storage.ts";

const BUCKET = "audio-recordings";
const FREE_QUOTA = 1024 ** 3; // plan_storage_limit('free'), 011
let url: string;
let c: pg.Client;
let svc: Awaited<ReturnType<typeof startStorage>>;

before(async () => {
  url = (await createDatabase()).url;
  c = await client(url);
  svc = await startStorage(url);
});

after(async () => {
  await svc?.close();
});

let seq = 0;
const pathIn = (u: Member, file: string) => `${u.id}/${u.projectId}/${1_700_000_000_000 + ++seq}_${file}`;

interface Member {
  id: string;
  projectId: string;
  token: string;
}

/** A free-plan user with a project and `free` bytes left of their quota (a filler object takes the rest). */
async function member(free: number): Promise<Member> {
  const id = (await user(c, { email: `q-${randomUUID()}@example.com` })).id;
  const m: Member = {
    id,
    projectId: (await project(c, id)).id,
    token: await jwt({ sub: id, role: "authenticated" }),
  };
  await c.query(
    `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata)
     values ($1, $2, $3::uuid, $3::text, $4, jsonb_build_object('size', $5::bigint))`,
    [BUCKET, pathIn(m, "filler.webm"), id, randomUUID(), FREE_QUOTA - free],
  );
  return m;
}

const insertAs = (conn: pg.Client, m: Member, size: number, name = pathIn(m, "take.webm")) =>
  conn.query(
    `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata)
     values ($1, $2, $3::uuid, $3::text, $4, jsonb_build_object('size', $5::bigint))`,
    [BUCKET, name, m.id, randomUUID(), size],
  );

/** The SQLSTATE and detail a promise fails with. */
async function failure(p: Promise<unknown>): Promise<{ code?: string; detail?: string }> {
  let caught: { code?: string; detail?: string } | undefined;
  await assert.rejects(p, (e: Error) => {
    caught = e as typeof caught;
    return true;
  });
  return caught ?? {};
}

describe("storage quota in the database (013)", () => {
  test("an object past the plan's quota is refused (P0001, storage_quota_exceeded); one that fits exactly passes", async () => {
    const m = await member(1000);
    await c.query("begin");
    try {
      await becomeActor(c, "owner", m.id);
      await c.query("savepoint s");
      const refused = await failure(insertAs(c, m, 1001));
      assert.equal(refused.code, "P0001");
      assert.equal(refused.detail, "storage_quota_exceeded");
      await c.query("rollback to savepoint s");
      await insertAs(c, m, 1000);
    } finally {
      await c.query("rollback");
    }
    // The service writing for the user (a signed upload URL) is held to the user's quota too.
    const asService = await failure(
      c.query(
        `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata)
         values ($1, $2, $3::uuid, $3::text, $4, '{"size": 1001}')`,
        [BUCKET, pathIn(m, "signed.webm"), m.id, randomUUID()],
      ),
    );
    assert.equal(asService.detail, "storage_quota_exceeded");
  });

  test("replacing a file counts the new size in place of the old; a smaller version or a rename always passes", async () => {
    const m = await member(1000);
    const name = pathIn(m, "replace.webm");
    await insertAs(c, m, 800, name);
    // An upsert of 1000 bytes over the 800: 1000 used, not 1800.
    await c.query(
      `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata)
       values ($1, $2, $3::uuid, $3::text, $4, '{"size": 1000}')
       on conflict (bucket_id, name) do update set version = excluded.version, metadata = excluded.metadata`,
      [BUCKET, name, m.id, randomUUID()],
    );
    const grow = await failure(
      c.query(`update storage.objects set version = $2, metadata = '{"size": 1001}' where name = $1`, [
        name,
        randomUUID(),
      ]),
    );
    assert.equal(grow.detail, "storage_quota_exceeded");
    // Over the quota (the user moved from pro back to free): shrinking and renaming still pass.
    await c.query("update public.users set plan = 'pro' where id = $1", [m.id]);
    await insertAs(c, m, FREE_QUOTA);
    await c.query("update public.users set plan = 'free' where id = $1", [m.id]);
    await c.query(`update storage.objects set version = $2, metadata = '{"size": 10}' where name = $1`, [
      name,
      randomUUID(),
    ]);
    await c.query("update storage.objects set name = $2 where name = $1", [name, `${name}.moved`]);
  });

  test("two concurrent uploads cannot both take the last bytes: the second waits for the first and is refused", async () => {
    const m = await member(1000);
    const c2 = await client(url);
    await c.query("begin");
    await c2.query("begin");
    try {
      await becomeActor(c, "owner", m.id);
      await becomeActor(c2, "owner", m.id);
      await insertAs(c, m, 600);
      const pid = (await c2.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid;
      const second = insertAs(c2, m, 600).then(
        () => ({ code: "none", detail: "none" }),
        (e: { code?: string; detail?: string }) => e,
      );
      // It waits on the user's advisory lock while the first transaction is open.
      let waiting = false;
      for (let i = 0; i < 100 && !waiting; i++) {
        const { rows } = await svcAdmin(
          "select wait_event from pg_stat_activity where pid = $1 and wait_event_type = 'Lock'",
          [pid],
        );
        waiting = rows[0]?.wait_event === "advisory";
        if (!waiting) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(waiting, "the second upload waits on the per-user lock");
      await c.query("commit");
      const result = await second;
      assert.equal(result.code, "P0001");
      assert.equal(result.detail, "storage_quota_exceeded");
    } finally {
      await c.query("rollback").catch(() => {});
      await c2.query("rollback").catch(() => {});
    }
  });
});

/** A query on a third connection (c may be busy in a transaction of its own). */
let admin: pg.Client | undefined;
async function svcAdmin(sql: string, params: unknown[]) {
  admin ??= await client(url);
  return admin.query<{ wait_event: string | null }>(sql, params);
}

describe("storage quota through the storage service", () => {
  const webm = (n: number, seed = 1) => new Blob([webmBytes(n, seed)], { type: "audio/webm;codecs=opus" });
  const bucketOf = (m: Member) => svc.storage(m.token).from(BUCKET);
  const snapshot = async () => ({ rows: await objectRows(c), files: await svc.files() });
  // storage-js keeps the body's statusCode and message (not its code): the message tells quota from size.
  const quotaRefused = (r: { error: unknown }) => {
    const e = r.error as { statusCode?: string; message?: string } | null;
    return e?.statusCode === "413" && /storage quota/.test(e.message ?? "");
  };

  test("upload, update, copy and signed upload past the quota are 413 QuotaExceeded and store nothing", async () => {
    const m = await member(8000);
    const first = pathIn(m, "first.webm");
    assert.equal((await bucketOf(m).upload(first, webm(5000))).error, null);
    const before = await snapshot();

    const over = await bucketOf(m).upload(pathIn(m, "second.webm"), webm(5000));
    assert.ok(quotaRefused(over));
    assert.equal((over.error as { status?: number } | null)?.status, 400);
    // A raw body with Content-Length is refused before its bytes are stored.
    const raw = await fetch(`${svc.base}/object/${BUCKET}/${pathIn(m, "raw.webm")}`, {
      method: "POST",
      headers: { authorization: `Bearer ${m.token}`, "content-type": "audio/webm" },
      body: webmBytes(5000),
    });
    assert.equal(raw.status, 400);
    assert.deepEqual(await raw.json(), {
      statusCode: "413",
      code: "QuotaExceeded",
      error: "QuotaExceeded",
      message:
        "The upload does not fit in the storage quota of the uploader's plan: delete recordings or upgrade the plan",
    });
    const grown = await bucketOf(m).update(first, webm(8001));
    assert.ok(quotaRefused(grown));
    const copy = await bucketOf(m).copy(first, pathIn(m, "copy.webm"));
    assert.ok(quotaRefused(copy));
    const signed = await bucketOf(m).createSignedUploadUrl(pathIn(m, "signed.webm"));
    assert.equal(signed.error, null);
    const viaUrl = await bucketOf(m).uploadToSignedUrl(
      signed.data?.path as string,
      signed.data?.token as string,
      webm(5000),
    );
    assert.ok(quotaRefused(viaUrl));
    assert.deepEqual(await snapshot(), before);

    // Within the quota everything still works: the update to the last byte, then a smaller one.
    assert.equal((await bucketOf(m).update(first, webm(8000))).error, null);
    assert.equal((await bucketOf(m).update(first, webm(100))).error, null);
  });

  test("concurrent uploads that together exceed the quota: exactly one is stored", async () => {
    const m = await member(4000);
    const before = await snapshot();
    const results = await Promise.all(
      [1, 2, 3].map((i) => bucketOf(m).upload(pathIn(m, `race-${i}.webm`), webm(3000, i))),
    );
    const ok = results.filter((r) => r.error === null);
    const refused = results.filter(quotaRefused);
    assert.equal(ok.length, 1);
    assert.equal(refused.length, 2);
    const afterwards = await snapshot();
    assert.equal(afterwards.rows.length, before.rows.length + 1);
    assert.equal(afterwards.files.objects.length, before.files.objects.length + 1);
    assert.deepEqual(afterwards.files.tmp, []);
  });
});
