import assert from "node:assert/strict";
import { chmod, mkdtemp, open, rm, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import pg from "pg";
import { type EmbeddedServer, startEmbedded } from "../src/db/embedded-server.ts";
import { isVpbError } from "../src/errors.ts";
import { backupPaths } from "../src/ops/backup-layout.ts";
import { takeBaseBackup } from "../src/ops/base-backup.ts";
import { restoreBackup } from "../src/ops/restore.ts";
import { verifyBackup } from "../src/ops/verify.ts";
import { runCli } from "./support/cli.ts";
import { binDirFor } from "./support/debian-server.ts";
import { ADMIN_URL, MAJOR } from "./support/harness.ts";

// The embedded server is PostgreSQL 17: its binaries restore only 17 backups.
const only17 = MAJOR === 17 ? {} : { skip: "backups of the embedded server are tested in the 17 pass" };

test("backup refuses a server that does not archive WAL", async () => {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ mode: string }>("select current_setting('archive_mode') as mode");
    assert.equal(rows[0]?.mode, "off", "the suite's server runs without archiving");
    await assert.rejects(takeBaseBackup({ client, pgData: "/nonexistent", backupDir: "/nonexistent" }), (e) =>
      isVpbError(e, "BACKUP_ARCHIVING_OFF"),
    );
  } finally {
    await client.end();
  }
});

async function waitArchived(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ wal: string }>("select pg_walfile_name(pg_switch_wal()) as wal");
  const wal = rows[0]?.wal ?? "";
  for (let waited = 0; waited < 30_000; waited += 100) {
    const { rows: a } = await client.query<{ last: string | null }>(
      "select last_archived_wal as last from pg_stat_archiver",
    );
    if ((a[0]?.last ?? "") >= wal) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`segment ${wal} was not archived within 30 s`);
}

