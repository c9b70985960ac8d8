import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { StorageClient } from "@supabase/storage-js";
import { jwtVerify, SignJWT } from "jose";
import { serveDashboard } from "../src/dashboard/server.ts";
import { ensureApiConfig, readApiConfig } from "../src/storage/api-config.ts";
import { serveStorage } from "../src/storage/serve.ts";
import { client, createDatabase, ROOT } from "./support/harness.ts";
import { project, user } from "./support/rows.ts";
import { oggOpus } from "./support/storage.ts";

test("api.json is made once, mode 0600, and keeps its secret and keys on the next start", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vpb-api-"));
  const first = await ensureApiConfig(dir, "http://127.0.0.1:1");
  assert.equal((await stat(path.join(dir, "api.json"))).mode & 0o777, 0o600);
  assert.ok(first.jwtSecret.length >= 32);
  const again = await ensureApiConfig(dir, "http://127.0.0.1:2");
  assert.deepEqual({ ...again, url: "" }, { ...first, url: "" });
  assert.equal(JSON.parse(await readFile(path.join(dir, "api.json"), "utf8")).url, "http://127.0.0.1:2");
});

test("api.json's folder is made when missing (a new VPB_DATA_DIR beside an external DATABASE_URL), private to its owner", async () => {
  const dir = path.join(await mkdtemp(path.join(os.tmpdir(), "vpb-api-")), "not", "yet");
  await ensureApiConfig(dir, "http://127.0.0.1:1");
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal((await stat(path.join(dir, "api.json"))).mode & 0o777, 0o600);
});

/** A port nobody listens on now (the kernel's pick, released at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

test("`vpb-db storage serve` serves storage-js with the keys of api.json and stops on SIGTERM", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const owner = (await user(c, { email: `serve-${randomUUID()}@example.com` })).id;
  const projectId = (await project(c, owner)).id;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-serve-"));
  // No --port: VPB_STORAGE_PORT is its default, as for `start` (it was ignored once).
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, "dist/src/cli/main.js"), "storage", "serve"], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      VPB_DATA_DIR: dataDir,
      VPB_STORAGE_PORT: String(port),
      VPB_STORAGE_UPLOAD_URL_TTL: "10min",
      VPB_STORAGE_SIGNED_URL_MAX: "1h",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  try {
    const storageUrl = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d;
        const m = /storage ready: (\S+)/.exec(stdout);
        if (m?.[1]) resolve(m[1]);
      });
      void exited.then(() => reject(new Error(`serve exited early:\n${stdout}\n${stderr}`)));
    });
    const api = JSON.parse(await readFile(path.join(dataDir, "api.json"), "utf8"));
    assert.equal(`${api.url}/storage/v1`, storageUrl);
    assert.equal(new URL(storageUrl).port, String(port));
    assert.equal((await stat(path.join(dataDir, "api.json"))).mode & 0o777, 0o600);
    const now = Math.floor(Date.now() / 1000);
    const session = await new SignJWT({ sub: owner, role: "authenticated" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(api.jwtSecret));
    const bucket = new StorageClient(storageUrl, {
      apikey: api.anonKey,
      Authorization: `Bearer ${session}`,
    }).from("audio-recordings");
    const name = `${owner}/${projectId}/${Date.now()}_served.ogg`;
    const up = await bucket.upload(name, new Blob([oggOpus("take")], { type: "audio/ogg" }));
    assert.equal(up.error, null);
    assert.equal((await (await bucket.download(name)).data?.text())?.slice(-4), "take");
    // Signed URLs' lifetimes come from the environment.
    const uploadUrl = await bucket.createSignedUploadUrl(`${owner}/${projectId}/${Date.now()}_later.ogg`);
    const { payload } = await jwtVerify(uploadUrl.data?.token ?? "", new TextEncoder().encode(api.jwtSecret));
    assert.equal((payload.exp as number) - (payload.iat as number), 600);
    assert.equal((await bucket.createSignedUrl(name, 3600)).error, null);
    const tooLong = await bucket.createSignedUrl(name, 3601);
    assert.match(String(tooLong.error?.message), /at most 3600 seconds/);
    const asService = new StorageClient(storageUrl, {
      apikey: api.serviceRoleKey,
      Authorization: `Bearer ${api.serviceRoleKey}`,
    });
    assert.equal((await asService.getBucket("audio-recordings")).error, null);
    const anon = new StorageClient(storageUrl, {
      apikey: api.anonKey,
      Authorization: `Bearer ${api.anonKey}`,
    });
    assert.equal((await anon.from("audio-recordings").download(name)).error?.name, "StorageApiError");
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal(await exited, 0, stderr);
  assert.doesNotMatch(
    stdout + stderr,
    new RegExp(JSON.parse(await readFile(path.join(dataDir, "api.json"), "utf8")).jwtSecret),
  );
});

test("api.json never points apps at a stopped server: a second service's URL gives way to the first's when it stops", async () => {
  const db = await createDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-apiurl-"));
  const read = async () => (await readApiConfig(dataDir))?.url;
  const options = { databaseUrl: db.url, dataDir, host: "127.0.0.1", port: 0 };
  const first = await serveStorage(options);
  const second = await serveStorage(options);
  assert.equal(await read(), second.api.url, "the newest service is the one named");
  await second.close();
  assert.equal(await read(), first.api.url, "the first one's URL is back: it still serves");
  await first.close();
  assert.equal(await read(), "", "nobody serves: no URL");

  // Stopped in the order they started: the first leaves the second's URL alone; the second finds the
  // URL it replaced dead and leaves none.
  const a = await serveStorage(options);
  const b = await serveStorage(options);
  await a.close();
  assert.equal(await read(), b.api.url);
  await b.close();
  assert.equal(await read(), "");
});

test("the dashboard's URL in api.json follows the same rule", async () => {
  const db = await createDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-dashurl-"));
  const read = async () => (await readApiConfig(dataDir))?.dashboardUrl;
  const options = { databaseUrl: db.url, dataDir, host: "127.0.0.1", port: 0 };
  const first = await serveDashboard(options);
  const second = await serveDashboard(options);
  assert.equal(await read(), second.url);
  await second.close();
  assert.equal(await read(), first.url);
  await first.close();
  assert.equal(await read(), "");
});
