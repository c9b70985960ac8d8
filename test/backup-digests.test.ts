import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import type pg from "pg";
import { isVpbError } from "../src/errors.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { backupPaths } from "../src/ops/backup-layout.ts";
import { takeBaseBackup } from "../src/ops/base-backup.ts";
import { readVerification, verifyBackup } from "../src/ops/verify.ts";
import { connected, type Source, startSource } from "./support/backup-source.ts";
import { binDirFor } from "./support/debian-server.ts";
import { MAJOR } from "./support/harness.ts";
import { user } from "./support/rows.ts";

test("backup verify compares every table's digest at the backup's consistent point: equal with writers running through the backup, a difference named", async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), "vpb-backup-digests-"));
  await chmod(root, 0o755);
  const backupDir = path.join(root, "backups");
  const binDir = await binDirFor(MAJOR);
  let source: Source | undefined;
  const clients: pg.Client[] = [];
  let stopWriters = async () => {};
  try {
    source = await startSource(root, backupDir);
    const { url } = source;
    const urlFor = (port: number) => {
      const u = new URL(url);
      u.port = String(port);
      return u.toString();
    };
    const migrated = await migrateUp(projectMigratorOptions(url));
    if (migrated.error) throw migrated.error;
    const db = await connected(url);
    clients.push(db);
    await db.query("create table t (id int primary key, n int not null)");
    await db.query("alter table t enable row level security, force row level security");
    await db.query("insert into t select g, 0 from generate_series(1, 1000) g");

    // Writers through the whole backup: transactions that span several statements and a pause, on
    // two tables, so that some are in flight whenever the backup marks its consistent point.
    let writing = true;
    let commits = 0;
    const writer = async (w: number) => {
      const c = await connected(url);
      clients.push(c);
      for (let i = 0; writing; i++) {
        await c.query("begin");
        await c.query("update t set n = n + 1 where id = $1", [1 + ((i * 7 + w) % 1000)]);
        await c.query("insert into t values ($1, $2)", [100_000 * (w + 1) + i, i]);
        await new Promise((resolve) => setTimeout(resolve, 3));
        await user(c);
        await c.query("commit");
        commits++;
      }
    };
    const writers = [0, 1, 2].map(writer);
    stopWriters = async () => {
      writing = false;
      await Promise.allSettled(writers);
    };
    while (commits < 20) await new Promise((resolve) => setTimeout(resolve, 10));
    const before = commits;
    const manifest = await takeBaseBackup({ client: db, pgData: source.pgData, backupDir });
    const during = commits - before;
    while (commits < before + during + 20) await new Promise((resolve) => setTimeout(resolve, 10));
    writing = false;
    await Promise.all(writers);
    assert.ok(during > 0, "writers committed while the backup ran");

    const point = manifest.consistentPoint;
    assert.ok(point, "the manifest records a consistent point");
    assert.equal(point.name, `vpb-${manifest.id}`);
    assert.ok((point.tables["public.t"]?.rows ?? 0) > 1000);
    const { rows: now } = await db.query<{ n: number }>("select count(*)::int as n from t");
    assert.ok((now[0]?.n ?? 0) > (point.tables["public.t"]?.rows ?? 0), "rows written after the point");

    const result = await verifyBackup({ backupDir, binDir, major: MAJOR, urlFor });
    assert.equal(result.ok, true, result.problems.join("; "));
    assert.ok(result.digestsCompared.includes("postgres:public.t"), result.digestsCompared.join(", "));
    assert.ok(result.digestsCompared.includes("postgres:public.users"));
    assert.ok(result.digestsCompared.includes("postgres:storage.objects"));
    // Recovered to the point, not beyond: the counts are the snapshot's, not today's.
    assert.equal(result.tables["postgres:public.t"], point.tables["public.t"]?.rows);
    assert.equal(result.tables["postgres:public.users"], point.tables["public.users"]?.rows);

    // The manifest altered: one table's digest, another's count, and a table the copy lacks.
    const file = path.join(backupPaths(backupDir).base, manifest.id, "manifest.json");
    const altered = JSON.parse(await readFile(file, "utf8")) as typeof manifest;
    const tables = altered.consistentPoint?.tables ?? {};
    const t = tables["public.t"] as { rows: number; digest: string };
    t.digest = `${t.digest[0] === "0" ? "1" : "0"}${t.digest.slice(1)}`;
    const users = tables["public.users"] as { rows: number; digest: string };
    users.rows += 1;
    tables["public.gone"] = { rows: 0, digest: "" };
    await writeFile(file, JSON.stringify(altered));
    await assert.rejects(verifyBackup({ backupDir, binDir, major: MAJOR, urlFor }), (e) => {
      assert.ok(isVpbError(e, "VERIFY_FAILED"));
      assert.match(e.message, /table public\.t in database postgres: its rows' digest differs/);
      assert.match(
        e.message,
        new RegExp(
          `table public\\.users in database postgres has ${users.rows - 1} rows where the backup recorded ${users.rows}`,
        ),
      );
      assert.match(e.message, /table public\.gone in database postgres is missing from the restored copy/);
      return true;
    });
    assert.equal((await readVerification(backupDir, manifest.id))?.ok, false);
  } finally {
    await stopWriters();
    for (const c of clients) await c.end().catch(() => {});
    await source?.stop();
    await rm(root, { recursive: true, force: true });
  }
});
