/**
 * A real browser against the storage service: Debian's Chromium, headless, driven by playwright-core.
 * A page on another origin records a WebM/Opus clip with MediaRecorder (what the app does), uploads it
 * with storage-js (bundled for the page here, from node_modules: no CDN), signs a URL, plays it in an
 * <audio> element and seeks; the server must have answered the player's Range requests with 206.
 * Missing Chromium fails the test in CI (.ci/run installs it) and skips it, said so, elsewhere.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { build } from "esbuild";
import type { FastifyInstance } from "fastify";
import type { Browser } from "playwright-core";
import { createRunner, type Runner } from "../src/sdk/db.ts";
import { DiskDriver } from "../src/storage/drivers/disk.ts";
import { createStorageServer, STORAGE_PREFIX } from "../src/storage/server.ts";
import { CHROMIUM, launchChromium } from "./support/chromium.ts";
import { client, createDatabase, ROOT } from "./support/harness.ts";
import { project, user } from "./support/rows.ts";
import { JWT_SECRET, jwt } from "./support/storage.ts";

const skip =
  existsSync(CHROMIUM) || process.env.CI ? false : `${CHROMIUM} is not installed (.ci/run installs it)`;
const BUCKET = "audio-recordings";

interface Seen {
  method: string;
  url: string;
  range: string | undefined;
  status: number;
}

let app: FastifyInstance;
let runner: Runner;
let pages: http.Server;
let browser: Browser | undefined;
let storageBase: string;
let pageOrigin: string;
let anonKey: string;
let token: string;
let folder: string;
const seen: Seen[] = [];

const HTML = `<!doctype html><meta charset="utf-8"><title>vpb-db audio</title>
<script src="/storage-js.js"></script><script src="/take.js"></script><body></body>`;

/** The page's code, as plain browser JavaScript. */
const TAKE_JS = `
const within = (ms, what, p) =>
  Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error("timed out: " + what)), ms))]);

async function runTake({ base, anonKey, token, name }) {
  // A recording as the app makes one: MediaRecorder over an audio stream (a 440 Hz tone).
  const context = new AudioContext();
  const tone = context.createOscillator();
  tone.frequency.value = 440;
  const sink = context.createMediaStreamDestination();
  tone.connect(sink);
  tone.start();
  const recorder = new MediaRecorder(sink.stream, { mimeType: "audio/webm;codecs=opus" });
  const chunks = [];
  recorder.ondataavailable = (e) => chunks.push(e.data);
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start(250);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  recorder.stop();
  await within(5000, "recorder stop", stopped);
  tone.stop();
  const blob = new Blob(chunks, { type: "audio/webm;codecs=opus" });

  const files = new StorageJs.StorageClient(base, { apikey: anonKey, Authorization: "Bearer " + token })
    .from("audio-recordings");
  const up = await files.upload(name, blob);
  if (up.error) throw new Error("upload: " + up.error.message);
  const signed = await files.createSignedUrl(name, 300);
  if (signed.error) throw new Error("createSignedUrl: " + signed.error.message);

  const audio = document.createElement("audio");
  document.body.append(audio);
  const events = [];
  for (const type of ["loadedmetadata", "canplay", "playing", "seeking", "seeked", "error"]) {
    audio.addEventListener(type, () => events.push(type));
  }
  const once = (type) => new Promise((resolve, reject) => {
    audio.addEventListener(type, resolve, { once: true });
    audio.addEventListener("error", () => reject(new Error("media error " + (audio.error && audio.error.code))), { once: true });
  });
  audio.src = signed.data.signedUrl;
  const playing = once("playing");
  await within(10000, "play()", audio.play());
  await within(10000, "'playing'", playing);
  // Decoded and played: the clock moves.
  const start = Date.now();
  while (audio.currentTime < 0.5 && Date.now() - start < 10000) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const playedTo = audio.currentTime;
  const seeked = once("seeked");
  audio.currentTime = 0.2;
  await within(10000, "'seeked'", seeked);
  const seekedTo = audio.currentTime;
  audio.pause();
  return {
    recorded: { size: blob.size, type: blob.type },
    uploadedPath: up.data.path,
    events,
    playedTo,
    seekedTo,
    error: audio.error ? audio.error.code : null,
  };
}
`;