test(
  "base backup + archived WAL: restore to a time, verify, and damage caught by checksum",
  only17,
  async (t) => {
    const root = await mkdtemp(path.join(os.tmpdir(), "vpb-backup-"));
    await chmod(root, 0o755); // the server's OS user (postgres, when run as root) enters it
    const dataDir = path.join(root, "vpb");
    const backupDir = path.join(dataDir, "backups");
    const binDir = await binDirFor(17);
    let server: EmbeddedServer | undefined;
    let closeDb = async () => {};
    try {
      server = await startEmbedded({
        dataDir,
        port: 26000 + Math.floor(Math.random() * 3000),
        archiveDir: backupPaths(backupDir).wal,
        settings: { fsync: "off", synchronous_commit: "off" },
      });
      const urlFor = (port: number) => {
        const u = new URL(server?.url ?? "");
        u.port = String(port);
        return u.toString();
      };
      const db = new pg.Client({ connectionString: server.url });
      await db.connect();
      closeDb = () => db.end();
      await db.query("create table t (id int primary key, note text not null)");
      await db.query("insert into t select g, 'before the backup' from generate_series(1, 100) g");

      const manifest = await takeBaseBackup({ client: db, pgData: server.pgDataDir, backupDir });
      assert.ok(manifest.files.length > 100);
      assert.ok(manifest.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256)));
      assert.ok(!manifest.files.some((f) => f.path.startsWith("pg_wal/") || f.path === "postmaster.pid"));

      await db.query("insert into t select g, 'after the backup' from generate_series(101, 200) g");
      const { rows } = await db.query<{ at: Date }>("select clock_timestamp() as at");
      const noted = rows[0]?.at as Date;
      await new Promise((resolve) => setTimeout(resolve, 50));
      await db.query("insert into t select g, 'after the noted time' from generate_series(201, 300) g");
      await db.query("delete from t where id <= 10");
      await waitArchived(db);

      await t.test("restore --to the noted time has exactly the rows committed before it", async () => {
        const restored = await restoreBackup({
          backupDir,
          pgData: path.join(root, "restored", "pg17"),
          logFile: path.join(root, "restored", "postgres.log"),
          binDir,
          major: 17,
          target: { time: noted },
          urlFor,
        });
        try {
          const c = new pg.Client({ connectionString: restored.url });
          await c.connect();
          const { rows: r } = await c.query<{ n: number; lo: number; hi: number }>(
            "select count(*)::int as n, min(id) as lo, max(id) as hi from t",
          );
          await c.end();
          assert.deepEqual(r[0], { n: 200, lo: 1, hi: 200 });
          assert.equal(restored.backup.id, manifest.id);
        } finally {
          restored.stop();
        }
      });

      await t.test("restore never writes into a folder that holds data", async () => {
        await assert.rejects(
          restoreBackup({
            backupDir,
            pgData: path.join(root, "restored", "pg17"),
            logFile: path.join(root, "x.log"),
            binDir,
            major: 17,
            target: { latest: true },
            urlFor,
          }),
          (e) => isVpbError(e, "RESTORE_TARGET_EXISTS"),
        );
      });

      await t.test("backup verify restores the backup, checks every index, counts rows", async () => {
        const result = await verifyBackup({ backupDir, binDir, major: 17, urlFor });
        assert.equal(result.backupId, manifest.id);
        assert.equal(result.tables["postgres:public.t"], 100);
        assert.ok(result.indexesChecked > 0);
      });

      await t.test("a flipped byte in a backed-up file fails verify, naming the file", async () => {
        const { rows: f } = await db.query<{ file: string }>("select pg_relation_filepath('t') as file");
        const file = f[0]?.file ?? "";
        const handle = await open(path.join(backupPaths(backupDir).base, manifest.id, file), "r+");
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, 100);
        byte[0] = (byte[0] ?? 0) ^ 0xff;
        await handle.write(byte, 0, 1, 100);
        await handle.close();
        await assert.rejects(verifyBackup({ backupDir, binDir, major: 17, urlFor }), (e) => {
          assert.ok(isVpbError(e, "BACKUP_CORRUPT"));
          assert.match(e.message, new RegExp(file.replace(/\//g, "\\/")));
          return true;
        });
      });

      await t.test("a missing WAL segment fails verify, naming the segment", async () => {
        await unlink(path.join(backupPaths(backupDir).wal, manifest.startWal));
        await assert.rejects(verifyBackup({ backupDir, binDir, major: 17, urlFor }), (e) => {
          assert.ok(isVpbError(e, "WAL_MISSING"));
          assert.match(e.message, new RegExp(manifest.startWal));
          return true;
        });
      });
    } finally {
      await closeDb();
      await server?.stop();
      await rm(root, { recursive: true, force: true });
    }
  },
);

test(
  "the CLI: backup on the embedded server it starts (archiving on), then restore --latest into a new folder",
  only17,
  async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "vpb-backup-cli-"));
    await chmod(root, 0o755);
    const env = {
      DATABASE_URL: "",
      VPB_DATA_DIR: path.join(root, "vpb"),
      VPB_BACKUP_DIR: path.join(root, "elsewhere"),
      VPB_PG_PORT: String(26000 + Math.floor(Math.random() * 3000)),
    };
    try {
      const bad = await runCli(
        ["restore", "--to", "2026-11-25 10:42:00", "--into", path.join(root, "x")],
        env,
      );
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /INVALID_ARGUMENT/);

      const backup = await runCli(["backup", "--json"], env);
      assert.equal(backup.code, 0, backup.stderr);
      const summary = JSON.parse(backup.stdout) as { id: string; files: number; folder: string };
      assert.equal(summary.folder, env.VPB_BACKUP_DIR);
      assert.ok(summary.files > 100);

      const into = path.join(root, "restored");
      const restore = await runCli(["restore", "--latest", "--into", into], env);
      assert.equal(restore.code, 0, restore.stderr);
      assert.match(restore.stdout, new RegExp(`restored base backup ${summary.id}`));
      const again = await runCli(["restore", "--latest", "--into", into], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /RESTORE_TARGET_EXISTS/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  },
);
