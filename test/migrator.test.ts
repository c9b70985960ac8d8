import assert from "node:assert/strict";
import { appendFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import {
  baseline,
  migrateDown,
  migrateUp,
  migrationPlan,
  migrationStatus,
  repair,
  reset,
  STATUS_EXIT,
  statusExitCode,
} from "../src/migrations/migrator.ts";
import { assertTransactionOpen } from "../src/migrations/transaction.ts";
import { catalogSnapshot } from "./support/catalog.ts";
import { fixtureProject } from "./support/fixtures.ts";
import { client, createDatabase } from "./support/harness.ts";

const THREE = {
  "001_people": {
    up: "create table people (id int primary key, name text not null);\n",
    down: "drop table people;\n",
  },
  "002_pets": {
    up: "create table pets (id int primary key, owner int references people);\ncreate index pets_owner_idx on pets (owner);\n",
    down: "drop table pets;\n",
  },
  "003_view": {
    up: "create view people_with_pets as select p.name, count(x.id) from people p left join pets x on x.owner = p.id group by p.name;\n",
    down: "drop view people_with_pets;\n",
  },
};

async function events(url: string) {
  const c = await client(url);
  return (
    await c.query<{ kind: string; name: string }>("select kind, name from vpb_migrate.events order by id")
  ).rows;
}

test("up applies every pending migration in order, once, with tracking rows and events", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, THREE);
  const first = await migrateUp(p.options);
  assert.equal(first.error, undefined);
  assert.deepEqual(
    first.results.map((r) => [r.name, r.status]),
    [
      ["001_people", "Success"],
      ["002_pets", "Success"],
      ["003_view", "Success"],
    ],
  );
  const again = await migrateUp(p.options);
  assert.deepEqual(again.results, []);
  const c = await client(db.url);
  const rows = (
    await c.query("select name, checksum, duration_ms, applied_by from vpb_migrate.migrations order by name")
  ).rows;
  assert.deepEqual(
    rows.map((r) => r.name),
    ["001_people", "002_pets", "003_view"],
  );
  for (const r of rows) {
    assert.match(r.checksum, /^[0-9a-f]{64}$/);
    assert.ok(r.duration_ms >= 0);
    assert.match(r.applied_by, /^postgres \(.+@.+\)$/);
  }
  assert.deepEqual(
    (await events(db.url)).map((e) => e.kind),
    ["applied", "applied", "applied"],
  );
  const status = await migrationStatus(p.options);
  assert.equal(statusExitCode(status), STATUS_EXIT.upToDate);
});

test("up --to stops after the target; status then reports pending (exit 3)", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, THREE);
  const r = await migrateUp(p.options, { to: "002" });
  assert.deepEqual(
    r.results.map((x) => x.name),
    ["001_people", "002_pets"],
  );
  const status = await migrationStatus(p.options);
  assert.deepEqual(
    status.pending.map((m) => m.name),
    ["003_view"],
  );
  assert.equal(statusExitCode(status), STATUS_EXIT.pending);
  const unknown = await migrateUp(p.options, { to: "042" });
  assert.equal(unknown.error?.code, "MIGRATION_TARGET_UNKNOWN");
});

test("an edited applied migration is refused by name, changes nothing, and repair accepts it", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, THREE);
  await migrateUp(p.options, { to: "001" });
  await appendFile(path.join(p.migrationsDir, "001_people.sql"), "alter table people add column age int;\n");
  const refused = await migrateUp(p.options);
  assert.equal(refused.error?.code, "MIGRATION_CHECKSUM_MISMATCH");
  assert.match(refused.error?.message ?? "", /migrations\/001_people\.sql/);
  assert.deepEqual(refused.results, []);
  const c = await client(db.url);
  assert.equal((await c.query("select to_regclass('pets') as t")).rows[0].t, null, "002 must not run");
  assert.equal(statusExitCode(await migrationStatus(p.options)), STATUS_EXIT.drift);

  const repaired = await repair(p.options);
  assert.equal(repaired.error, undefined);
  assert.deepEqual(
    repaired.results.map((r) => r.name),
    ["001_people"],
  );
  assert.equal((await migrateUp(p.options)).error, undefined);
  assert.ok((await events(db.url)).some((e) => e.kind === "repaired" && e.name === "001_people"));
});

