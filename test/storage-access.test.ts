/**
 * Every call of @supabase/storage-js against the storage service, as each actor of the access matrix
 * (database/policies/access-matrix.json, `storage`): one test per call and actor, its outcome derived
 * from the matrix's cell, asserting what the client sees and what is stored afterwards.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { StorageClient } from "@supabase/storage-js";
import type pg from "pg";
import { client, createDatabase, ROOT } from "./support/harness.ts";
import { insert, project, user } from "./support/rows.ts";
import { jwt, startStorage, webmBytes } from "./support/storage.ts";

const BUCKET = "audio-recordings";
type Op = "select" | "insert" | "update" | "delete";
type Role = "owner" | "admin" | "editor" | "viewer" | "stranger" | "anon" | "service_role";
const ROLES: Role[] = ["owner", "admin", "editor", "viewer", "stranger", "anon", "service_role"];

const matrix = JSON.parse(readFileSync(path.join(ROOT, "database/policies/access-matrix.json"), "utf8")) as {
  storage: Record<string, Record<Op, Role[]>>;
};
const cell = matrix.storage[BUCKET] as Record<Op, Role[]>;
const may = (role: Role, op: Op) => cell[op].includes(role);

let c: pg.Client;
let svc: Awaited<ReturnType<typeof startStorage>>;
let projectId: string;
const ids = {} as Record<Role, string | undefined>;
const tokens = {} as Record<Role, string>;

before(async () => {
  const db = await createDatabase();
  c = await client(db.url);
  for (const role of ["owner", "admin", "editor", "viewer", "stranger"] as const) {
    ids[role] = (await user(c, { email: `${role}-${randomUUID()}@example.com` })).id;
    tokens[role] = await jwt({ sub: ids[role], role: "authenticated" });
  }
  projectId = (await project(c, ids.owner as string)).id;
  for (const role of ["admin", "editor", "viewer"] as const) {
    await insert(c, "collaborators", {
      project_id: projectId,
      user_id: ids[role],
      invited_email: `${role}@example.com`,
      role,
      invited_by: ids.owner,
      accepted_at: new Date(),
    });
  }
  svc = await startStorage(db.url);
  tokens.anon = svc.anonKey;
  tokens.service_role = await jwt({ role: "service_role" });
});

after(async () => {
  await svc?.close();
});

let seq = 0;
/** A new name in the project under `uid`'s folder (policies: `{user_id}/{project_id}/{timestamp}_{file}`). */
const nameIn = (uid: string, file: string) => `${uid}/${projectId}/${1_700_000_000_000 + ++seq}_${file}`;
const ORIGINAL = webmBytes(200, 1);
const REPLACEMENT = webmBytes(300, 2);
const blob = (b: Uint8Array<ArrayBuffer>) => new Blob([b], { type: "audio/webm;codecs=opus" });
const filesOf = (role: Role) => (svc.storage(tokens[role]) as StorageClient).from(BUCKET);

/** The target of a cell: a fresh object the owner uploaded into the project. */
async function ownerObject(): Promise<string> {
  const name = nameIn(ids.owner as string, "target.webm");
  const r = await filesOf("owner").upload(name, blob(ORIGINAL));
  assert.equal(r.error, null);
  return name;
}

async function row(name: string) {
  const { rows } = await c.query<{ owner: string | null; size: number; version: string }>(
    "select owner, (metadata->>'size')::int as size, version from storage.objects where bucket_id = $1 and name = $2",
    [BUCKET, name],
  );
  return rows[0];
}

const statusCode = (e: unknown) => (e as { statusCode?: string } | null)?.statusCode;

interface Ctx {
  role: Role;
  files: ReturnType<typeof filesOf>;
  /** Where the actor writes: their own folder; anon and the service (no user) write in the owner's. */
  folder: string;
  /** The user a new object belongs to (null for the service, which writes without a user). */
  uploader: string | null;
}

interface Call {
  name: string;
  /** What the matrix must allow: one operation, or all of several (copy reads the source, inserts the copy). */
  ops: Op[];
  allowed(ctx: Ctx): Promise<void>;
  denied(ctx: Ctx): Promise<void>;
}

