import assert from "node:assert/strict";
import { test } from "node:test";
import { lineColumn, splitStatements } from "../src/migrations/sql-splitter.ts";

const texts = (sql: string) => splitStatements(sql).map((s) => s.text);

test("splits on top-level semicolons and drops empty and comment-only pieces", () => {
  assert.deepEqual(texts("select 1;\n\n  select 2 ;;\n-- trailing comment\n"), ["select 1", "select 2"]);
});

test("keeps semicolons inside quotes, identifiers, comments and dollar quotes", () => {
  const sql = [
    "select 'a;b', 'it''s;', E'x\\';y', \"we;ird\" from t; -- c;d",
    "/* block; /* nested; */ still; */ select 2;",
    "create function f() returns int language plpgsql as $body$ begin return 1; end $body$;",
    "do $$ begin perform 1; end $$;",
  ].join("\n");
  const got = texts(sql);
  assert.equal(got.length, 4);
  assert.match(got[0] as string, /^select 'a;b', 'it''s;', E'x\\';y', "we;ird" from t$/);
  assert.match(got[1] as string, /select 2$/);
  assert.match(got[2] as string, /\$body\$ begin return 1; end \$body\$$/);
  assert.equal(got[3], "do $$ begin perform 1; end $$");
});

test("keeps a SQL-standard function body (BEGIN ATOMIC ... END) whole, CASE inside included", () => {
  const sql = `create function g(x int) returns int language sql begin atomic
    select case when x > 0 then 1 else 0 end; select 2;
  end;
  select 3;`;
  const got = texts(sql);
  assert.equal(got.length, 2);
  assert.match(got[0] as string, /select 2;\s+end$/);
  assert.equal(got[1], "select 3");
});

test("positional parameters and dollar signs in identifiers are not dollar quotes", () => {
  assert.deepEqual(texts("select $1::int; select a$b from t;"), ["select $1::int", "select a$b from t"]);
});

test("offsets point at each statement's first character; lineColumn is 1-based", () => {
  const sql = "select 1;\n  select 2;";
  const [, second] = splitStatements(sql);
  assert.equal(second?.offset, 12);
  assert.deepEqual(lineColumn(sql, 12), { line: 2, column: 3 });
  assert.deepEqual(lineColumn(sql, 0), { line: 1, column: 1 });
});
