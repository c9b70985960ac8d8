import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import pg from "pg";
import { seed } from "../src/dev/seed.ts";
import { isVpbError } from "../src/errors.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { exportDatabase } from "../src/ops/export.ts";
import type { ExportManifest } from "../src/ops/export-format.ts";
import { importExport } from "../src/ops/import.ts";
import { DiskDriver } from "../src/storage/drivers/disk.ts";
import { runCli } from "./support/cli.ts";
import { binDirFor, startSystemServer } from "./support/debian-server.ts";
import { client, createDatabase, MAJOR } from "./support/harness.ts";
import { project, user } from "./support/rows.ts";

const scratch = await mkdtemp(path.join(os.tmpdir(), `vpb-export-${MAJOR}-`));
await chmod(scratch, 0o755); // PostgreSQL 15's OS user (postgres, when run as root) enters it
after(() => rm(scratch, { recursive: true, force: true }));

let n = 0;
const folder = (name: string) => path.join(scratch, `${name}-${++n}`);

/** A storage object row and its file: `bytes` under `audio-recordings/<version>`. */
async function storedObject(c: pg.Client, driver: DiskDriver, owner: string, bytes: string) {
  const version = randomUUID();
  await driver.put(`audio-recordings/${version}`, Readable.from([Buffer.from(bytes)]), {
    maxBytes: 1e6,
    contentType: "audio/webm",
  });
  await c.query(
    `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata)
     values ('audio-recordings', $1, $2::uuid, $2::text, $3, jsonb_build_object('mimetype', 'audio/webm', 'size', $4::int))`,
    [`${owner}/${randomUUID()}/take.webm`, owner, version, bytes.length],
  );
  return `audio-recordings/${version}`;
}

async function seeded(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await seed(pool, { scale: 0.01 });
  } finally {
    await pool.end();
  }
}

/** The app's indexes, constraints and triggers as PostgreSQL prints them back. */
async function schemaObjects(c: pg.Client): Promise<string[]> {
  const { rows } = await c.query<{ line: string }>(
    `select format('index %s %s', i.indexrelid::regclass, pg_get_indexdef(i.indexrelid)) as line
       from pg_index i join pg_class r on r.oid = i.indrelid
      where r.relnamespace::regnamespace::text in ('public', 'private', 'storage')
     union all
     select format('constraint %s %s %s %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid), c.convalidated)
       from pg_constraint c where c.connamespace::regnamespace::text in ('public', 'private', 'storage')
     union all
     select format('trigger %s %s %s', t.tgrelid::regclass, t.tgenabled, pg_get_triggerdef(t.oid))
       from pg_trigger t join pg_class r on r.oid = t.tgrelid
      where not t.tgisinternal and r.relnamespace::regnamespace::text in ('public', 'private', 'storage')
     order by 1`,
  );
  return rows.map((r) => r.line);
}

/** Every exported table's digest taken again from `url`, by exporting it: equal content, equal manifest. */
function digests(m: ExportManifest): Record<string, string> {
  return Object.fromEntries(m.tables.map((t) => [t.name, `${t.rows}:${t.digest}`]));
}

