import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { readMigrations } from "../src/migrations/migration-files.ts";
import { lineColumn, splitStatements } from "../src/migrations/sql-splitter.ts";
import { policyRuleViolations } from "../src/migrations/statement-kinds.ts";
import { ROOT } from "./support/harness.ts";

const run = promisify(execFile);
const migrationsDir = path.join(ROOT, "database/migrations");
const migrations = await readMigrations(migrationsDir, path.join(ROOT, "database/rollbacks"), ROOT);
const exceptions = JSON.parse(
  await readFile(path.join(ROOT, "database/migration-lint-exceptions.json"), "utf8"),
) as {
  squawk: Array<{ file: string; rule: string; lines: number[]; reason: string }>;
  policyRule: Array<{ file: string; reason: string }>;
};
/** Only the applied history may have exceptions: a new migration fixes or justifies in its own text. */
const LAST_GRANDFATHERED = 7;

test("exceptions name only applied migrations 001-007, each with a reason", () => {
  for (const e of [...exceptions.squawk, ...exceptions.policyRule]) {
    const m = migrations.find((x) => path.basename(x.file) === e.file);
    assert.ok(m, `${e.file} is a migration`);
    assert.ok(m.number <= LAST_GRANDFATHERED, `${e.file}: only 001-007 may be excused here`);
    assert.ok(e.reason.length > 40, `${e.file}: the reason says why`);
  }
});

async function violations(sql: string, noTransaction = false): Promise<string[]> {
  return policyRuleViolations(await splitStatements(sql), noTransaction).map((v) => v.statement.kind);
}

test("the policy rule: no data statement shares a transaction with policy changes, which come last", async () => {
  const policy = "create policy p on t using (true);";
  assert.deepEqual(await violations(`update t set x = 1;\n${policy}`), ["UpdateStmt"]);
  assert.deepEqual(await violations(`${policy}\ninsert into t select 1;`), ["InsertStmt"]);
  assert.deepEqual(await violations(`drop policy p on t;\ndo $$ begin perform 1; end $$;`), ["DoStmt"]);
  assert.deepEqual(await violations(`alter policy p on t using (false);\ncreate index i on t (x);`), [
    "IndexStmt",
  ]);
  // Short catalog statements may follow; data alone, or one statement per transaction, is fine.
  assert.deepEqual(
    await violations(
      `create table t (x int);\n${policy}\ngrant select on t to authenticated;\ncomment on policy p on t is 'x';\nalter table t force row level security;`,
    ),
    [],
  );
  assert.deepEqual(await violations("update t set x = 1;\ndelete from t;"), []);
  assert.deepEqual(await violations(`-- vpb:no-transaction\n${policy}\nupdate t set x = 1;`, true), []);
});

test("every migration keeps the policy rule, or is a named exception of the applied history", async () => {
  const excused = new Set(exceptions.policyRule.map((e) => e.file));
  const found: string[] = [];
  for (const m of migrations) {
    const bad = policyRuleViolations(await splitStatements(m.sql), m.noTransaction);
    const file = path.basename(m.file);
    if (excused.has(file)) {
      assert.ok(bad.length > 0, `${file} is excused from the policy rule but keeps it: remove the exception`);
      continue;
    }
    for (const v of bad) {
      const { line, column } = lineColumn(m.sql, v.statement.offset);
      found.push(`${m.file}:${line}:${column}: ${v.why}`);
    }
  }
  assert.deepEqual(
    found,
    [],
    "see Migrations in database/README.md: data changes and policy changes go apart",
  );
});

const SQUAWK = path.join(ROOT, "node_modules/.bin/squawk");
const CONFIG = path.join(ROOT, ".squawk.toml");

interface Finding {
  file: string;
  line: number;
  rule_name: string;
  message: string;
}

/** Runs squawk; it exits 1 when it finds something, so its JSON report is read either way. */
async function squawk(files: string[], inTransaction: boolean): Promise<Finding[]> {
  if (files.length === 0) return [];
  const args = [
    "--config",
    CONFIG,
    "--reporter",
    "json",
    ...(inTransaction ? [] : ["--no-assume-in-transaction"]),
  ];
  const result = await run(SQUAWK, [...args, ...files], { cwd: ROOT }).catch(
    (e: { code?: number; stdout?: string; stderr?: string }) => {
      if (e.code !== 1 || !e.stdout) throw new Error(`squawk failed: ${e.stderr ?? e}`);
      return { stdout: e.stdout };
    },
  );
  // squawk counts lines from 0.
  return (JSON.parse(result.stdout) as Finding[]).map((f) => ({ ...f, line: f.line + 1 }));
}

test("squawk is installed and finds what it should (a blocking index build on an existing table)", async () => {
  assert.ok(existsSync(SQUAWK), "squawk-cli's binary is installed by npm ci");
  const dir = await mkdtemp(path.join(os.tmpdir(), "vpb-squawk-"));
  const file = path.join(dir, "001_x.sql");
  await writeFile(file, "create index people_name_idx on people (name);\n");
  const found = await squawk([file], true);
  assert.deepEqual(
    found.map((f) => [f.rule_name, f.line]),
    [["require-concurrent-index-creation", 1]],
  );
  await writeFile(
    file,
    "-- Justified here: people is created empty by the migration before.\n-- squawk-ignore require-concurrent-index-creation\ncreate index people_name_idx on people (name);\n",
  );
  assert.deepEqual(await squawk([file], true), []);
});

test("squawk finds nothing in the migrations that is not fixed or a listed exception", async () => {
  const files = migrations.map((m) => path.join(ROOT, m.file));
  const noTx = new Set(migrations.filter((m) => m.noTransaction).map((m) => path.join(ROOT, m.file)));
  const found = [
    ...(await squawk(
      files.filter((f) => !noTx.has(f)),
      true,
    )),
    ...(await squawk([...noTx], false)),
  ];
  const key = (file: string, rule: string, line: number) => `${path.basename(file)} ${rule} ${line}`;
  const excused = new Set(exceptions.squawk.flatMap((e) => e.lines.map((l) => key(e.file, e.rule, l))));
  const unexcused = found
    .filter((f) => !excused.has(key(f.file, f.rule_name, f.line)))
    .map((f) => `${path.relative(ROOT, path.resolve(ROOT, f.file))}:${f.line}: ${f.rule_name}: ${f.message}`);
  assert.deepEqual(
    unexcused,
    [],
    "fix each finding, or justify it in the migration with -- squawk-ignore <rule>",
  );
  const seen = new Set(found.map((f) => key(f.file, f.rule_name, f.line)));
  assert.deepEqual(
    [...excused].filter((k) => !seen.has(k)),
    [],
    "exceptions that match no finding any more",
  );
});
