import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { SignJWT } from "jose";
import { createRunner } from "../src/sdk/db.ts";
import { S3Driver } from "../src/storage/drivers/s3.ts";
import { sweepStorage } from "../src/storage/sweep.ts";
import { runCli } from "./support/cli.ts";
import { client, createDatabase, ROOT } from "./support/harness.ts";
import { project, user } from "./support/rows.ts";
import { startS3 } from "./support/s3.ts";
import { DRIVERS, jwt, objectRows, startStorage, webmBytes } from "./support/storage.ts";

const BUCKET = "audio-recordings";

for (const kind of DRIVERS)
  test(`sweep (${kind} driver) removes a deleted project's files, files without a row, rows without a file and stale temporary files`, async (t) => {
    const db = await createDatabase();
    const c = await client(db.url);
    const svc = await startStorage(db.url, { driver: kind });
    const runner = createRunner({ connectionString: db.url, max: 2, applicationName: "sweep test" });
    t.after(async () => {
      await runner.pool.end();
      await svc.close();
    });
    const owner = (await user(c, { email: `sweep-${randomUUID()}@example.com` })).id;
    const gone = (await project(c, owner)).id;
    const kept = (await project(c, owner)).id;
    const bucket = svc.storage(await jwt({ sub: owner, role: "authenticated" })).from(BUCKET);
    const audio = new Blob([webmBytes(100)], { type: "audio/webm" });
    assert.equal((await bucket.upload(`${owner}/${gone}/${Date.now()}_a.webm`, audio)).error, null);
    const keptName = `${owner}/${kept}/${Date.now()}_b.webm`;
    assert.equal((await bucket.upload(keptName, audio)).error, null);
    const keptVersion = (await objectRows(c)).find((r) => r.name.includes(kept))?.version;
    const keptFile = `${BUCKET}/${keptVersion}`;
    // A crash's leftovers: a temporary file, a file no row names, a row whose file is gone.
    await svc.leaveHalfUpload();
    await svc.driver.put(`${BUCKET}/${randomUUID()}`, Readable.from([Buffer.from("no row")]), {
      maxBytes: 100,
      contentType: "audio/webm",
    });
    await c.query("insert into storage.objects (bucket_id, name, owner, version) values ($1, $2, $3, $4)", [
      BUCKET,
      `${owner}/${kept}/${Date.now()}_lost.webm`,
      owner,
      randomUUID(),
    ]);
    await c.query("delete from projects where id = $1", [gone]);
    assert.equal(
      (await c.query("select count(*)::int as n from private.storage_deletions")).rows[0].n,
      1,
      "009 queued the deleted project's file",
    );
    await sleep(20);

    // Within the grace period nothing is touched: it may be an upload in flight.
    const early = await sweepStorage(runner, svc.driver, { graceMs: 3_600_000 });
    assert.deepEqual(early, { queued: 0, orphanFiles: 0, orphanRows: 0, tempFiles: 0 });
    assert.equal((await svc.files()).objects.length, 3);

    const report = await sweepStorage(runner, svc.driver, { graceMs: 0 });
    // s3rver implements neither ListMultipartUploads nor AbortMultipartUpload: the sweep cannot see the
    // interrupted upload there (on S3 it aborts it; a lifecycle rule is the backstop, README).
    const halfUploads = kind === "disk" ? 1 : 0;
    assert.deepEqual(report, { queued: 1, orphanFiles: 2, orphanRows: 1, tempFiles: halfUploads });
    const left = await svc.files();
    assert.deepEqual(left.objects, [keptFile]);
    assert.equal(left.tmp.length, 1 - halfUploads);
    assert.deepEqual(
      (await objectRows(c)).map((r) => r.name),
      [keptName],
    );
    assert.equal((await c.query("select count(*)::int as n from private.storage_deletions")).rows[0].n, 0);
    assert.deepEqual(await sweepStorage(runner, svc.driver, { graceMs: 0 }), {
      queued: 0,
      orphanFiles: 0,
      orphanRows: 0,
      tempFiles: 0,
    });
    assert.deepEqual(svc.serverErrors, []);
  });

test("a storage without the rows' files (a restored folder without storage/): the sweep removes nothing and says why; --force-missing removes the rows", async (t) => {
  const db = await createDatabase();
  const c = await client(db.url);
  const svc = await startStorage(db.url);
  t.after(() => svc.close());
  const owner = (await user(c, { email: `misplaced-${randomUUID()}@example.com` })).id;
  const projectId = (await project(c, owner)).id;
  const bucket = svc.storage(await jwt({ sub: owner, role: "authenticated" })).from(BUCKET);
  const name = `${owner}/${projectId}/${Date.now()}_kept.webm`;
  assert.equal((await bucket.upload(name, new Blob([webmBytes(100)], { type: "audio/webm" }))).error, null);
  // The CLI on a data folder whose storage/ is missing, as after a restore into a new folder.
  const env = { DATABASE_URL: db.url, VPB_DATA_DIR: await mkdtemp(path.join(os.tmpdir(), "vpb-nostorage-")) };
  const refused = await runCli(["storage", "sweep", "--grace", "0"], env);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /STORAGE_SWEEP_REFUSED/);
  assert.match(
    refused.stderr,
    /1 of 1 storage\.objects rows have no file in the storage, which holds 0 files/,
  );
  assert.deepEqual(
    (await objectRows(c)).map((r) => r.name),
    [name],
    "the row is kept",
  );
  assert.equal((await svc.files()).objects.length, 1, "the real storage's file is untouched");
  const forced = await runCli(["storage", "sweep", "--grace", "0", "--force-missing", "--json"], env);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(JSON.parse(forced.stdout).orphanRows, 1);
  assert.deepEqual(await objectRows(c), []);
});