test("line endings do not change the checksum", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, { "001_people": THREE["001_people"] });
  await migrateUp(p.options);
  await writeFile(
    path.join(p.migrationsDir, "001_people.sql"),
    THREE["001_people"].up.replace(/\n/g, "\r\n"),
  );
  assert.equal(statusExitCode(await migrationStatus(p.options)), STATUS_EXIT.upToDate);
});

test("a pending migration older than the latest applied is refused unless allowed", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_people": THREE["001_people"],
    "003_view0": { up: "select 1;", down: "" },
  });
  await migrateUp(p.options);
  await p.write("002_pets", THREE["002_pets"]);
  const refused = await migrateUp(p.options);
  assert.equal(refused.error?.code, "MIGRATION_OUT_OF_ORDER");
  assert.match(refused.error?.message ?? "", /002_pets\.sql/);
  const allowed = await migrateUp({ ...p.options, allowOutOfOrder: true });
  assert.equal(allowed.error, undefined);
  assert.deepEqual(
    allowed.results.map((r) => r.name),
    ["002_pets"],
  );
});

test("a migration failing halfway leaves schema and tracking as before, and says file:line:column", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_people": THREE["001_people"],
    "002_broken": {
      up: "create table broken_a (id int);\ninsert into broken_a values (1);\n\nselect *\n  from no_such_table;\ncreate table broken_b (id int);\n",
      down: "drop table broken_a;",
    },
  });
  await migrateUp(p.options, { to: "001" });
  const c = await client(db.url);
  const before = await catalogSnapshot(c);
  const trackedBefore = (await c.query("select * from vpb_migrate.migrations order by name")).rows;

  const r = await migrateUp(p.options);
  assert.equal(r.error?.code, "MIGRATION_FAILED");
  assert.deepEqual(
    r.results.map((x) => [x.name, x.status]),
    [["002_broken", "Error"]],
  );
  const message = r.error?.message ?? "";
  assert.match(message, /^migrations\/002_broken\.sql:5:8: relation "no_such_table" does not exist/);
  assert.match(message, /5 \|\s+from no_such_table;\n\s+\|\s{8}\^/);
  assert.match(message, /code:\s+42P01/);
  assert.equal(r.error?.pg?.code, "42P01");

  assert.deepEqual(await catalogSnapshot(c), before);
  assert.deepEqual((await c.query("select * from vpb_migrate.migrations order by name")).rows, trackedBefore);
  const last = (await events(db.url)).at(-1);
  assert.deepEqual(last, { kind: "failed", name: "002_broken" });
});

test("a runtime error without a position points at the failing statement", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_div": { up: "create table t (x int);\n\n  insert into t values (1 / 0);\n", down: "drop table t;" },
  });
  const r = await migrateUp(p.options);
  assert.match(r.error?.message ?? "", /^migrations\/001_div\.sql:3:3: division by zero/);
});

test("transaction control inside a migration is refused before anything runs", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_tx": { up: "begin;\ncreate table t (x int);\ncommit;\n", down: "drop table t;" },
  });
  const r = await migrateUp(p.options);
  assert.equal(r.error?.code, "MIGRATION_FAILED");
  assert.match(r.error?.message ?? "", /001_tx\.sql:1:1: transaction control statements are not allowed/);
  const c = await client(db.url);
  assert.equal((await c.query("select to_regclass('t') as t")).rows[0].t, null);
});

