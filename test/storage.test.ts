import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type pg from "pg";
import { becomeActor } from "./support/actors.ts";
import { client, createDatabase } from "./support/harness.ts";
import { insert, project, user } from "./support/rows.ts";
import { DRIVERS, jwt, objectRows, startStorage, webmBytes } from "./support/storage.ts";

const BUCKET = "audio-recordings";
let c: pg.Client;
let svc: Awaited<ReturnType<typeof startStorage>>;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};
let projectId: string;

const pathOf = (who: string, file: string) => `${ids[who]}/${projectId}/${Date.now()}_${file}`;
const bucketOf = (who: string) => svc.storage(tokens[who] as string).from(BUCKET);
const webm = (bytes: Uint8Array<ArrayBuffer> | string) =>
  new Blob([bytes], { type: "audio/webm;codecs=opus" });
const bytes = webmBytes;

/** What is stored: rows, object files and temporary files, to compare before and after a refusal. */
async function snapshot() {
  return { rows: await objectRows(c), files: await svc.files() };
}

// Every test runs on each driver, each with a database and a store of its own.
for (const kind of DRIVERS)
  describe(`storage over HTTP with @supabase/storage-js (${kind} driver)`, () => {
    before(async () => {
      const db = await createDatabase();
      c = await client(db.url);
      for (const who of ["owner", "editor", "viewer", "stranger"]) {
        ids[who] = (await user(c, { email: `${who}-${randomUUID()}@example.com` })).id;
        tokens[who] = await jwt({ sub: ids[who], role: "authenticated", email: `${who}@example.com` });
      }
      projectId = (await project(c, ids.owner as string)).id;
      for (const role of ["editor", "viewer"]) {
        await insert(c, "collaborators", {
          project_id: projectId,
          user_id: ids[role],
          invited_email: `${role}@example.com`,
          role,
          invited_by: ids.owner,
          accepted_at: new Date(),
        });
      }
      tokens.service = await jwt({ role: "service_role" });
      // A small limit for this database's bucket, so the oversize cases stay quick: it comes from the row.
      await c.query("update storage.buckets set file_size_limit = 65536 where id = $1", [BUCKET]);
      svc = await startStorage(db.url, { signedUrlMaxExpiresIn: 3600, driver: kind });
    });

    after(async () => {
      await svc?.close();
    });

    test("an editor uploads, reads back, and the row and one file exist, no temporary file", async () => {
      const name = pathOf("editor", "take.webm");
      const body = bytes(5000);
      const up = await bucketOf("editor").upload(name, webm(body));
      assert.equal(up.error, null);
      assert.equal(up.data?.path, name);
      assert.equal(up.data?.fullPath, `${BUCKET}/${name}`);
      const row = (await objectRows(c)).find((r) => r.name === name);
      assert.equal(row?.owner, ids.editor);
      const files = await svc.files();
      assert.ok(files.objects.includes(`${BUCKET}/${row?.version}`));
      assert.deepEqual(files.tmp, []);
      const down = await bucketOf("editor").download(name);
      assert.equal(down.error, null);
      assert.deepEqual(new Uint8Array(await (down.data as Blob).arrayBuffer()), body);
      // The owner and the viewer of the project read it too (005: every member reads).
      for (const who of ["owner", "viewer"]) {
        const d = await bucketOf(who).download(name);
        assert.equal(d.error, null, who);
      }
      const info = await bucketOf("owner").info(name);
      assert.equal(info.error, null);
      assert.equal(info.data?.size, 5000);
      // A multipart part's type arrives without its parameters; the bucket judged it as audio/webm.
      assert.equal(info.data?.contentType, "audio/webm");
      assert.deepEqual(await bucketOf("viewer").exists(name), { data: true, error: null });
      assert.equal((await bucketOf("viewer").exists(`${name}.missing`)).data, false);
    });

    test("a Range request answers 206 with the slice, Content-Range and Accept-Ranges", async () => {
      const name = pathOf("owner", "seek.webm");
      const body = bytes(1000, 7);
      assert.equal((await bucketOf("owner").upload(name, webm(body))).error, null);
      const res = await fetch(`${svc.base}/object/authenticated/${BUCKET}/${name}`, {
        headers: { authorization: `Bearer ${tokens.viewer}`, range: "bytes=100-199" },
      });
      assert.equal(res.status, 206);
      assert.equal(res.headers.get("content-range"), "bytes 100-199/1000");
      assert.equal(res.headers.get("accept-ranges"), "bytes");
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), body.slice(100, 200));
      const tail = await fetch(`${svc.base}/object/${BUCKET}/${name}`, {
        headers: { authorization: `Bearer ${tokens.viewer}`, range: "bytes=-10" },
      });
      assert.equal(tail.status, 206);
      assert.deepEqual(new Uint8Array(await tail.arrayBuffer()), body.slice(990));
      const beyond = await fetch(`${svc.base}/object/${BUCKET}/${name}`, {
        headers: { authorization: `Bearer ${tokens.viewer}`, range: "bytes=5000-" },
      });
      assert.equal(beyond.status, 416);
      assert.equal(beyond.headers.get("content-range"), "bytes */1000");
    });

    test("a signed URL reads its object (with Range) and nothing else; expired, tampered and wrong-scope tokens are refused", async () => {
      const name = pathOf("owner", "signed.webm");
      const other = pathOf("owner", "other.webm");
      const body = bytes(300, 3);
      await bucketOf("owner").upload(name, webm(body));
      await bucketOf("owner").upload(other, webm(bytes(40)));
      const signed = await bucketOf("viewer").createSignedUrl(name, 60);
      assert.equal(signed.error, null);
      const url = signed.data?.signedUrl as string;
      const ok = await fetch(url);
      assert.equal(ok.status, 200);
      assert.deepEqual(new Uint8Array(await ok.arrayBuffer()), body);
      const part = await fetch(url, { headers: { range: "bytes=0-9" } });
      assert.equal(part.status, 206);

      const token = new URL(url).searchParams.get("token") as string;
      const refusal = async (u: string) => {
        const res = await fetch(u);
        assert.equal(res.status, 400);
        return ((await res.json()) as { statusCode: string; code: string }).code;
      };
      // The same token on another object's path.
      assert.equal(
        await refusal(`${svc.base}/object/sign/${BUCKET}/${other}?token=${token}`),
        "InvalidSignature",
      );
      // A payload edited to name the other object: the signature no longer matches.
      const [h, p, s] = token.split(".") as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, "base64url").toString());
      const forged = Buffer.from(JSON.stringify({ ...claims, url: `${BUCKET}/${other}` })).toString(
        "base64url",
      );
      assert.equal(
        await refusal(`${svc.base}/object/sign/${BUCKET}/${other}?token=${h}.${forged}.${s}`),
        "InvalidJWT",
      );
      // Expired, and upload-scoped, tokens signed with the right secret.
      const expired = await jwt({ url: `${BUCKET}/${name}`, scope: "download" }, -10);
      assert.equal(
        await refusal(`${svc.base}/object/sign/${BUCKET}/${name}?token=${expired}`),
        "ExpiredToken",
      );
      const upload = await jwt({ url: `${BUCKET}/${name}`, scope: "upload" });
      assert.equal(
        await refusal(`${svc.base}/object/sign/${BUCKET}/${name}?token=${upload}`),
        "InvalidSignature",
      );
      // A user's own session JWT is not a URL token.
      assert.equal(
        await refusal(`${svc.base}/object/sign/${BUCKET}/${name}?token=${tokens.owner}`),
        "InvalidSignature",
      );
      // A stranger cannot sign what it cannot read.
      const denied = await bucketOf("stranger").createSignedUrl(name, 60);
      assert.equal(denied.error?.statusCode, "404");
      // Too long a lifetime is refused (the maximum is configured: 3600 here).
      assert.equal((await bucketOf("owner").createSignedUrl(name, 3601)).error?.statusCode, "400");

      const many = await bucketOf("viewer").createSignedUrls([name, `${name}.missing`], 60);
      assert.equal(many.error, null);
      assert.ok(many.data?.[0]?.signedUrl);
      assert.equal(many.data?.[1]?.signedUrl, null);
    });

    test("a stranger, a viewer and anon are refused as storage-js reports it; nothing is stored", async () => {
      const before = await snapshot();
      for (const who of ["stranger", "viewer"]) {
        const r = await bucketOf(who).upload(pathOf("owner", "intrusion.webm"), webm(bytes(100)));
        assert.equal(r.error?.statusCode, "403", who);
        assert.equal((r.error as { status?: number } | null)?.status, 400);
        const own = await bucketOf(who).upload(pathOf(who, "mine.webm"), webm(bytes(100)));
        assert.equal(own.error?.statusCode, "403", `${who} in a project it may not edit`);
      }
      const anon = await svc
        .storage(svc.anonKey)
        .from(BUCKET)
        .upload(pathOf("owner", "anon.webm"), webm(bytes(40)));
      assert.equal(anon.error?.statusCode, "403");
      const noToken = await fetch(`${svc.base}/object/${BUCKET}/${pathOf("owner", "x.webm")}`, {
        method: "POST",
      });
      assert.equal(((await noToken.json()) as { code: string }).code, "InvalidJWT");
      const role = await jwt({ sub: ids.owner, role: "postgres" });
      const asPostgres = await svc
        .storage(role)
        .from(BUCKET)
        .upload(pathOf("owner", "pg.webm"), webm(bytes(40)));
      assert.equal(asPostgres.error?.message, "The JWT's role is not an API role");
      assert.deepEqual(await snapshot(), before);

      const name = pathOf("owner", "private.webm");
      await bucketOf("owner").upload(name, webm(bytes(40)));
      const read = await bucketOf("stranger").download(name);
      assert.equal((read.error as { status?: number } | null)?.status, 400);
      assert.equal((await bucketOf("stranger").exists(name)).data, false);
    });

    test("a row of one's own naming another object's version is refused, so the service never serves that file to its writer", async () => {
      const own = (await project(c, ids.stranger as string)).id;
      const name = pathOf("owner", "confidential.webm");
      assert.equal((await bucketOf("owner").upload(name, webm(bytes(3000, 9)))).error, null);
      const version = (await objectRows(c)).find((r) => r.name === name)?.version;
      assert.ok(version);
      // The attack, as raw SQL in PostgREST's form: the stranger's role and claims.
      const stolen = `${ids.stranger}/${own}/${Date.now()}_stolen.webm`;
      let refused: { code?: string } | undefined;
      await c.query("begin");
      try {
        await becomeActor(c, "stranger", ids.stranger);
        await c.query("insert into storage.objects (bucket_id, name, version) values ($1, $2, $3)", [
          BUCKET,
          stolen,
          version,
        ]);
        await c.query("commit");
      } catch (e) {
        refused = e as { code?: string };
        await c.query("rollback");
      }
      const read = await bucketOf("stranger").download(stolen);
      assert.equal(read.data, null, "the stranger downloaded the owner's file");
      assert.equal(read.error?.statusCode, "404");
      assert.equal(refused?.code, "42501");
      assert.equal((await bucketOf("owner").download(name)).error, null);
    });

    test("a type the bucket refuses is 415 and an oversize body 413, with or without Content-Length; nothing is left", async () => {
      const before = await snapshot();
      const text = await bucketOf("owner").upload(
        pathOf("owner", "notes.txt"),
        new Blob(["hi"], { type: "text/plain" }),
      );
      assert.equal(text.error?.statusCode, "415");
      const exe = await bucketOf("owner").upload(
        pathOf("owner", "a.mp3"),
        new Blob(["MZ"], { type: "application/x-msdownload" }),
      );
      assert.equal(exe.error?.statusCode, "415");
      const big = await bucketOf("owner").upload(pathOf("owner", "big.webm"), webm(bytes(65537)));
      assert.equal(big.error?.statusCode, "413");
      // A raw body streamed without Content-Length: counted as it arrives.
      const chunks = 10;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < chunks; i++) controller.enqueue(bytes(10_000, i));
          controller.close();
        },
      });
      const streamed = await bucketOf("owner").upload(pathOf("owner", "stream.webm"), stream, {
        contentType: "audio/webm",
      });
      assert.equal(streamed.error?.statusCode, "413");
      // Exactly the limit is fine.
      const exact = await bucketOf("owner").upload(pathOf("owner", "exact.webm"), webm(bytes(65536)));
      assert.equal(exact.error, null);
      const after = await snapshot();
      assert.equal(after.rows.length, before.rows.length + 1);
      assert.equal(after.files.objects.length, before.files.objects.length + 1);
      assert.deepEqual(after.files.tmp, []);
    });

    test("content is judged by its bytes: MP3 bytes sent as WebM, text named .mp3 or an executable named .webm are 415 and change nothing", async () => {
      const before = await snapshot();
      const mp3 = Uint8Array.from([
        0x49,
        0x44,
        0x33,
        3,
        0,
        0,
        0,
        0,
        0,
        0,
        0xff,
        0xfb,
        0x90,
        0x64,
        ...new Array(400).fill(0),
      ]);
      const cases = [
        { name: "take.webm", body: new Blob([mp3], { type: "audio/webm;codecs=opus" }) },
        { name: "notes.mp3", body: new Blob(["just some text, no audio"], { type: "audio/mpeg" }) },
        { name: "tool.webm", body: new Blob(["MZ", bytes(5000)], { type: "audio/webm" }) },
        // Past the first 4100 bytes the content is not looked at again, but the head decides.
        { name: "long.mp3", body: new Blob([bytes(9000)], { type: "audio/mpeg" }) },
      ];
      for (const { name, body } of cases) {
        const r = await bucketOf("owner").upload(pathOf("owner", name), body);
        assert.equal(r.error?.statusCode, "415", name);
        assert.match(r.error?.message ?? "", /content is not audio\//, name);
      }
      // A raw body (no multipart), streamed without Content-Length, is judged the same way.
      const streamed = await bucketOf("owner").upload(
        pathOf("owner", "stream.webm"),
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(mp3);
            controller.close();
          },
        }),
        { contentType: "audio/webm" },
      );
      assert.equal(streamed.error?.statusCode, "415");
      assert.deepEqual(await snapshot(), before);
      // The same MP3 bytes under their own type are fine.
      assert.equal(
        (await bucketOf("owner").upload(pathOf("owner", "real.mp3"), new Blob([mp3], { type: "audio/mpeg" })))
          .error,
        null,
      );
    });

    test("bad names are refused and change nothing; non-ASCII names round-trip", async () => {
      const before = await snapshot();
      for (const bad of [
        `${ids.owner}/../${projectId}/1700000000000_x.webm`,
        `${ids.owner}//x.webm`,
        "a\u0000b",
      ]) {
        const r = await fetch(`${svc.base}/object/${BUCKET}/${bad.replace("\u0000", "%00")}`, {
          method: "POST",
          headers: { authorization: `Bearer ${tokens.owner}`, "content-type": "audio/webm" },
          body: "x",
        });
        assert.equal(r.status, 400, bad);
      }
      assert.deepEqual(await snapshot(), before);
      const name = pathOf("owner", "Übung 日本語 ñ.webm");
      const up = await bucketOf("owner").upload(name, webm(bytes(60)));
      assert.equal(up.error, null);
      assert.ok((await objectRows(c)).some((r) => r.name === name));
      const down = await bucketOf("viewer").download(name);
      assert.equal(down.error, null);
      const listed = await bucketOf("viewer").list(`${ids.owner}/${projectId}`, {
        search: (name.split("/")[2] ?? "").slice(0, 16),
      });
      assert.ok(listed.data?.some((e) => e.name === name.split("/")[2]));
    });

    test("upsert and update replace the bytes; the old version's file is removed", async () => {
      const name = pathOf("owner", "again.webm");
      await bucketOf("owner").upload(name, webm(bytes(40, 1)));
      const dup = await bucketOf("owner").upload(name, webm(bytes(40, 2)));
      assert.equal(dup.error?.statusCode, "409");
      const first = (await objectRows(c)).find((r) => r.name === name)?.version;
      assert.equal((await bucketOf("owner").upload(name, webm(bytes(42, 3)), { upsert: true })).error, null);
      assert.equal((await bucketOf("owner").update(name, webm(bytes(44, 4)))).error, null);
      const last = (await objectRows(c)).find((r) => r.name === name)?.version;
      assert.notEqual(first, last);
      const files = (await svc.files()).objects;
      assert.ok(!files.includes(`${BUCKET}/${first}`));
      assert.ok(files.includes(`${BUCKET}/${last}`));
      const down = await bucketOf("owner").download(name);
      assert.deepEqual(new Uint8Array(await (down.data as Blob).arrayBuffer()), bytes(44, 4));
      // The editor may not replace the owner's object (005: only its uploader): as on Supabase, a row
      // the update policy hides is "not found".
      assert.equal((await bucketOf("editor").update(name, webm(bytes(40)))).error?.statusCode, "404");
      assert.deepEqual(
        new Uint8Array(await ((await bucketOf("owner").download(name)).data as Blob).arrayBuffer()),
        bytes(44, 4),
      );
      assert.equal(
        (await bucketOf("owner").update(pathOf("owner", "never.webm"), webm(bytes(40)))).error?.statusCode,
        "404",
      );
    });

    test("list shows one folder level with prefix, limit, offset, sortBy and search", async () => {
      const folder = `${ids.owner}/${projectId}`;
      const mine = await bucketOf("owner").list(folder, { limit: 1000 });
      assert.equal(mine.error, null);
      assert.ok((mine.data?.length ?? 0) >= 3);
      assert.ok(mine.data?.every((e) => e.id !== null && !e.name.includes("/")));
      const top = await bucketOf("viewer").list("");
      assert.deepEqual(
        top.data?.map((e) => [e.name, e.id]).sort(),
        [ids.editor, ids.owner].map((n) => [n, null]).sort(),
      );
      const names = (mine.data ?? []).map((e) => e.name);
      const page = await bucketOf("owner").list(folder, {
        limit: 2,
        offset: 1,
        sortBy: { column: "name", order: "asc" },
      });
      assert.deepEqual(
        page.data?.map((e) => e.name),
        [...names].sort().slice(1, 3),
      );
      const desc = await bucketOf("owner").list(folder, {
        limit: 1000,
        sortBy: { column: "name", order: "desc" },
      });
      assert.deepEqual(
        desc.data?.map((e) => e.name),
        [...names].sort().reverse(),
      );
      const strangers = await bucketOf("stranger").list(folder);
      assert.deepEqual(strangers.data, []);
      const bad = await bucketOf("owner").list(folder, {
        sortBy: { column: "name; drop table x", order: "asc" },
      });
      assert.equal(bad.error?.statusCode, "400");
    });

    test("move renames, copy duplicates the bytes, remove deletes row and file; refusals change nothing", async () => {
      const a = pathOf("owner", "a.webm");
      const b = pathOf("owner", "b.webm");
      const copyName = pathOf("owner", "c.webm");
      await bucketOf("owner").upload(a, webm(bytes(50, 5)));
      assert.equal((await bucketOf("stranger").move(a, b)).error?.statusCode, "404");
      assert.equal((await bucketOf("owner").move(a, b)).error, null);
      assert.equal((await bucketOf("owner").exists(a)).data, false);
      assert.equal((await bucketOf("owner").download(b)).error, null);

      const copied = await bucketOf("owner").copy(b, copyName);
      assert.equal(copied.error, null);
      assert.equal(copied.data?.path, `${BUCKET}/${copyName}`);
      const rows = await objectRows(c);
      const vb = rows.find((r) => r.name === b)?.version;
      const vc = rows.find((r) => r.name === copyName)?.version;
      assert.ok(vb && vc && vb !== vc);
      const viewerCopy = await bucketOf("viewer").copy(b, pathOf("viewer", "mine.webm"));
      assert.equal(viewerCopy.error?.statusCode, "403");

      const before = await snapshot();
      const strangerRemove = await bucketOf("stranger").remove([b]);
      assert.deepEqual(strangerRemove.data, []);
      assert.deepEqual(await snapshot(), before);
      const removed = await bucketOf("owner").remove([b, copyName]);
      assert.equal(removed.error, null);
      assert.deepEqual(removed.data?.map((r) => r.name).sort(), [b, copyName].sort());
      const files = (await svc.files()).objects;
      assert.ok(!files.includes(`${BUCKET}/${vb}`) && !files.includes(`${BUCKET}/${vc}`));
      assert.ok(!(await objectRows(c)).some((r) => r.name === b || r.name === copyName));
    });

    test("a signed upload URL lets its holder upload once to that path, owned by the signer", async () => {
      const name = pathOf("editor", "handoff.webm");
      const signed = await bucketOf("editor").createSignedUploadUrl(name);
      assert.equal(signed.error, null);
      const denied = await bucketOf("viewer").createSignedUploadUrl(pathOf("viewer", "no.webm"));
      assert.equal(denied.error?.statusCode, "403");
      const anon = svc.storage(svc.anonKey).from(BUCKET);
      const other = await anon.uploadToSignedUrl(
        pathOf("editor", "elsewhere.webm"),
        signed.data?.token as string,
        webm(bytes(40)),
      );
      assert.equal(other.error?.statusCode, "400");
      const up = await anon.uploadToSignedUrl(name, signed.data?.token as string, webm(bytes(40)));
      assert.equal(up.error, null);
      assert.equal((await objectRows(c)).find((r) => r.name === name)?.owner, ids.editor);
      const again = await anon.uploadToSignedUrl(name, signed.data?.token as string, webm(bytes(40)));
      assert.equal(again.error?.statusCode, "409");
    });

    test("buckets: the service sees the bucket and its limits; a user sees none (005 grants none)", async () => {
      const asService = svc.storage(tokens.service as string);
      const b = await asService.getBucket(BUCKET);
      assert.equal(b.error, null);
      assert.equal(b.data?.file_size_limit, 65536);
      assert.ok(b.data?.allowed_mime_types?.includes("audio/webm"));
      assert.deepEqual(
        (await asService.listBuckets()).data?.map((x) => x.id),
        [BUCKET],
      );
      assert.equal((await svc.storage(tokens.owner as string).getBucket(BUCKET)).error?.statusCode, "404");
      assert.deepEqual(svc.serverErrors, []);
    });
  });
