import assert from "node:assert/strict";
import { test } from "node:test";
import { applyBootstrap } from "../src/db/bootstrap.ts";
import { migrateUp } from "../src/migrations/migrator.ts";
import { catalogSnapshot } from "./support/catalog.ts";
import { fixtureProject } from "./support/fixtures.ts";
import { client, createDatabase } from "./support/harness.ts";

test("the bootstrap gives a plain database Supabase's roles, auth helpers and storage schema", async () => {
  const db = await createDatabase("empty");
  const c = await client(db.url);
  const r = await applyBootstrap(c);
  // The roles are cluster-wide, and other files may have made them already; the schema is this database's.
  assert.equal(r.kind, "applied");
  assert.ok(r.kind === "applied" && r.missing.includes("table storage.objects"));
  const roles = await c.query(
    "select rolname, rolbypassrls, rolcanlogin from pg_roles where rolname = any($1) order by 1",
    [["anon", "authenticated", "authenticator", "service_role"]],
  );
  assert.deepEqual(roles.rows, [
    { rolname: "anon", rolbypassrls: false, rolcanlogin: false },
    { rolname: "authenticated", rolbypassrls: false, rolcanlogin: false },
    { rolname: "authenticator", rolbypassrls: false, rolcanlogin: true },
    { rolname: "service_role", rolbypassrls: true, rolcanlogin: false },
  ]);
  const cols = await c.query(
    "select column_name from information_schema.columns where table_schema = 'storage' and table_name = 'buckets' order by 1",
  );
  for (const col of ["allowed_mime_types", "file_size_limit", "id", "name", "public"]) {
    assert.ok(
      cols.rows.some((x) => x.column_name === col),
      col,
    );
  }
});

test("a second run is a no-op: nothing runs and the catalog is identical", async () => {
  const db = await createDatabase("empty");
  const c = await client(db.url);
  await applyBootstrap(c);
  const before = await catalogSnapshot(c);
  assert.deepEqual(await applyBootstrap(c), { kind: "present" });
  assert.deepEqual(await catalogSnapshot(c), before);
});

test("a Supabase database is recognised and never touched", async () => {
  const db = await createDatabase("empty");
  const c = await client(db.url);
  // Supabase Storage keeps its own migration table; that marks the database as Supabase's.
  await c.query("create schema storage; create table storage.migrations (id int primary key, name text)");
  const before = await catalogSnapshot(c);
  assert.deepEqual(await applyBootstrap(c), { kind: "supabase" });
  assert.deepEqual(await catalogSnapshot(c), before);
  assert.equal((await c.query("select to_regclass('storage.objects') as t")).rows[0].t, null);
});

test("auth.uid(), auth.role() and auth.jwt() read request.jwt.claims as Supabase does", async () => {
  const db = await createDatabase("migrated");
  const c = await client(db.url);
  const claims = {
    sub: "5b0c7c8e-8a4f-4a55-9a8c-3f1f3c2b8a10",
    role: "authenticated",
    email: "a@example.com",
  };
  await c.query("begin");
  await c.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify(claims)]);
  const r = await c.query(
    "select auth.uid()::text as uid, auth.role() as role, auth.email() as email, auth.jwt() ->> 'sub' as sub",
  );
  await c.query("rollback");
  assert.deepEqual(r.rows[0], {
    uid: claims.sub,
    role: "authenticated",
    email: claims.email,
    sub: claims.sub,
  });
  const none = await c.query("select auth.uid() as uid, auth.role() as role");
  assert.deepEqual(none.rows[0], { uid: null, role: null });
});

test("storage.foldername(), filename() and extension() split object paths as Supabase does", async () => {
  const db = await createDatabase("migrated");
  const c = await client(db.url);
  const r = await c.query(
    "select storage.foldername($1) as folders, storage.filename($1) as file, storage.extension($1) as ext",
    ["user-1/project-2/1700000000_take.one.webm"],
  );
  assert.deepEqual(r.rows[0], {
    folders: ["user-1", "project-2"],
    file: "1700000000_take.one.webm",
    ext: "webm",
  });
});

test("regression: migrate up without an onProgress callback still applies the bootstrap", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {});
  const r = await migrateUp(p.options);
  assert.equal(r.error, undefined);
  const c = await client(db.url);
  assert.equal((await c.query("select to_regprocedure('auth.uid()') is not null as ok")).rows[0].ok, true);
});