test("the no-transaction directive runs CREATE INDEX CONCURRENTLY statement by statement", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_people": THREE["001_people"],
    "002_concurrent": {
      up: "-- vpb:no-transaction\ncreate index concurrently if not exists people_name_idx on people (name);\n",
      down: "-- vpb:no-transaction\ndrop index concurrently if exists people_name_idx;\n",
    },
  });
  const r = await migrateUp(p.options);
  assert.equal(r.error, undefined);
  const c = await client(db.url);
  assert.equal(
    (await c.query("select to_regclass('people_name_idx')::text as i")).rows[0].i,
    "people_name_idx",
  );
  const down = await migrateDown(p.options);
  assert.equal(down.error, undefined);
  assert.equal((await c.query("select to_regclass('people_name_idx') as i")).rows[0].i, null);
});

test("lock_timeout applies per migration: a blocked ALTER fails fast and changes nothing", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_people": THREE["001_people"],
    "002_alter": {
      up: "alter table people add column age int;\n",
      down: "alter table people drop column age;",
    },
  });
  await migrateUp(p.options, { to: "001" });
  const blocker = await client(db.url);
  await blocker.query("begin; lock table people in access share mode");
  const started = Date.now();
  const r = await migrateUp({ ...p.options, lockTimeout: "300ms" });
  await blocker.query("rollback");
  assert.equal(r.error?.pg?.code, "55P03");
  assert.ok(Date.now() - started < 10_000);
  assert.equal(statusExitCode(await migrationStatus(p.options)), STATUS_EXIT.pending);
});

test("down rolls back one, --steps N, --to NAME and --all, newest first", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, THREE);
  await migrateUp(p.options);
  const one = await migrateDown(p.options);
  assert.deepEqual(
    one.results.map((r) => [r.name, r.direction]),
    [["003_view", "down"]],
  );
  await migrateUp(p.options);
  const to = await migrateDown(p.options, { to: "001" });
  assert.deepEqual(
    to.results.map((r) => r.name),
    ["003_view", "002_pets"],
  );
  await migrateUp(p.options);
  const steps = await migrateDown(p.options, { steps: 2 });
  assert.equal(steps.results.length, 2);
  const all = await migrateDown(p.options, { all: true });
  assert.deepEqual(
    all.results.map((r) => r.name),
    ["001_people"],
  );
  const c = await client(db.url);
  assert.equal((await c.query("select count(*)::int as n from vpb_migrate.migrations")).rows[0].n, 0);
  assert.equal((await events(db.url)).filter((e) => e.kind === "rolled_back").length, 6);
});

test("down without a rollback script is refused and leaves the migration applied", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, { "001_people": { up: THREE["001_people"].up } });
  await migrateUp(p.options);
  const r = await migrateDown(p.options);
  assert.equal(r.error?.code, "MIGRATION_ROLLBACK_MISSING");
  assert.equal(statusExitCode(await migrationStatus(p.options)), STATUS_EXIT.upToDate);
});

test("a failing rollback leaves the migration applied and its objects in place", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_people": { up: THREE["001_people"].up, down: "drop table people;\ndrop table not_there;\n" },
  });
  await migrateUp(p.options);
  const r = await migrateDown(p.options);
  assert.equal(r.error?.code, "ROLLBACK_FAILED");
  assert.match(
    r.error?.message ?? "",
    /rollbacks\/001_people\.down\.sql:2:1: table "not_there" does not exist/,
  );
  const c = await client(db.url);
  assert.equal((await c.query("select to_regclass('people')::text as t")).rows[0].t, "people");
});

