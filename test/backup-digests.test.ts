import assert from "node:assert/strict";
import { chmod, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import type pg from "pg";
import { isVpbError } from "../src/errors.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { backupPaths, type Manifest } from "../src/ops/backup-layout.ts";
import { takeBaseBackup } from "../src/ops/base-backup.ts";
import { markConsistentPoint } from "../src/ops/consistent-point.ts";
import { checksumFile } from "../src/ops/file-copy.ts";
import { readVerification, verifyBackup } from "../src/ops/verify.ts";
import { connected, type Source, startSource } from "./support/backup-source.ts";
import { binDirFor } from "./support/debian-server.ts";
import { MAJOR } from "./support/harness.ts";
import { user } from "./support/rows.ts";

const count = async (c: pg.Client, table: string) =>
  (await c.query<{ n: number }>(`select count(*)::int as n from ${table}`)).rows[0]?.n ?? 0;

test("backup verify recovers the backup to a point it marks on the live database and compares every table there: equal with writers running through backup and verify; damage the file checksums cannot see, and an older manifest's digests, named", async () => {
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
    await db.query("insert into t select g, 0 from generate_series(1, 1000) g");
    // Written once, frozen, never touched again: no WAL after the backup's start rewrites its pages.
    await db.query("create table cold (id int primary key, n int not null)");
    await db.query("insert into cold select g, g from generate_series(1, 100) g");
    await db.query("vacuum (freeze) cold");
    for (const table of ["t", "cold"])
      await db.query(`alter table ${table} enable row level security, force row level security`);

    // Writers through the backup and the verification: transactions that span several statements
    // and a pause, on two tables, so that some are in flight whenever verify marks its point.
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
    const waitForCommits = async (n: number) => {
      const until = commits + n;
      while (commits < until) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await waitForCommits(20);
    const before = commits;
    const manifest = await takeBaseBackup({ client: db, pgData: source.pgData, backupDir });
    assert.ok(commits > before, "writers committed while the backup ran");
    assert.equal(manifest.consistentPoint, undefined, "the backup computes no digests");
    const atBackupEnd = await count(db, "t");
    await waitForCommits(20);
    const beforeVerify = await count(db, "t");
    assert.ok(beforeVerify > atBackupEnd);

    const result = await verifyBackup({ backupDir, binDir, major: MAJOR, urlFor, live: db });
    assert.equal(result.ok, true, result.problems.join("; "));
    assert.equal(result.comparedWith, "live");
    assert.match(result.restorePoint ?? "", new RegExp(`^vpb-verify-${manifest.id}-`));
    for (const table of ["public.t", "public.cold", "public.users", "storage.objects"])
      assert.ok(result.digestsCompared.includes(`postgres:${table}`), result.digestsCompared.join(", "));
    // Recovered through the WAL archived since the backup, to verify's point: rows committed after
    // the backup's end are in the copy.
    assert.ok(
      (result.tables["postgres:public.t"] ?? 0) >= beforeVerify,
      `${result.tables["postgres:public.t"]} rows in the copy, ${beforeVerify} committed before verify`,
    );
    assert.equal(result.tables["postgres:public.cold"], 100);

    // Damage the per-file checksums cannot see (a page that was bad when the backup read it): a byte
    // of cold's first row changed in the copy, and its file's checksum in the manifest updated to it.
    const { rows: f } = await db.query<{ file: string }>("select pg_relation_filepath('cold') as file");
    const file = f[0]?.file ?? "";
    const copied = path.join(backupPaths(backupDir).base, manifest.id, file);
    const handle = await open(copied, "r+");
    const byte = Buffer.alloc(1);
    // Heap tuples fill page 0 from its end: its last 4 bytes are the first row's n.
    await handle.read(byte, 0, 1, 8188);
    byte[0] = (byte[0] ?? 0) ^ 0x40;
    await handle.write(byte, 0, 1, 8188);
    await handle.close();
    const manifestFile = path.join(backupPaths(backupDir).base, manifest.id, "manifest.json");
    const damaged = JSON.parse(await readFile(manifestFile, "utf8")) as Manifest;
    const entry = damaged.files.find((x) => x.path === file);
    assert.ok(entry, file);
    Object.assign(entry, await checksumFile(copied, damaged.checksum ?? "sha256"));
    await writeFile(manifestFile, JSON.stringify(damaged));
    await assert.rejects(verifyBackup({ backupDir, binDir, major: MAJOR, urlFor, live: db }), (e) => {
      assert.ok(isVpbError(e, "VERIFY_FAILED"), String(e));
      assert.match(
        e.message,
        /table public\.cold in database postgres: its rows' digest differs from the one the live database had/,
      );
      assert.doesNotMatch(e.message, /table public\.t /);
      return true;
    });
    assert.equal((await readVerification(backupDir, manifest.id))?.ok, false, "the failure is recorded");

    // A backup of an older vpb-db: sha256 per file and no algorithm named in its manifest, which
    // records digests at a point marked after its end; verify without a live connection compares those.
    const older = await takeBaseBackup({ client: db, pgData: source.pgData, backupDir, checksum: "sha256" });
    assert.ok(older.files.every((x) => /^[0-9a-f]{64}$/.test(x.sha256 ?? "") && x.crc32 === undefined));
    const marked = await markConsistentPoint(db, `vpb-${older.id}`);
    const point = { ...marked.point, tables: await marked.digests };
    const olderFile = path.join(backupPaths(backupDir).base, older.id, "manifest.json");
    const { checksum: _, ...asOlder } = older;
    await writeFile(olderFile, JSON.stringify({ ...asOlder, consistentPoint: point }));
    await waitForCommits(20);
    writing = false;
    await Promise.all(writers);
    const { rows: now } = await db.query<{ n: number }>("select count(*)::int as n from t");
    assert.ok((now[0]?.n ?? 0) > (point.tables["public.t"]?.rows ?? 0), "rows written after the point");

    const offline = await verifyBackup({ backupDir, binDir, major: MAJOR, urlFor, backupId: older.id });
    assert.equal(offline.ok, true, offline.problems.join("; "));
    assert.equal(offline.comparedWith, "manifest");
    assert.ok(offline.digestsCompared.includes("postgres:public.t"), offline.digestsCompared.join(", "));
    // Recovered to that point, not beyond: the counts are its snapshot's, not today's.
    assert.equal(offline.tables["postgres:public.t"], point.tables["public.t"]?.rows);
    assert.equal(offline.tables["postgres:public.users"], point.tables["public.users"]?.rows);

    // That manifest altered: one table's digest, another's count, and a table the copy lacks.
    const altered = JSON.parse(await readFile(olderFile, "utf8")) as Manifest;
    const tables = altered.consistentPoint?.tables ?? {};
    const t = tables["public.t"] as { rows: number; digest: string };
    t.digest = `${t.digest[0] === "0" ? "1" : "0"}${t.digest.slice(1)}`;
    const users = tables["public.users"] as { rows: number; digest: string };
    users.rows += 1;
    tables["public.gone"] = { rows: 0, digest: "" };
    await writeFile(olderFile, JSON.stringify(altered));
    await assert.rejects(
      verifyBackup({ backupDir, binDir, major: MAJOR, urlFor, backupId: older.id }),
      (e) => {
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
      },
    );
    assert.equal((await readVerification(backupDir, older.id))?.ok, false);
  } finally {
    await stopWriters();
    for (const c of clients) await c.end().catch(() => {});
    await source?.stop();
    await rm(root, { recursive: true, force: true });
  }
});
