import assert from "node:assert/strict";
import { test } from "node:test";
import { runDoctor } from "../src/schema/doctor.ts";
import { runCli } from "./support/cli.ts";
import { client, createDatabase } from "./support/harness.ts";

test("the project's own schema passes the doctor clean", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  assert.deepEqual(await runDoctor(c), []);
  const cli = await runCli(["doctor"], { DATABASE_URL: db.url });
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /No findings in public, private\./);
});

test("regression: a --schema naming no schema is a usage error, not a clean bill of health", async () => {
  const db = await createDatabase();
  const cli = await runCli(["doctor", "--schema", "public,nope"], { DATABASE_URL: db.url });
  assert.equal(cli.code, 2, cli.stdout);
  assert.match(cli.stderr, /error \[INVALID_ARGUMENT\]: --schema names no schema of this database: nope/);
  assert.doesNotMatch(cli.stdout, /No findings/);
});

test("each flaw seeded once is reported once, by name, with a remedy (exit 5)", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  await c.query(`
    create table public.no_rls (id int primary key);
    create table public.not_forced (id int primary key, user_id uuid references public.users (id));
    alter table public.not_forced enable row level security;
    create policy per_row on public.not_forced for select using (user_id = auth.uid());
    create function public.definer_open() returns int language sql security definer as 'select 1';
    revoke execute on function public.definer_open() from public;
    create function public.for_everyone() returns int language sql as 'select 2';
    grant execute on function public.for_everyone() to anon;
  `);
  const findings = await runDoctor(c);
  const got = findings.map((f) => `${f.check} ${f.object}`).sort();
  assert.deepEqual(got, [
    "anon_can_execute public.for_everyone()",
    "auth_call_per_row public.not_forced: policy per_row",
    "definer_without_search_path public.definer_open()",
    "fk_without_index public.not_forced: FOREIGN KEY (user_id) REFERENCES users(id)",
    "rls_disabled public.no_rls",
    "rls_not_forced public.not_forced",
  ]);
  for (const f of findings) assert.ok(f.remedy.length > 10 && f.detail.length > 10);
  const cli = await runCli(["doctor", "--json"], { DATABASE_URL: db.url });
  assert.equal(cli.code, 5);
  assert.equal((JSON.parse(cli.stdout) as unknown[]).length, 6);
});

test("a policy that calls auth.uid() in a sub-select is not flagged, nor a function marked @anon-allowed", async () => {
  const db = await createDatabase();
  const c = await client(db.url);
  await c.query(`
    create table public.fine (id int primary key, user_id uuid);
    alter table public.fine enable row level security, force row level security;
    create policy once on public.fine for select using (user_id = (select auth.uid()));
    create function public.health() returns text language sql as 'select ''ok''';
    comment on function public.health() is 'liveness probe @anon-allowed';
    grant execute on function public.health() to anon;
  `);
  assert.deepEqual(await runDoctor(c), []);
});