test("kill -9 of the storage server mid-upload, then `storage sweep`: no temporary file, no row, no file", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const owner = (await user(c, { email: `crash-${randomUUID()}@example.com` })).id;
  const projectId = (await project(c, owner)).id;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-crash-"));
  const env = { DATABASE_URL: db.url, VPB_DATA_DIR: dataDir };
  const child = spawn(
    process.execPath,
    [path.join(ROOT, "dist/src/cli/main.js"), "storage", "serve", "--port", "0"],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<unknown>((resolve) => child.once("close", resolve));
  let out = "";
  child.stderr.on("data", (d: Buffer) => {
    out += d;
  });
  const storageUrl = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      const m = /storage ready: (\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    void exited.then(() => reject(new Error(`serve exited early:\n${out}`)));
  });
  const tmpDir = path.join(dataDir, "storage", "tmp");
  let upload: Promise<unknown> | undefined;
  try {
    const api = JSON.parse(await readFile(path.join(dataDir, "api.json"), "utf8"));
    const now = Math.floor(Date.now() / 1000);
    const session = await new SignJWT({ sub: owner, role: "authenticated" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(api.jwtSecret));
    // A slow body: its first 20 kB, then nothing more until the server is killed.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(webmBytes(20_000));
      },
    });
    upload = fetch(`${storageUrl}/object/${BUCKET}/${owner}/${projectId}/${Date.now()}_crash.webm`, {
      method: "POST",
      headers: { authorization: `Bearer ${session}`, apikey: api.anonKey, "content-type": "audio/webm" },
      body,
      duplex: "half",
    } as RequestInit).catch((e: unknown) => e);
    for (const end = Date.now() + 20_000; ; await sleep(50)) {
      if ((await readdir(tmpDir).catch(() => [])).length > 0) break;
      assert.ok(Date.now() < end, `no temporary file appeared:\n${out}`);
    }
  } finally {
    child.kill("SIGKILL");
  }
  await exited;
  assert.ok((await upload) instanceof Error, "the upload failed with the server");
  assert.equal((await readdir(tmpDir)).length, 1, "the crash left its temporary file");
  assert.deepEqual(await objectRows(c), [], "and no row");
  await sleep(20);
  const swept = await runCli(["storage", "sweep", "--grace", "0", "--json"], env);
  assert.equal(swept.code, 0, swept.stderr);
  assert.deepEqual(JSON.parse(swept.stdout), { queued: 0, orphanFiles: 0, orphanRows: 0, tempFiles: 1 });
  assert.deepEqual(await readdir(tmpDir), []);
  assert.deepEqual(await readdir(path.join(dataDir, "storage", "objects")).catch(() => []), []);
  assert.deepEqual(await objectRows(c), []);
});

test("`storage sweep` with VPB_STORAGE_DRIVER=s3 and VPB_S3_* sweeps that bucket", async (t) => {
  const db = await createDatabase();
  const s3 = await startS3();
  const driver = new S3Driver(s3.settings);
  t.after(async () => {
    driver.close();
    await s3.close();
  });
  const orphan = `${BUCKET}/${randomUUID()}`;
  await driver.put(orphan, Readable.from([Buffer.from("no row")]), {
    maxBytes: 100,
    contentType: "audio/webm",
  });
  await sleep(1100); // some S3 servers keep LastModified in whole seconds
  const { settings } = s3;
  const swept = await runCli(["storage", "sweep", "--grace", "0", "--json"], {
    DATABASE_URL: db.url,
    VPB_STORAGE_DRIVER: "s3",
    VPB_S3_BUCKET: settings.bucket,
    VPB_S3_ENDPOINT: settings.endpoint,
    VPB_S3_FORCE_PATH_STYLE: "true",
    VPB_S3_ACCESS_KEY_ID: settings.credentials?.accessKeyId,
    VPB_S3_SECRET_ACCESS_KEY: settings.credentials?.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  assert.equal(swept.code, 0, swept.stderr);
  assert.deepEqual(JSON.parse(swept.stdout), { queued: 0, orphanFiles: 1, orphanRows: 0, tempFiles: 0 });
  assert.equal(await driver.head(orphan), undefined);
});
