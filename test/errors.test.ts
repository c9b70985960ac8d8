import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { ERROR_CODES, fromDatabaseError, isVpbError, RetryableError, VpbError } from "../src/errors.ts";
import { ADMIN_URL, client } from "./support/harness.ts";

const c = await client(ADMIN_URL);

/** The error a real server raises for `sql`. */
async function serverError(sql: string): Promise<unknown> {
  try {
    await c.query(sql);
  } catch (e) {
    return e;
  }
  assert.fail(`expected the server to refuse: ${sql}`);
}

const raise = (state: string, detail = "") =>
  `do $$ begin raise exception 'boom' using errcode = '${state}'${detail ? `, detail = '${detail}'` : ""}; end $$`;

test("one table maps SQLSTATEs to the data API's codes, retryable where the call changed nothing", async () => {
  const cases: Array<[string, string, string, boolean]> = [
    [raise("42501"), "42501", "FORBIDDEN", false],
    [raise("P0002"), "P0002", "NOT_FOUND", false],
    [raise("P0001", "quota_exceeded"), "P0001", "QUOTA_EXCEEDED", false],
    [raise("23503"), "23503", "NOT_FOUND", false],
    [raise("23505"), "23505", "CONFLICT", false],
    [raise("40001"), "40001", "TRANSACTION_CONFLICT", true],
    [raise("40P01"), "40P01", "TRANSACTION_CONFLICT", true],
    ["select 'nope'::uuid", "22P02", "INVALID_INPUT", false],
    [raise("23514"), "23514", "INVALID_INPUT", false],
    // One implicit transaction: the failure rolls the SET back with it.
    ["set statement_timeout = '50ms'; select pg_sleep(1)", "57014", "STATEMENT_TIMEOUT", false],
    ["select * from no_such_table_here", "42P01", "SCHEMA_MISSING", false],
    ["select no_such_function_here()", "42883", "SCHEMA_MISSING", false],
    [raise("57P01"), "57P01", "CONNECTION_LOST", true],
  ];
  for (const [sql, state, code, retryable] of cases) {
    const mapped = fromDatabaseError("projects.create", await serverError(sql));
    assert.ok(isVpbError(mapped), `${state}: expected a VpbError, got ${String(mapped)}`);
    assert.equal(mapped.code, code, state);
    assert.equal(mapped.retryable, retryable, state);
    assert.equal(mapped instanceof RetryableError, retryable, state);
    assert.equal(mapped.pg?.code, state);
    assert.ok(mapped.remedy.length > 0, `${code} has a remedy`);
    assert.ok(mapped.message.startsWith("projects.create: "), mapped.message);
    assert.ok(code in ERROR_CODES);
  }
});

test("a plain P0001 and states outside the table reach the caller unchanged", async () => {
  for (const sql of [raise("P0001"), "select no_such_column from pg_class"]) {
    const e = await serverError(sql);
    assert.equal(fromDatabaseError("op", e), e);
    assert.ok(e instanceof pg.DatabaseError);
  }
  const own = new VpbError("CONFLICT", "already mapped", "remedy");
  assert.equal(fromDatabaseError("op", own), own, "a VpbError is not wrapped twice");
});

test("a mapped error quotes neither the value nor the server's detail, only the rule", async () => {
  await c.query("create temp table t (email text constraint t_email_key unique)");
  await c.query("insert into t values ('secret-value@example.com')");
  const e = await serverError("insert into t values ('secret-value@example.com')");
  assert.match(String((e as pg.DatabaseError).detail), /secret-value/, "the server's detail quotes it");
  const mapped = fromDatabaseError("users.create", e);
  assert.ok(isVpbError(mapped, "CONFLICT"));
  assert.equal(mapped.message, "users.create: conflicts with existing data (constraint t_email_key)");
  assert.equal(mapped.pg?.constraint, "t_email_key");
  assert.equal(mapped.pg?.detail, undefined);
  const { code, message, remedy, pg: fields } = mapped;
  assert.ok(!JSON.stringify({ code, message, remedy, fields }).includes("secret-value"));
});