test("a seeded database (scale 0.01) exports and imports into a fresh one with every digest equal, in both trigger modes", async () => {
  const source = await createDatabase();
  await seeded(source.url);
  const src = await client(source.url);
  const driver = new DiskDriver(folder("storage-src"));
  const { rows: owners } = await src.query<{ id: string }>("select id from public.users order by id limit 2");
  const keys = [
    await storedObject(src, driver, owners[0]?.id ?? "", "first file"),
    await storedObject(src, driver, owners[1]?.id ?? "", "second file"),
  ];

  const events: string[] = [];
  const out = folder("export");
  const exported = await exportDatabase({
    url: source.url,
    out,
    driver,
    onProgress: (p) => events.push(`${p.phase}:${p.itemsDone}/${p.itemsTotal}`),
  });
  const m = exported.manifest;
  assert.ok(m.tables.length >= 18, `${m.tables.length} tables`);
  const byName = new Map(m.tables.map((t) => [t.name, t]));
  for (const name of [
    "public.users",
    "public.user_activity",
    "storage.objects",
    "private.storage_deletions",
  ]) {
    assert.ok(byName.has(name), `${name} is exported`);
  }
  assert.ok(
    !m.tables.some((t) => /_p\d{6}$|_default$/.test(t.name)),
    "partitions travel through their parents",
  );
  assert.ok(!m.tables.some((t) => t.schema === "vpb_seed" || t.schema === "vpb_migrate"));
  assert.equal(byName.get("public.user_activity")?.rows, 50_000);
  assert.deepEqual(
    m.files.map((f) => f.key),
    [...keys].sort(),
  );
  assert.ok(m.migrations.length >= 11);
  assert.ok(m.partitions.some((p) => p.name === "user_activity_p202605" || /_p\d{6}$/.test(p.name)));
  assert.ok(events.includes(`tables:${m.tables.length}/${m.tables.length}`) && events.includes("files:2/2"));
  // Parents before children.
  const order = m.tables.map((t) => t.name);
  assert.ok(order.indexOf("public.users") < order.indexOf("public.projects"));
  assert.ok(order.indexOf("public.projects") < order.indexOf("public.project_components"));
  assert.ok(order.indexOf("storage.buckets") < order.indexOf("storage.objects"));
  assert.deepEqual(
    (await readdir(scratch)).filter((f) => f.includes(".partial")),
    [],
    "no partial folder is left",
  );

  for (const triggers of ["auto", "disable"] as const) {
    const target = await createDatabase();
    const targetDriver = new DiskDriver(folder("storage-target"));
    const result = await importExport({ url: target.url, dir: out, driver: targetDriver, triggers });
    assert.equal(result.triggerMode, triggers === "auto" ? "replica" : "disable");
    assert.equal(result.files, 2);
    // An export of the imported copy has the same rows, by the same digests, and the same files.
    const again = await exportDatabase({ url: target.url, out: folder("again"), driver: targetDriver });
    assert.deepEqual(digests(again.manifest), digests(m));
    assert.deepEqual(again.manifest.files, m.files);
    const t = await client(target.url);
    // Indexes, keys and triggers dropped for the load are back exactly as the migrations made them.
    assert.deepEqual(await schemaObjects(t), await schemaObjects(src));
    const { rows: off } = await t.query(
      "select tgrelid::regclass::text as rel, tgname from pg_trigger where tgenabled = 'D'",
    );
    assert.deepEqual(off, [], "every trigger is enabled again");
    const { rows: parts } = await t.query<{ n: number }>(
      "select count(*)::int as n from public.user_activity_default",
    );
    assert.equal(parts[0]?.n, 0, "the monthly partitions were recreated: nothing fell into the default one");
  }
});

test("an export of PostgreSQL 15 imports into the embedded 17 with every digest equal", {
  skip: MAJOR !== 17 ? "run once, in the 17 pass" : false,
}, async () => {
  const dataRoot = folder("pg15");
  const server = startSystemServer(
    await binDirFor(15),
    dataRoot,
    27000 + Math.floor(Math.random() * 2000),
    15,
  );
  try {
    const migrated = await migrateUp(projectMigratorOptions(server.url));
    assert.equal(migrated.error, undefined);
    await seeded(server.url);
    const src = await client(server.url);
    const driver = new DiskDriver(folder("storage-15"));
    const { rows } = await src.query<{ id: string }>("select id from public.users order by id limit 1");
    await storedObject(src, driver, rows[0]?.id ?? "", "a file from 15");
    await src.end();
    const out = folder("export-15");
    const exported = await exportDatabase({ url: server.url, out, driver, format: "csv" });
    assert.match(exported.manifest.server, /^15\./);
    const target = await createDatabase();
    const targetDriver = new DiskDriver(folder("storage-17"));
    await importExport({ url: target.url, dir: out, driver: targetDriver });
    const again = await exportDatabase({
      url: target.url,
      out: folder("again-17"),
      driver: targetDriver,
      format: "csv",
    });
    assert.match(again.manifest.server, /^17\./);
    assert.deepEqual(digests(again.manifest), digests(exported.manifest));
    assert.deepEqual(again.manifest.files, exported.manifest.files);
  } finally {
    server.stop();
  }
});

/** A small database: two users, a project each, one stored file each. */
async function small() {
  const db = await createDatabase();
  const c = await client(db.url);
  // Laid out as VPB_DATA_DIR is, so that the CLI finds the files too.
  const dataDir = folder("data-small");
  const driver = new DiskDriver(path.join(dataDir, "storage"));
  const a = await user(c, { name: "Ada" });
  const b = await user(c, { name: "Grace" });
  const pa = await project(c, a.id);
  const pb = await project(c, b.id);
  // Grace collaborates on Ada's project and prompts in it: rows of Ada's project naming Grace.
  await c.query(
    "insert into public.collaborators (project_id, user_id, invited_email, role, invited_by) values ($1, $2, $4, 'editor', $3)",
    [pa.id, b.id, a.id, b.email],
  );
  await c.query(
    "insert into public.prompt_generations (project_id, user_id, input_snapshot, model, status) values ($1, $2, '{}', 'm', 'pending'), ($1, $3, '{}', 'm', 'pending')",
    [pa.id, a.id, b.id],
  );
  const fileA = await storedObject(c, driver, a.id, "Ada's recording");
  const fileB = await storedObject(c, driver, b.id, "Grace's recording");
  return { db, c, dataDir, driver, a, b, pa, pb, fileA, fileB };
}