before(async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const owner = (await user(c, { email: `browser-${randomUUID()}@example.com` })).id;
  folder = `${owner}/${(await project(c, owner)).id}`;
  token = await jwt({ sub: owner, role: "authenticated" });
  anonKey = await jwt({ role: "anon" });

  runner = createRunner({ connectionString: db.url, max: 4, applicationName: "vpb-db browser test" });
  app = await createStorageServer({
    runner,
    jwtSecret: JWT_SECRET,
    driver: new DiskDriver(await mkdtemp(path.join(os.tmpdir(), "vpb-browser-"))),
  });
  // What the server answered, request by request: the player's Range requests among them.
  app.addHook("onResponse", async (request, reply) => {
    const range = request.headers.range;
    seen.push({ method: request.method, url: request.url, range, status: reply.statusCode });
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  storageBase = `http://127.0.0.1:${(app.server.address() as { port: number }).port}${STORAGE_PREFIX}`;

  // storage-js for the page, bundled from node_modules as an app's bundler would.
  const bundle = await build({
    stdin: { contents: 'export { StorageClient } from "@supabase/storage-js";', resolveDir: ROOT },
    bundle: true,
    format: "iife",
    globalName: "StorageJs",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0]?.text ?? "";
  // The page on an origin of its own (another port): storage-js calls the service cross-origin.
  pages = http.createServer((req, res) => {
    if (req.url === "/storage-js.js" || req.url === "/take.js") {
      res
        .writeHead(200, { "content-type": "text/javascript" })
        .end(req.url === "/take.js" ? TAKE_JS : script);
    } else if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end(HTML);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => pages.listen(0, "127.0.0.1", resolve));
  pageOrigin = `http://localhost:${(pages.address() as { port: number }).port}`;

  if (skip) return;
  // The page may play without a click, as after one.
  browser = await launchChromium(["--autoplay-policy=no-user-gesture-required"]);
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (pages ? pages.close(resolve) : resolve(undefined)));
  await app?.close();
  await runner?.pool.end();
});

interface PageResult {
  recorded: { size: number; type: string };
  uploadedPath: string;
  events: string[];
  playedTo: number;
  seekedTo: number;
  error: number | null;
}

describe("the browser path: record, upload with storage-js, play by signed URL, seek", { skip }, () => {
  test("Chromium records WebM/Opus, uploads it cross-origin, plays it from a signed URL and seeks; Range requests were answered 206", async (t) => {
    const page = await (browser as Browser).newPage();
    try {
      await page.goto(`${pageOrigin}/`);
      const name = `${folder}/${Date.now()}_take.webm`;
      // A string, not a function: the test's compiler would add helpers the page does not have.
      const args = JSON.stringify({ base: storageBase, anonKey, token, name });
      const result = (await page.evaluate(`runTake(${args})`)) as PageResult;

      assert.equal(result.recorded.type, "audio/webm;codecs=opus");
      assert.ok(result.recorded.size > 1000, `a real recording, ${result.recorded.size} bytes`);
      assert.equal(result.uploadedPath, name);
      assert.equal(result.error, null);
      assert.ok(result.events.includes("playing"), result.events.join(","));
      assert.ok(result.playedTo >= 0.5, `currentTime advanced to ${result.playedTo}`);
      assert.ok(result.events.includes("seeked"), result.events.join(","));
      assert.ok(result.seekedTo < result.playedTo, `seeked back to ${result.seekedTo}`);

      const media = seen.filter(
        (s) => s.method === "GET" && s.url.startsWith(`${STORAGE_PREFIX}/object/sign/`),
      );
      t.diagnostic(
        `recorded ${result.recorded.size} bytes; played to ${result.playedTo.toFixed(2)} s, seeked to ${result.seekedTo.toFixed(2)} s; media requests ${JSON.stringify(media.map((s) => [s.range ?? null, s.status]))}`,
      );
      assert.ok(media.length > 0, "the player fetched the signed URL");
      assert.ok(
        media.some((s) => s.range !== undefined && s.status === 206),
        `Range requests answered 206: ${JSON.stringify(media.map((s) => [s.range, s.status]))}`,
      );
      assert.ok(
        media.every((s) => (s.range === undefined ? s.status === 200 : s.status === 206)),
        JSON.stringify(media.map((s) => [s.range, s.status])),
      );
      // The upload itself went through the preflighted cross-origin path.
      assert.ok(seen.some((s) => s.method === "OPTIONS" && s.status === 204));
      assert.ok(
        seen.some((s) => s.method === "POST" && s.url.includes(`/object/${BUCKET}/`) && s.status === 200),
      );
    } finally {
      await page.close();
    }
  });
});

describe("cross-origin access (what the page above relies on)", () => {
  test("a preflight is answered 204 before authentication; answers, errors included, allow any origin and expose Range headers", async () => {
    const preflight = await fetch(`${storageBase}/object/${BUCKET}/${folder}/1700000000000_x.webm`, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, apikey, x-upsert, content-type",
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /\bPOST\b/);
    assert.equal(
      preflight.headers.get("access-control-allow-headers"),
      "authorization, apikey, x-upsert, content-type",
    );
    const refused = await fetch(`${storageBase}/object/${BUCKET}/${folder}/1700000000000_x.webm`, {
      headers: { origin: "http://localhost:3000" },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.headers.get("access-control-allow-origin"), "*");
    assert.match(refused.headers.get("access-control-expose-headers") ?? "", /content-range/);
  });
});
