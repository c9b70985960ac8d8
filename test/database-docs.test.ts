import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { BEGIN, END, renderDatabaseDocs } from "../scripts/database-docs.ts";
import { client, createDatabase, MAJOR, ROOT } from "./support/harness.ts";

// pg_get_functiondef may format differently across majors: the committed docs are PostgreSQL 17's.
const once = { skip: MAJOR !== 17 ? "the docs are generated on PostgreSQL 17" : false };

test(
  "database/README.md and database/functions/ match the migrated schema (npm run docs:db)",
  once,
  async () => {
    const c = await client((await createDatabase()).url);
    const docs = await renderDatabaseDocs(c);
    const readme = await readFile(path.join(ROOT, "database/README.md"), "utf8");
    const committed = readme.slice(readme.indexOf(BEGIN), readme.indexOf(END) + END.length);
    assert.ok(
      committed === docs.readmeSection,
      "database/README.md schema reference is stale: run `npm run docs:db`",
    );
    const dir = path.join(ROOT, "database/functions");
    const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
    assert.deepEqual(files, [...docs.functionFiles.keys()].sort());
    for (const [file, body] of docs.functionFiles) {
      assert.ok(
        (await readFile(path.join(dir, file), "utf8")) === body,
        `database/functions/${file} is stale: run \`npm run docs:db\``,
      );
    }
  },
);

test(
  "every table and function is described in database/README.md's prose, not only in the reference",
  once,
  async () => {
    const c = await client((await createDatabase()).url);
    const readme = await readFile(path.join(ROOT, "database/README.md"), "utf8");
    const prose = readme.slice(0, readme.indexOf(BEGIN));
    const { rows } = await c.query(`
    select relname as name from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') and not relispartition
    union select distinct proname from pg_proc where pronamespace = 'public'::regnamespace and prokind = 'f'`);
    // Named in backticks, alone or with its arguments: `users`, `duplicate_project(source_id, ...)`.
    const missing = rows
      .map((r) => r.name as string)
      .filter((name) => !new RegExp(`\`${name}[\`(]`).test(prose));
    assert.deepEqual(missing, []);
  },
);