test("baseline records without running; plan shows the SQL and runs nothing", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, THREE);
  const plan = await migrationPlan(p.options, { to: "002" });
  assert.deepEqual(
    plan.steps.map((m) => m.name),
    ["001_people", "002_pets"],
  );
  assert.match(plan.steps[1]?.sql ?? "", /create table pets/);
  const c = await client(db.url);
  assert.equal(
    (await c.query("select to_regclass('vpb_migrate.migrations') as t")).rows[0].t,
    null,
    "plan wrote nothing",
  );

  await c.query("create table people (id int primary key, name text not null)");
  const b = await baseline(p.options, { to: "001" });
  assert.deepEqual(
    b.results.map((r) => r.name),
    ["001_people"],
  );
  const up = await migrateUp(p.options);
  assert.equal(up.error, undefined);
  assert.deepEqual(
    up.results.map((r) => r.name),
    ["002_pets", "003_view"],
  );
  assert.equal((await events(db.url))[0]?.kind, "baselined");
});

test("reset is refused on a non-local database without force, and rebuilds a local one", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, THREE);
  await migrateUp(p.options);
  const refused = await reset(p.options, { local: false, force: false });
  assert.equal(refused.error?.code, "RESET_REFUSED");
  const c = await client(db.url);
  await c.query("insert into people values (1, 'kept until reset')");
  const r = await reset(p.options, { local: true, force: false });
  assert.equal(r.error, undefined);
  assert.equal(r.results.length, 6);
  assert.equal((await c.query("select count(*)::int as n from people")).rows[0].n, 0);
});

test("the event log is append-only, even for its owner", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, THREE);
  await migrateUp(p.options);
  const c = await client(db.url);
  await assert.rejects(c.query("delete from vpb_migrate.events"), /append-only/);
  await assert.rejects(c.query("update vpb_migrate.events set name = 'x'"), /append-only/);
  await assert.rejects(c.query("truncate vpb_migrate.events"), /append-only/);
});

test("bad file names and duplicate numbers are refused with the file named", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, { "001_people": THREE["001_people"] });
  await writeFile(path.join(p.migrationsDir, "2-Pets.sql"), "select 1;");
  const bad = await migrateUp(p.options);
  assert.equal(bad.error?.code, "MIGRATION_NAME_INVALID");
  assert.match(bad.error?.message ?? "", /2-Pets\.sql/);
  const q = await fixtureProject(db.url, {
    "001_people": THREE["001_people"],
    "001_pets": THREE["002_pets"],
  });
  assert.equal((await migrateUp(q.options)).error?.code, "MIGRATION_DUPLICATE_NUMBER");
});

test("transaction control is refused whatever comes before it: a comment, ABORT, END, SAVEPOINT", async () => {
  const db = await createDatabase("empty");
  const cases: Record<string, [string, string]> = {
    "001_note": ["create table t (x int);\n-- note\ncommit;\ncreate table u (x int);\n", ":3:1:"],
    "001_abort": ["create table t (x int);\nabort;\n", ":2:1:"],
    "001_end": ["create table t (x int);\n/* done */ end;\n", ":2:12:"],
    "001_savepoint": ["savepoint a;\ncreate table t (x int);\n", ":1:1:"],
    "001_prepare": ["create table t (x int);\nprepare transaction 'x';\n", ":2:1:"],
  };
  for (const [name, [up, where]] of Object.entries(cases)) {
    const p = await fixtureProject(db.url, { [name]: { up, down: "drop table t;" } });
    const r = await migrateUp(p.options);
    assert.equal(r.error?.code, "MIGRATION_FAILED", name);
    assert.ok(
      (r.error?.message ?? "").includes(`${name}.sql${where} transaction control statements are not allowed`),
      `${name}: ${r.error?.message}`,
    );
    assert.match(r.error?.remedy ?? "", /nothing of this migration ran/);
    const c = await client(db.url);
    assert.equal((await c.query("select to_regclass('t') as t")).rows[0].t, null, name);
    assert.equal((await c.query("select count(*)::int as n from vpb_migrate.migrations")).rows[0].n, 0);
  }
});

