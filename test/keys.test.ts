import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { jwtVerify } from "jose";
import { runCli } from "./support/cli.ts";
import { client, createDatabase, MAJOR } from "./support/harness.ts";
import { project, user } from "./support/rows.ts";
import { JWT_SECRET, startStorage, webmBytes } from "./support/storage.ts";

const work = await mkdtemp(path.join(os.tmpdir(), "vpb-keys-"));
after(() => rm(work, { recursive: true, force: true }));
const once = { skip: MAJOR !== 17 ? "the key commands touch no database: tested in the 17 pass" : false };
const key = (secret: string) => new TextEncoder().encode(secret);

test(
  "keys api makes api.json once (0600), keeps its keys, and rotates only when confirmed",
  once,
  async () => {
    const env = { VPB_DATA_DIR: path.join(work, "api"), VPB_STORAGE_PORT: "54999", DATABASE_URL: "" };
    const first = await runCli(["keys", "api", "--json"], env);
    assert.equal(first.code, 0, first.stderr);
    const api = JSON.parse(first.stdout) as Record<string, string>;
    assert.equal(api.url, "http://127.0.0.1:54999");
    const file = path.join(env.VPB_DATA_DIR, "api.json");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    for (const [field, role] of [
      ["anonKey", "anon"],
      ["serviceRoleKey", "service_role"],
    ] as const) {
      const { payload } = await jwtVerify(api[field] as string, key(api.jwtSecret as string));
      assert.equal(payload.role, role);
    }
    const text = await runCli(["keys", "api"], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`anon key: ${api.anonKey}`));
    assert.doesNotMatch(text.stdout, new RegExp(api.jwtSecret as string), "the secret stays in the file");

    const unconfirmed = await runCli(["keys", "api", "--rotate"], env);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /INVALID_ARGUMENT/);
    assert.deepEqual(JSON.parse(await readFile(file, "utf8")), api, "nothing changed");

    const rotated = await runCli(["keys", "api", "--rotate", "--yes", "--json"], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    const fresh = JSON.parse(rotated.stdout) as Record<string, string>;
    assert.notEqual(fresh.jwtSecret, api.jwtSecret);
    await assert.rejects(
      jwtVerify(api.anonKey as string, key(fresh.jwtSecret as string)),
      "old keys no longer verify",
    );
    await jwtVerify(fresh.anonKey as string, key(fresh.jwtSecret as string));
  },
);

test("keys token signs a user's access token that the storage service takes as that user", once, async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  const svc = await startStorage(db.url);
  try {
    const me = (await user(c, { email: `me-${randomUUID()}@example.com` })).id;
    const other = (await user(c, { email: `other-${randomUUID()}@example.com` })).id;
    const mine = (await project(c, me)).id;
    const theirs = (await project(c, other)).id;
    const dataDir = path.join(work, "token");
    const env = { VPB_DATA_DIR: dataDir, DATABASE_URL: "" };

    const missing = await runCli(["keys", "token", me], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /keys api/);

    // The service under test signs with the suite's secret: put that one in the data folder.
    await runCli(["keys", "api"], env);
    const api = JSON.parse(await readFile(path.join(dataDir, "api.json"), "utf8"));
    await writeFile(path.join(dataDir, "api.json"), JSON.stringify({ ...api, jwtSecret: JWT_SECRET }));

    const signed = await runCli(
      ["keys", "token", me, "--email", "me@example.com", "--expires-in", "600"],
      env,
    );
    assert.equal(signed.code, 0, signed.stderr);
    const token = signed.stdout.trim();
    const { payload } = await jwtVerify(token, key(JWT_SECRET));
    assert.equal(payload.sub, me);
    assert.equal(payload.role, "authenticated");
    assert.equal(payload.aud, "authenticated");
    assert.equal((payload.exp as number) - (payload.iat as number), 600);

    const bucket = svc.storage(token).from("audio-recordings");
    const blob = () => new Blob([webmBytes(2000)], { type: "audio/webm" });
    const ok = await bucket.upload(`${me}/${mine}/${Date.now()}_take.webm`, blob());
    assert.equal(ok.error, null);
    const refused = await bucket.upload(`${other}/${theirs}/${Date.now()}_take.webm`, blob());
    assert.match(String(refused.error?.message), /row-level security|not allowed|denied/i);

    // No database set up in that folder: signed, with a note that nothing was checked.
    assert.match(signed.stderr, /not checked/);
    // With a database: an id it lacks is refused, unless --no-check.
    const withDb = { ...env, DATABASE_URL: db.url };
    const stranger = randomUUID();
    const unknown = await runCli(["keys", "token", stranger], withDb);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /INVALID_ARGUMENT/);
    assert.match(unknown.stderr, new RegExp(`no user ${stranger}`));
    assert.equal(unknown.stdout, "", "no token printed");
    const known = await runCli(["keys", "token", me], withDb);
    assert.equal(known.code, 0, known.stderr);
    assert.equal((await jwtVerify(known.stdout.trim(), key(JWT_SECRET))).payload.sub, me);
    assert.doesNotMatch(known.stderr, /not checked/);
    const unchecked = await runCli(["keys", "token", stranger, "--no-check"], withDb);
    assert.equal(unchecked.code, 0, unchecked.stderr);
    assert.equal((await jwtVerify(unchecked.stdout.trim(), key(JWT_SECRET))).payload.sub, stranger);

    for (const bad of [["not-a-uuid"], [me, "--expires-in", "0"], [me, "--expires-in", "9999999"]]) {
      const r = await runCli(["keys", "token", ...bad], env);
      assert.equal(r.code, 2, bad.join(" "));
      assert.match(r.stderr, /INVALID_ARGUMENT/);
    }
  } finally {
    await svc.close();
    await c.end();
  }
});