test("a tampered export (a changed row, a changed file) fails import naming it, and imports nothing", async () => {
  const s = await small();
  const out = folder("tamper");
  await exportDatabase({ url: s.db.url, out, driver: s.driver, format: "csv" });
  const usersFile = path.join(out, "tables", "public.users.csv");
  const original = await readFile(usersFile, "utf8");
  assert.ok(original.includes("Grace"));
  await writeFile(usersFile, original.replace("Grace", "Grade"));

  const target = await createDatabase();
  const targetDriver = new DiskDriver(folder("storage-tamper"));
  const env = { DATABASE_URL: target.url, VPB_DATA_DIR: folder("data") };
  const run1 = await runCli(["import", out], env);
  assert.equal(run1.code, 1, run1.stderr);
  assert.match(run1.stderr, /IMPORT_MISMATCH/);
  assert.match(run1.stderr, /table public\.users: its rows' digest differs/);
  assert.doesNotMatch(run1.stderr, /Grade|Grace/, "no row value in the message");

  await writeFile(usersFile, original);
  const fileB = path.join(out, "files", ...s.fileB.split("/"));
  await writeFile(fileB, "Grace's recordinG");
  await assert.rejects(importExport({ url: target.url, dir: out, driver: targetDriver }), (e) => {
    assert.ok(isVpbError(e, "IMPORT_MISMATCH"), String(e));
    assert.match(e.message, new RegExp(`file ${s.fileB}: its bytes differ`));
    assert.doesNotMatch(e.message, /table /, "the rows themselves match");
    return true;
  });
  const t = await client(target.url);
  const { rows } = await t.query<{ n: number }>("select count(*)::int as n from public.users");
  assert.equal(rows[0]?.n, 0, "no row was imported");
  assert.equal(await targetDriver.head(s.fileA), undefined, "no file was left behind");
  assert.equal(await targetDriver.head(s.fileB), undefined);

  // Intact again, it imports (through the CLI: the command's wiring and its summary).
  await writeFile(fileB, "Grace's recording");
  const run2 = await runCli(["import", out, "--json"], env);
  assert.equal(run2.code, 0, run2.stderr);
  assert.equal(JSON.parse(run2.stdout).files, 2);
});

test("import refuses a database that holds rows, or whose migrations differ, and changes nothing", async () => {
  const s = await small();
  const out = folder("refuse");
  await exportDatabase({ url: s.db.url, out, driver: s.driver });
  await assert.rejects(importExport({ url: s.db.url, dir: out, driver: s.driver }), (e) => {
    assert.ok(isVpbError(e, "IMPORT_TARGET_NOT_EMPTY"), String(e));
    assert.match(e.message, /public\.users/);
    return true;
  });
  const { rows } = await s.c.query<{ n: number }>("select count(*)::int as n from public.users");
  assert.equal(rows[0]?.n, 2);

  const manifestFile = path.join(out, "manifest.json");
  const manifest = JSON.parse(await readFile(manifestFile, "utf8")) as ExportManifest;
  const edited = structuredClone(manifest);
  edited.migrations[2] = { name: edited.migrations[2]?.name ?? "", checksum: "0".repeat(64) };
  await writeFile(manifestFile, JSON.stringify(edited));
  const target = await createDatabase();
  await assert.rejects(importExport({ url: target.url, dir: out, driver: s.driver }), (e) =>
    isVpbError(e, "IMPORT_MIGRATIONS_MISMATCH"),
  );
  // An export taken at an older migration than the database: refused, with the way out.
  edited.migrations = manifest.migrations.slice(0, 9);
  await writeFile(manifestFile, JSON.stringify(edited));
  await assert.rejects(importExport({ url: target.url, dir: out, driver: s.driver }), (e) => {
    assert.ok(isVpbError(e, "IMPORT_MIGRATIONS_MISMATCH"), String(e));
    assert.match(e.remedy, /migrate up --to 009/);
    return true;
  });
  const t = await client(target.url);
  const { rows: none } = await t.query<{ n: number }>("select count(*)::int as n from public.users");
  assert.equal(none[0]?.n, 0);

  await assert.rejects(exportDatabase({ url: s.db.url, out, driver: s.driver }), (e) =>
    isVpbError(e, "EXPORT_TARGET_EXISTS"),
  );

  // A database behind the export (here: not migrated at all) is migrated up to the export's state first.
  await writeFile(manifestFile, JSON.stringify(manifest));
  const fresh = await createDatabase("empty");
  const last = manifest.migrations.at(-1)?.name ?? "";
  const result = await importExport({
    url: fresh.url,
    dir: out,
    driver: new DiskDriver(folder("storage-fresh")),
    migrateTo: async (name) => {
      const up = await migrateUp(projectMigratorOptions(fresh.url), { to: name });
      if (up.error) throw up.error;
    },
  });
  assert.equal(result.migratedTo, last);
  const f = await client(fresh.url);
  const { rows: imported } = await f.query<{ n: number }>("select count(*)::int as n from public.users");
  assert.equal(imported[0]?.n, 2);
});

test("a failed export leaves no folder that looks like an export", async () => {
  const s = await small();
  const parent = folder("failing");
  const out = path.join(parent, "export");
  const broken = Object.create(s.driver) as DiskDriver;
  broken.get = async () => {
    throw new Error("the disk went away");
  };
  await assert.rejects(exportDatabase({ url: s.db.url, out, driver: broken }), /the disk went away/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(await readdir(parent), [], "the partial folder is removed");
});

test("a per-user export holds that user's rows and files only: no other user's id anywhere", async () => {
  const s = await small();
  const out = folder("takeout");
  const res = await runCli(["export", "--user", s.a.id, "--out", out, "--format", "csv", "--json"], {
    DATABASE_URL: s.db.url,
    VPB_DATA_DIR: s.dataDir,
  });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).files, 1);
  const m = JSON.parse(await readFile(path.join(out, "manifest.json"), "utf8")) as ExportManifest;
  assert.equal(m.user, s.a.id);
  const names = m.tables.map((t) => t.name);
  for (const left of [
    "public.sessions",
    "public.collaborators",
    "public.verification_tokens",
    "storage.buckets",
  ]) {
    assert.ok(!names.includes(left), `${left} is left out`);
  }
  assert.equal(m.tables.find((t) => t.name === "public.users")?.rows, 1);
  assert.equal(m.tables.find((t) => t.name === "public.projects")?.rows, 1);
  assert.equal(
    m.tables.find((t) => t.name === "public.prompt_generations")?.rows,
    1,
    "Grace's prompt is hers",
  );
  assert.ok(!m.tables.find((t) => t.name === "public.accounts")?.columns.includes("access_token"));
  assert.deepEqual(
    m.files.map((f) => f.key),
    [s.fileA],
  );
  let text = "";
  for (const t of m.tables) text += await readFile(path.join(out, t.file), "utf8");
  assert.ok(text.includes(s.a.id));
  assert.ok(!text.includes(s.b.id), "Grace's id appears nowhere in Ada's takeout");
  assert.ok(!text.includes(s.pb.id));
  await assert.rejects(importExport({ url: (await createDatabase()).url, dir: out, driver: s.driver }), (e) =>
    isVpbError(e, "EXPORT_INVALID"),
  );
  // A malformed --user is refused before the CLI looks for a server (none in this folder, none made).
  const noServer = folder("bad-user");
  const bad = await runCli(["export", "--user", "xyz"], { DATABASE_URL: "", VPB_DATA_DIR: noServer });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /INVALID_ARGUMENT.*--user must be a user's id/);
  assert.equal(existsSync(noServer), false);
  // From the CLI, into a folder with no database yet: refused before a server is made there.
  const dataDir = folder("takeout-import");
  const cli = await runCli(["import", out], { DATABASE_URL: "", VPB_DATA_DIR: dataDir });
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(cli.stderr, /EXPORT_INVALID.*per-user export/);
  assert.equal(existsSync(dataDir), false, "no data folder made");
});

test("import into a database where a view depends on a primary key loads with the indexes in place, triggers disabled", async () => {
  const s = await small();
  const out = folder("view");
  await exportDatabase({ url: s.db.url, out, driver: s.driver });
  const target = await createDatabase();
  const t = await client(target.url);
  // Grouping by the primary key makes the view depend on users_pkey: it cannot be dropped for the load.
  await t.query("create view public.user_names as select u.id, u.name from public.users u group by u.id");
  const result = await importExport({
    url: target.url,
    dir: out,
    driver: new DiskDriver(folder("storage-view")),
    triggers: "disable",
  });
  assert.equal(result.indexesRebuilt, false);
  assert.equal(result.triggerMode, "disable");
  const { rows } = await t.query<{ n: number }>("select count(*)::int as n from public.user_names");
  assert.equal(rows[0]?.n, 2);
  const { rows: off } = await t.query("select tgname from pg_trigger where tgenabled = 'D'");
  assert.deepEqual(off, []);
});
