import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import type pg from "pg";
import { createDb, type DataErrorCode, type Db, type ErrorCode, isVpbError } from "../src/sdk/index.ts";
import { client, createDatabase } from "./support/harness.ts";
import { component, insert, project, user } from "./support/rows.ts";
import { JWT_SECRET, objectRows, startStorage, webmBytes } from "./support/storage.ts";

const BUCKET = "audio-recordings";
const LIMIT = 65_536; // this database's bucket limit: the oversize case stays small
let c: pg.Client;
let svc: Awaited<ReturnType<typeof startStorage>>;
let db: Db;
let url: string;
const ids: Record<"owner" | "editor" | "viewer" | "stranger", string> = {
  owner: "",
  editor: "",
  viewer: "",
  stranger: "",
};
let projectId: string;
let foreignComponent: string;

async function rejectsWith(p: Promise<unknown>, code: DataErrorCode | ErrorCode) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isVpbError(e), `expected a VpbError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

before(async () => {
  const database = await createDatabase();
  url = database.url;
  c = await client(url);
  for (const who of Object.keys(ids) as Array<keyof typeof ids>) {
    ids[who] = (await user(c, { email: `${who}-${randomUUID()}@example.com` })).id;
  }
  projectId = (await project(c, ids.owner)).id;
  for (const role of ["editor", "viewer"] as const) {
    await insert(c, "collaborators", {
      project_id: projectId,
      user_id: ids[role],
      invited_email: `${role}@example.com`,
      role,
      invited_by: ids.owner,
      accepted_at: new Date(),
    });
  }
  foreignComponent = (await component(c, (await project(c, ids.owner)).id)).id;
  await c.query("update storage.buckets set file_size_limit = $2 where id = $1", [BUCKET, LIMIT]);
  svc = await startStorage(url);
  db = createDb({
    connectionString: url,
    max: 3,
    storage: { driver: svc.driver, jwtSecret: JWT_SECRET, url: svc.base },
  });
});

after(async () => {
  await db?.close();
  await svc?.close();
});

/** Everything an upload could leave: storage rows, recordings, object files and temporary files. */
async function snapshot() {
  const recordings = (await c.query("select id from public.audio_recordings order by id")).rows;
  return { rows: await objectRows(c), recordings, files: await svc.files() };
}

const options = (filename: string) => ({ filename, mimeType: "audio/webm;codecs=opus" });

describe("SDK audio over the storage driver", () => {
  test("upload stores file, storage row and recording in one step; signedUrl reads it through the service; remove takes all three", async () => {
    const body = webmBytes(5000, 3);
    const rec = await db.asUser(ids.editor).audio.upload(projectId, body, {
      ...options("take one ü.webm"),
      durationSeconds: 1.5,
    });
    assert.match(rec.storage_path, new RegExp(`^${ids.editor}/${projectId}/\\d{13}_take one ü\\.webm$`));
    assert.equal(rec.user_id, ids.editor);
    assert.equal(rec.mime_type, "audio/webm");
    assert.equal(Number(rec.size_bytes), 5000);
    assert.equal(rec.duration_ms, 1500);
    const row = (await objectRows(c)).find((r) => r.name === rec.storage_path);
    assert.equal(row?.owner, ids.editor);
    const files = await svc.files();
    assert.ok(files.objects.includes(`${BUCKET}/${row?.version}`));
    assert.deepEqual(files.tmp, []);

    // A member reads it by the signed URL, as an <audio> element would (Range included).
    const signed = await db.asUser(ids.viewer).audio.signedUrl(rec.id, { expiresIn: 60 });
    assert.ok(signed.startsWith(`${svc.base}/object/sign/${BUCKET}/`));
    const whole = await fetch(signed);
    assert.equal(whole.status, 200);
    assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), body);
    const part = await fetch(signed, { headers: { range: "bytes=10-19" } });
    assert.equal(part.status, 206);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), body.slice(10, 20));
    await rejectsWith(db.asUser(ids.stranger).audio.signedUrl(rec.id, { expiresIn: 60 }), "NOT_FOUND");
    await rejectsWith(db.asUser(ids.viewer).audio.signedUrl(rec.id, { expiresIn: 0 }), "INVALID_INPUT");
    await rejectsWith(
      db.asUser(ids.viewer).audio.signedUrl(rec.id, { expiresIn: 8 * 24 * 3600 }),
      "INVALID_INPUT",
    );

    // A viewer may not delete: nothing changes.
    const before = await snapshot();
    await rejectsWith(db.asUser(ids.viewer).audio.remove(rec.id), "FORBIDDEN");
    assert.deepEqual(await snapshot(), before);

    await db.asUser(ids.editor).audio.remove(rec.id);
    const afterwards = await snapshot();
    assert.ok(!afterwards.recordings.some((r) => r.id === rec.id));
    assert.ok(!afterwards.rows.some((r) => r.name === rec.storage_path));
    assert.ok(!afterwards.files.objects.includes(`${BUCKET}/${row?.version}`));
    const gone = await fetch(signed);
    assert.equal(gone.status, 400);
    assert.equal(((await gone.json()) as { statusCode: string }).statusCode, "404");
    await rejectsWith(db.asUser(ids.editor).audio.remove(rec.id), "NOT_FOUND");
  });

  test("an editor may delete the recording row but not the owner's file: remove is refused whole", async () => {
    const rec = await db.asUser(ids.owner).audio.upload(projectId, webmBytes(300), options("owner.webm"));
    const before = await snapshot();
    await rejectsWith(db.asUser(ids.editor).audio.remove(rec.id), "FORBIDDEN");
    assert.deepEqual(await snapshot(), before);
    await db.asUser(ids.owner).audio.remove(rec.id);
  });

  test("a streamed body of unknown length is counted as it arrives and stored", async () => {
    const chunks = [webmBytes(2000, 1), webmBytes(2000, 2).slice(40)];
    const rec = await db
      .asUser(ids.owner)
      .audio.upload(projectId, Readable.from(chunks.map((b) => Buffer.from(b))), options("stream.webm"));
    assert.equal(Number(rec.size_bytes), 3960);
  });

  test("refusals store nothing: wrong bytes, a type the bucket refuses, oversize, a viewer, a bad name, a component of another project, the storage quota", async () => {
    const before = await snapshot();
    const owner = db.asUser(ids.owner);
    await rejectsWith(
      owner.audio.upload(projectId, new TextEncoder().encode("not audio at all"), options("x.webm")),
      "INVALID_INPUT",
    );
    await rejectsWith(
      owner.audio.upload(projectId, webmBytes(100), { filename: "x.txt", mimeType: "text/plain" }),
      "INVALID_INPUT",
    );
    await rejectsWith(
      owner.audio.upload(projectId, webmBytes(LIMIT + 1), options("big.webm")),
      "INVALID_INPUT",
    );
    // Streamed past the limit, no length known in advance.
    await rejectsWith(
      owner.audio.upload(
        projectId,
        Readable.from([Buffer.from(webmBytes(LIMIT)), Buffer.from(webmBytes(100))]),
        options("big-stream.webm"),
      ),
      "INVALID_INPUT",
    );
    await rejectsWith(
      db.asUser(ids.viewer).audio.upload(projectId, webmBytes(100), options("v.webm")),
      "FORBIDDEN",
    );
    await rejectsWith(
      db.asUser(ids.stranger).audio.upload(projectId, webmBytes(100), options("s.webm")),
      "FORBIDDEN",
    );
    await rejectsWith(owner.audio.upload(projectId, webmBytes(100), options("a/b.webm")), "INVALID_INPUT");
    await rejectsWith(
      owner.audio.upload(projectId, webmBytes(100), options("a\u0000.webm")),
      "INVALID_INPUT",
    );
    // The bytes are stored before the recording's row fails: they must be removed again.
    await rejectsWith(
      owner.audio.upload(projectId, webmBytes(100), { ...options("c.webm"), componentId: foreignComponent }),
      "NOT_FOUND",
    );
    assert.deepEqual(await snapshot(), before);

    // The storage quota: a filler object leaves 1000 bytes of the free plan's 1 GiB.
    const full = (await user(c, { email: `full-${randomUUID()}@example.com` })).id;
    const fullProject = (await project(c, full)).id;
    await c.query(
      `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata)
       values ($1, $2, $3::uuid, $3::text, $4, jsonb_build_object('size', $5::bigint))`,
      [BUCKET, `${full}/${fullProject}/1700000000000_filler.webm`, full, randomUUID(), 1024 ** 3 - 1000],
    );
    const filled = await snapshot();
    await rejectsWith(
      db.asUser(full).audio.upload(fullProject, webmBytes(1001), options("over.webm")),
      "STORAGE_QUOTA_EXCEEDED",
    );
    // Streamed (no length known): refused after the bytes, which are removed.
    await rejectsWith(
      db
        .asUser(full)
        .audio.upload(fullProject, Readable.from([Buffer.from(webmBytes(1001))]), options("s.webm")),
      "STORAGE_QUOTA_EXCEEDED",
    );
    assert.deepEqual(await snapshot(), filled);
    const fits = await db.asUser(full).audio.upload(fullProject, webmBytes(1000), options("fits.webm"));
    assert.equal(Number(fits.size_bytes), 1000);
  });

  test("without the storage option, the file calls say what is missing", async () => {
    const bare = createDb({ connectionString: url, max: 1 });
    try {
      await rejectsWith(
        bare.asUser(ids.owner).audio.upload(projectId, webmBytes(100), options("x.webm")),
        "CONFIG_INVALID",
      );
      await rejectsWith(
        bare.asUser(ids.owner).audio.signedUrl(randomUUID(), { expiresIn: 60 }),
        "CONFIG_INVALID",
      );
    } finally {
      await bare.close();
    }
  });
});
