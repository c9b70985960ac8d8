import assert from "node:assert/strict";
import { test } from "node:test";
import { applyBootstrap } from "../src/db/bootstrap.ts";
import { migrateDown, migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { catalogSnapshot } from "./support/catalog.ts";
import { fixtureProject } from "./support/fixtures.ts";
import { client, createDatabase } from "./support/harness.ts";
import { refusal } from "./support/rows.ts";

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

const DIRECT_DELETE = /^Direct deletion from storage tables is not allowed\. Use the Storage API instead\.$/;

test("a plain DELETE on storage.objects or storage.buckets is refused as on Supabase; the Storage API's setting allows it", async () => {
  const db = await createDatabase("migrated");
  const c = await client(db.url);
  await c.query("insert into storage.buckets (id, name) values ('scratch', 'scratch')");
  await c.query("insert into storage.objects (bucket_id, name) values ('scratch', 'a/b.webm')");
  for (const table of ["storage.objects", "storage.buckets"]) {
    const e = await refusal(c, `delete from ${table} where false`);
    assert.equal(e.code, "42501", table);
    assert.match(e.message, DIRECT_DELETE, table);
  }
  assert.equal((await c.query("select count(*)::int as n from storage.objects")).rows[0].n, 1);
  await c.query("begin");
  await c.query("select set_config('storage.allow_delete_query', 'true', true)");
  assert.equal((await c.query("delete from storage.objects where bucket_id = 'scratch'")).rowCount, 1);
  assert.equal((await c.query("delete from storage.buckets where id = 'scratch'")).rowCount, 1);
  await c.query("commit");
  // The setting is the transaction's only.
  assert.equal((await refusal(c, "delete from storage.buckets where false")).code, "42501");
});

test("a database bootstrapped before the delete protection gets it on the next run", async () => {
  const db = await createDatabase("empty");
  const c = await client(db.url);
  await applyBootstrap(c);
  await c.query(`drop trigger protect_buckets_delete on storage.buckets;
                 drop trigger protect_objects_delete on storage.objects;
                 drop function storage.protect_delete()`);
  assert.deepEqual(await applyBootstrap(c), {
    kind: "applied",
    missing: [
      "function storage.protect_delete()",
      "trigger protect_buckets_delete",
      "trigger protect_objects_delete",
    ],
  });
  assert.equal((await refusal(c, "delete from storage.objects where false")).code, "42501");
  // Only a trigger missing is noticed too.
  await c.query("drop trigger protect_objects_delete on storage.objects");
  assert.deepEqual(await applyBootstrap(c), { kind: "applied", missing: ["trigger protect_objects_delete"] });
  assert.equal((await refusal(c, "delete from storage.objects where false")).code, "42501");
});

test("a database bootstrapped with ALL for the API roles on storage (TRUNCATE, TRIGGER, REFERENCES, MAINTAIN) keeps only what RLS governs", async () => {
  const db = await createDatabase("empty");
  const c = await client(db.url);
  await applyBootstrap(c);
  // What the bootstrap granted before: ALL.
  await c.query("grant all on storage.buckets, storage.objects to anon, authenticated");
  assert.deepEqual(await applyBootstrap(c), {
    kind: "applied",
    missing: ["storage grants of the API roles limited to select, insert, update, delete"],
  });
  const left = await c.query(
    `select r.rolname, t.relname, a.privilege_type
       from pg_class t, aclexplode(t.relacl) a join pg_roles r on r.oid = a.grantee
      where t.oid in ('storage.objects'::regclass, 'storage.buckets'::regclass)
        and r.rolname in ('anon', 'authenticated') and a.privilege_type not in ('SELECT', 'INSERT', 'UPDATE', 'DELETE')`,
  );
  assert.deepEqual(left.rows, []);
  assert.deepEqual(await applyBootstrap(c), { kind: "present" });
});

test("the storage rollback (005) deletes its bucket through the delete protection", async () => {
  const db = await createDatabase("migrated");
  const c = await client(db.url);
  const down = await migrateDown(projectMigratorOptions(db.url), { to: "004_row_level_security" });
  assert.equal(down.error, undefined, down.error?.message);
  assert.equal((await c.query("select count(*)::int as n from storage.buckets")).rows[0].n, 0);
  // The setting did not outlive the rollback's own statement.
  assert.equal((await refusal(c, "delete from storage.buckets where false")).code, "42501");
});