const CALLS: Call[] = [
  {
    name: "upload",
    ops: ["insert"],
    async allowed({ files, folder, uploader }) {
      const name = nameIn(folder, "new.webm");
      const r = await files.upload(name, blob(ORIGINAL));
      assert.equal(r.error, null);
      assert.equal(r.data?.path, name);
      assert.equal((await row(name))?.owner, uploader);
    },
    async denied({ files, folder }) {
      const name = nameIn(folder, "new.webm");
      const r = await files.upload(name, blob(ORIGINAL));
      assert.equal(statusCode(r.error), "403");
      assert.equal(await row(name), undefined);
    },
  },
  {
    name: "update",
    ops: ["update"],
    async allowed({ files }) {
      const name = await ownerObject();
      const r = await files.update(name, blob(REPLACEMENT));
      assert.equal(r.error, null);
      assert.equal((await row(name))?.size, REPLACEMENT.length);
    },
    async denied({ files }) {
      const name = await ownerObject();
      const before = await row(name);
      const r = await files.update(name, blob(REPLACEMENT));
      // Only the uploader's own object is there to update: any other is "not found".
      assert.equal(statusCode(r.error), "404");
      assert.deepEqual(await row(name), before);
    },
  },
  {
    name: "download",
    ops: ["select"],
    async allowed({ files }) {
      const r = await files.download(await ownerObject());
      assert.equal(r.error, null);
      assert.deepEqual(new Uint8Array(await (r.data as Blob).arrayBuffer()), ORIGINAL);
    },
    async denied({ files }) {
      const r = await files.download(await ownerObject());
      assert.equal(r.data, null);
      assert.equal(statusCode(r.error), "404");
    },
  },
  {
    name: "info",
    ops: ["select"],
    async allowed({ files }) {
      const r = await files.info(await ownerObject());
      assert.equal(r.error, null);
      assert.equal(r.data?.size, ORIGINAL.length);
    },
    async denied({ files }) {
      const r = await files.info(await ownerObject());
      assert.equal(statusCode(r.error), "404");
    },
  },
  {
    name: "exists",
    ops: ["select"],
    async allowed({ files }) {
      assert.deepEqual(await files.exists(await ownerObject()), { data: true, error: null });
    },
    async denied({ files }) {
      // A HEAD answer has no body: storage-js sees Supabase's (and our) HTTP 400 for "not found".
      const r = await files.exists(await ownerObject());
      assert.equal(r.data, false);
      assert.equal((r.error as { status?: number } | null)?.status, 400);
    },
  },
  {
    name: "list",
    ops: ["select"],
    async allowed({ files }) {
      const name = await ownerObject();
      const r = await files.list(`${ids.owner}/${projectId}`, { limit: 1000 });
      assert.equal(r.error, null);
      assert.ok(r.data?.some((e) => e.name === name.split("/").pop()));
    },
    async denied({ files }) {
      await ownerObject();
      const r = await files.list(`${ids.owner}/${projectId}`, { limit: 1000 });
      assert.equal(r.error, null);
      assert.deepEqual(r.data, []);
    },
  },
  {
    name: "remove",
    ops: ["delete"],
    async allowed({ files }) {
      const name = await ownerObject();
      const version = (await row(name))?.version;
      const r = await files.remove([name]);
      assert.equal(r.error, null);
      assert.deepEqual(
        r.data?.map((o) => o.name),
        [name],
      );
      assert.equal(await row(name), undefined);
      assert.ok(!(await svc.files()).objects.includes(`${BUCKET}/${version}`));
    },
    async denied({ files }) {
      const name = await ownerObject();
      const r = await files.remove([name]);
      // As on Supabase: what the caller may not delete is not removed and not listed.
      assert.equal(r.error, null);
      assert.deepEqual(r.data, []);
      assert.ok(await row(name));
    },
  },
  {
    name: "move",
    ops: ["update"],
    async allowed({ files }) {
      const name = await ownerObject();
      const to = nameIn(ids.owner as string, "moved.webm");
      const r = await files.move(name, to);
      assert.equal(r.error, null);
      assert.equal(await row(name), undefined);
      assert.equal((await row(to))?.size, ORIGINAL.length);
    },
    async denied({ files, folder }) {
      const name = await ownerObject();
      const to = nameIn(folder, "moved.webm");
      const r = await files.move(name, to);
      assert.equal(statusCode(r.error), "404");
      assert.ok(await row(name));
      assert.equal(await row(to), undefined);
    },
  },
  {
    name: "copy",
    ops: ["select", "insert"],
    async allowed({ files, folder, uploader }) {
      const to = nameIn(folder, "copy.webm");
      const r = await files.copy(await ownerObject(), to);
      assert.equal(r.error, null);
      const copied = await row(to);
      assert.equal(copied?.owner, uploader);
      assert.equal(copied?.size, ORIGINAL.length);
    },
    async denied({ role, files, folder }) {
      const to = nameIn(folder, "copy.webm");
      const r = await files.copy(await ownerObject(), to);
      // A reader who may not write is refused the copy; one who cannot read does not find the source.
      assert.equal(statusCode(r.error), may(role, "select") ? "403" : "404");
      assert.equal(await row(to), undefined);
    },
  },
  {
    name: "createSignedUrl",
    ops: ["select"],
    async allowed({ files }) {
      const r = await files.createSignedUrl(await ownerObject(), 60);
      assert.equal(r.error, null);
      const res = await fetch(r.data?.signedUrl as string);
      assert.equal(res.status, 200);
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), ORIGINAL);
    },
    async denied({ files }) {
      const r = await files.createSignedUrl(await ownerObject(), 60);
      assert.equal(r.data, null);
      assert.equal(statusCode(r.error), "404");
    },
  },
  {
    name: "createSignedUrls",
    ops: ["select"],
    async allowed({ files }) {
      const r = await files.createSignedUrls([await ownerObject()], 60);
      assert.equal(r.error, null);
      const res = await fetch(r.data?.[0]?.signedUrl as string);
      assert.equal(res.status, 200);
    },
    async denied({ files }) {
      const r = await files.createSignedUrls([await ownerObject()], 60);
      assert.equal(r.error, null);
      assert.equal(r.data?.[0]?.signedUrl, null);
      assert.ok(r.data?.[0]?.error);
    },
  },
  {
    name: "createSignedUploadUrl + uploadToSignedUrl",
    ops: ["insert"],
    async allowed({ files, folder, uploader }) {
      const name = nameIn(folder, "signed-upload.webm");
      const signed = await files.createSignedUploadUrl(name);
      assert.equal(signed.error, null);
      const up = await files.uploadToSignedUrl(name, signed.data?.token as string, blob(ORIGINAL));
      assert.equal(up.error, null);
      // Owned by whoever signed the URL, as on Supabase.
      assert.equal((await row(name))?.owner, uploader);
    },
    async denied({ files, folder }) {
      const name = nameIn(folder, "signed-upload.webm");
      const signed = await files.createSignedUploadUrl(name);
      assert.equal(signed.data, null);
      assert.equal(statusCode(signed.error), "403");
      assert.equal(await row(name), undefined);
    },
  },
];

describe("storage-js against the storage service, across the access matrix", () => {
  test("the matrix's storage row is the one this table reads", () => {
    assert.deepEqual(Object.keys(matrix.storage), [BUCKET]);
    for (const op of ["select", "insert", "update", "delete"] as const)
      assert.ok(Array.isArray(cell[op]), op);
  });
  for (const role of ROLES) {
    describe(role, () => {
      for (const call of CALLS) {
        const allowed = call.ops.every((op) => may(role, op));
        test(`${call.name}: ${allowed ? "allowed" : "denied"} (${call.ops.join("+")})`, async () => {
          const own = ids[role];
          const ctx: Ctx = {
            role,
            files: filesOf(role),
            folder: own ?? (ids.owner as string),
            uploader: role === "anon" || role === "service_role" ? null : (own as string),
          };
          await (allowed ? call.allowed(ctx) : call.denied(ctx));
        });
      }
    });
  }
});
