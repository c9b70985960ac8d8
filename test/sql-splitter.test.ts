import assert from "node:assert/strict";
import { test } from "node:test";
import {
  lineColumn,
  positionInScript,
  SqlSyntaxError,
  splitStatements,
} from "../src/migrations/sql-splitter.ts";

const texts = async (sql: string) => (await splitStatements(sql)).map((s) => s.text);

test("splits on top-level semicolons and drops empty and comment-only pieces", async () => {
  assert.deepEqual(await texts("select 1;\n\n  select 2 ;;\n-- trailing comment\n"), [
    "select 1",
    "select 2",
  ]);
  assert.deepEqual(await texts("  \n-- only a comment\n"), []);
});

test("keeps semicolons inside quotes, identifiers, comments and dollar quotes", async () => {
  const sql = [
    "select 'a;b', 'it''s;', E'x\\';y', \"we;ird\" from t; -- c;d",
    "/* block; /* nested; */ still; */ select 2;",
    "create function f() returns int language plpgsql as $body$ begin return 1; end $body$;",
    "do $$ begin perform 1; end $$;",
  ].join("\n");
  const got = await texts(sql);
  assert.equal(got.length, 4);
  assert.match(got[0] as string, /^select 'a;b', 'it''s;', E'x\\';y', "we;ird" from t$/);
  assert.equal(got[1], "select 2");
  assert.match(got[2] as string, /\$body\$ begin return 1; end \$body\$$/);
  assert.equal(got[3], "do $$ begin perform 1; end $$");
});

test("keeps a SQL-standard function body (BEGIN ATOMIC ... END) whole, CASE inside included", async () => {
  const sql = `create function g(x int) returns int language sql begin atomic
    select case when x > 0 then 1 else 0 end; select 2;
  end;
  select 3;`;
  const got = await texts(sql);
  assert.equal(got.length, 2);
  assert.match(got[0] as string, /select 2;\s+end$/);
  assert.equal(got[1], "select 3");
});

test("positional parameters and dollar signs in identifiers are not dollar quotes", async () => {
  assert.deepEqual(await texts("select $1::int; select a$b from t;"), [
    "select $1::int",
    "select a$b from t",
  ]);
});

test("offsets point at each statement's first character; lineColumn is 1-based", async () => {
  const sql = "select 1;\n  select 2;";
  const [, second] = await splitStatements(sql);
  assert.equal(second?.offset, 12);
  assert.deepEqual(lineColumn(sql, 12), { line: 2, column: 3 });
  assert.deepEqual(lineColumn(sql, 0), { line: 1, column: 1 });
});

test("each statement carries its parse-tree kind, whatever comment comes before it", async () => {
  const got = await splitStatements("-- note\ncommit;\n/* x */ abort;\nend;\ncreate table t (x int);");
  assert.deepEqual(
    got.map((s) => [s.kind, s.text]),
    [
      ["TransactionStmt", "commit"],
      ["TransactionStmt", "abort"],
      ["TransactionStmt", "end"],
      ["CreateStmt", "create table t (x int)"],
    ],
  );
});

test("offsets and texts stay right after multi-byte text (the parser counts bytes)", async () => {
  const sql = "select 'é😀' /* ü */;\nselect 'ß', 2;";
  const [first, second] = await splitStatements(sql);
  assert.equal(first?.text, "select 'é😀' /* ü */");
  assert.equal(second?.text, "select 'ß', 2");
  assert.equal(second?.offset, sql.indexOf("select 'ß'"));
  // Postgres positions count characters: the 13th character of the first statement opens the
  // comment, though the emoji before it takes two string units.
  assert.ok(first && second);
  assert.equal(sql.slice(positionInScript(first, 13)), "/* ü */;\nselect 'ß', 2;");
  assert.equal(sql[positionInScript(second, 13)], "2");
});

test("a syntax error gives the offset where the parser stopped, in string units", async () => {
  const sql = "select '😀é';\nselect from x where ;";
  const e = await splitStatements(sql).catch((err: unknown) => err);
  assert.ok(e instanceof SqlSyntaxError);
  assert.equal(e.code, "42601");
  assert.equal(e.offset, sql.lastIndexOf(";"));
});