test("COPY FROM STDIN and psql meta-commands are refused before anything runs, with file:line:column", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_copy": { up: "create table t (x int);\ncopy t from stdin;\n", down: "drop table t;" },
  });
  const copy = await migrateUp(p.options);
  assert.match(copy.error?.message ?? "", /001_copy\.sql:2:1: COPY … FROM STDIN is not allowed/);
  const q = await fixtureProject(db.url, {
    "001_meta": { up: "create table t (x int);\n  \\set ON_ERROR_STOP on\n", down: "drop table t;" },
  });
  const meta = await migrateUp(q.options);
  assert.match(meta.error?.message ?? "", /001_meta\.sql:2:3: psql meta-commands .* are not allowed/);
  assert.equal(meta.error?.pg?.code, "42601");
  const c = await client(db.url);
  assert.equal((await c.query("select to_regclass('t') as t")).rows[0].t, null);
});

test("a syntax error anywhere in the file is reported at its line and column before anything runs", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_syntax": { up: "create table t (x int);\nselect from t where ;\n", down: "drop table t;" },
  });
  const r = await migrateUp(p.options);
  assert.match(r.error?.message ?? "", /^migrations\/001_syntax\.sql:2:21: syntax error at or near ";"/);
  assert.match(r.error?.message ?? "", /2 \| select from t where ;\n\s+\|\s{21}\^/);
  const c = await client(db.url);
  const events = (await c.query("select kind from vpb_migrate.events")).rows.map((e) => e.kind);
  assert.deepEqual(events, ["failed"]);
});

test("the error column is right after multi-byte characters in the failing statement", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_utf8": { up: "create table t (x text);\nselect 'é😀', nope from t;\n", down: "drop table t;" },
  });
  const r = await migrateUp(p.options);
  // Postgres says "nope" is the 14th character; the emoji before it is one character but two
  // string units (and two terminal cells), so the column in string units is 15.
  assert.match(r.error?.message ?? "", /001_utf8\.sql:2:15: column "nope" does not exist/);
});

test("files are ordered by their number, not their name: 999 runs before 1000 and is rolled back after it", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "999_people": THREE["001_people"],
    "1000_pets": { up: THREE["002_pets"].up, down: "drop table pets;\n" },
  });
  const up = await migrateUp(p.options);
  assert.equal(up.error, undefined, up.error?.message);
  assert.deepEqual(
    up.results.map((r) => r.name),
    ["999_people", "1000_pets"],
  );
  const status = await migrationStatus(p.options);
  assert.deepEqual(
    status.applied.map((a) => a.name),
    ["999_people", "1000_pets"],
  );
  const down = await migrateDown(p.options, { all: true });
  assert.equal(down.error, undefined, down.error?.message);
  assert.deepEqual(
    down.results.map((r) => r.name),
    ["1000_pets", "999_people"],
  );
});

test("reset holds the migration lock from the first rollback to the last migration", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_people": { up: THREE["001_people"].up, down: "select pg_sleep(0.5);\ndrop table people;\n" },
  });
  await migrateUp(p.options);
  const other = await client(db.url);
  let waiting: Promise<unknown> | undefined;
  const r = await reset(
    {
      ...p.options,
      lockWaitMs: 2000,
      // Another run asks for the lock while the rollback runs: it must get it only after reset ends.
      onProgress: (e) => {
        if (e.kind === "start" && e.direction === "down") {
          waiting = other.query("select pg_advisory_lock(33337615061969255)");
        }
      },
    },
    { local: true, force: false },
  );
  assert.ok(waiting, "the other run asked for the lock");
  await waiting;
  await other.query("select pg_advisory_unlock(33337615061969255)");
  assert.equal(r.error, undefined, r.error?.message);
  assert.deepEqual(
    r.results.map((x) => [x.name, x.direction]),
    [
      ["001_people", "down"],
      ["001_people", "up"],
    ],
  );
});

