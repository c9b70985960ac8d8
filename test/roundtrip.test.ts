import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import type pg from "pg";
import { applyBootstrap } from "../src/db/bootstrap.ts";
import { readMigrations } from "../src/migrations/migration-files.ts";
import { migrateDown, migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { ensureTracking, TRACKING_SCHEMA } from "../src/migrations/tracking.ts";
import { APP_SCHEMAS, catalogSnapshot } from "./support/catalog.ts";
import { client, createDatabase, ROOT } from "./support/harness.ts";

const migrationsDir = path.join(ROOT, "database/migrations");
const rollbacksDir = path.join(ROOT, "database/rollbacks");
const migrations = await readMigrations(migrationsDir, rollbacksDir, ROOT);
// Every schema a migration or the runner touches: `private` holds the RLS helpers, the tracking
// schema must come back as it was (only its rows change).
const SCHEMAS = [...APP_SCHEMAS, "private", TRACKING_SCHEMA];
const snapshot = (c: pg.Client) => catalogSnapshot(c, SCHEMAS);

test("every migration has a rollback script", () => {
  for (const m of migrations) assert.ok(m.rollback, `${m.file} has no rollback`);
});

test("for every migration, up then down restores the catalog, and up again gives the first up's", async () => {
  const db = await createDatabase("empty");
  const c = await client(db.url);
  const opts = projectMigratorOptions(db.url);
  assert.ok(migrations.length > 0, "there are migrations to check");
  // The bootstrap and the tracking schema come with the first write: create them first so that
  // "before" includes them.
  await applyBootstrap(c);
  await ensureTracking(c);
  for (const m of migrations) {
    const before = await snapshot(c);
    const up = await migrateUp(opts, { to: m.name });
    assert.equal(up.error, undefined, up.error?.message);
    const first = await snapshot(c);
    assert.notDeepEqual(first, before, `${m.file} changes the catalog`);
    const down = await migrateDown(opts);
    assert.equal(down.error, undefined, down.error?.message);
    assert.deepEqual(await snapshot(c), before, `${m.name}.down.sql restores the catalog`);
    assert.equal((await migrateUp(opts, { to: m.name })).error, undefined);
    assert.deepEqual(await snapshot(c), first, `${m.file} applied again gives the same catalog`);
  }
});