test("a no-transaction migration failing halfway says what stays applied and names the INVALID index", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, {
    "001_people": {
      up: "create table people (id int primary key, name text not null);\ninsert into people values (1, 'a'), (2, 'a');\n",
      down: "drop table people;",
    },
    "002_concurrent": {
      up: [
        "-- vpb:no-transaction",
        "create index concurrently if not exists people_id_name_idx on people (id, name);",
        "create unique index concurrently if not exists people_name_key on people (name);",
        "create index concurrently if not exists people_lower_idx on people (lower(name));",
        "",
      ].join("\n"),
      down: "-- vpb:no-transaction\ndrop index concurrently if exists people_name_key;\n",
    },
  });
  const first = await migrateUp(p.options);
  assert.equal(first.error?.code, "MIGRATION_FAILED");
  assert.match(first.error?.message ?? "", /002_concurrent\.sql:3:1: could not create unique index/);
  const remedy = first.error?.remedy ?? "";
  assert.doesNotMatch(remedy, /nothing of this migration remains/);
  assert.match(remedy, /outside a transaction/);
  assert.match(remedy, /Its statement 1 \(of 3\) completed and stays applied/);
  assert.match(remedy, /not recorded as applied/);
  assert.match(remedy, /DROP INDEX CONCURRENTLY people_name_key/);
  const c = await client(db.url);
  const failed = (
    await c.query("select detail from vpb_migrate.events where kind = 'failed' order by id desc limit 1")
  ).rows[0].detail;
  assert.equal(failed.completed_statements, 1);
  assert.equal(failed.statements, 3);
  assert.deepEqual(failed.invalid_indexes, ["people_name_key"]);

  // The data is fixed, but IF NOT EXISTS now skips the INVALID index: that is refused, not recorded.
  await c.query("delete from people where id = 2");
  const second = await migrateUp(p.options);
  assert.equal(second.error?.code, "MIGRATION_FAILED");
  assert.match(second.error?.message ?? "", /002_concurrent\.sql:3:1: index people_name_key is INVALID/);
  assert.equal(statusExitCode(await migrationStatus(p.options)), STATUS_EXIT.pending);

  await c.query("drop index concurrently people_name_key");
  const third = await migrateUp(p.options);
  assert.equal(third.error, undefined, third.error?.message);
  const valid = await c.query(
    "select bool_and(indisvalid) as ok, count(*)::int as n from pg_index where indrelid = 'people'::regclass",
  );
  assert.deepEqual(valid.rows[0], { ok: true, n: 4 });
});

test("the open-transaction proof fails outside a transaction and passes inside one", async () => {
  const db = await createDatabase("empty");
  const c = await client(db.url);
  await assert.rejects(assertTransactionOpen(c), (e: { code?: string }) => e.code === "25P01");
  await c.query("begin");
  await assertTransactionOpen(c);
  await c.query("rollback");
});

test("a failing repair rolls back: the checksum stays and the next command runs normally", async () => {
  const db = await createDatabase("empty");
  const p = await fixtureProject(db.url, THREE);
  await migrateUp(p.options);
  await appendFile(path.join(p.migrationsDir, "001_people.sql"), "-- edited\n");
  const c = await client(db.url);
  const before = (await c.query("select checksum from vpb_migrate.migrations where name = '001_people'"))
    .rows;
  await c.query(`create function public.refuse_repair() returns trigger language plpgsql as $$
    begin if new.kind = 'repaired' then raise exception 'no repairs today'; end if; return new; end $$`);
  await c.query(
    "create trigger refuse_repair before insert on vpb_migrate.events for each row execute function public.refuse_repair()",
  );
  await assert.rejects(repair(p.options), /no repairs today/);
  assert.deepEqual(
    (await c.query("select checksum from vpb_migrate.migrations where name = '001_people'")).rows,
    before,
  );
  await c.query("drop trigger refuse_repair on vpb_migrate.events");
  const status = await migrationStatus(p.options);
  assert.equal(status.problems[0]?.code, "MIGRATION_CHECKSUM_MISMATCH");
});
