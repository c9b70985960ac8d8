import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  unlink,
  writeFile,
} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import pg from "pg";
import { parseConfig } from "../src/config.ts";
import { openTarget } from "../src/db/target.ts";
import { isVpbError } from "../src/errors.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { backupPaths, listBackups } from "../src/ops/backup-layout.ts";
import { takeBaseBackup } from "../src/ops/base-backup.ts";
import type { OpsProgress } from "../src/ops/progress.ts";
import { RESTORE_MARKER, restoreBackup } from "../src/ops/restore.ts";
import { pruneBackups } from "../src/ops/retention.ts";
import { readVerification, verifyBackup } from "../src/ops/verify.ts";
import { archiveCurrentWal, checkArchive } from "../src/ops/wal-archive.ts";
import { DiskDriver } from "../src/storage/drivers/disk.ts";
import { connected, FAST, type Source, startSource } from "./support/backup-source.ts";
import { runCli } from "./support/cli.ts";
import { binDirFor } from "./support/debian-server.ts";
import { ADMIN_URL, MAJOR, ROOT } from "./support/harness.ts";
import { project, user } from "./support/rows.ts";

// The CLI restores with the embedded binaries (PostgreSQL 17); the core is tested on both majors.
const only17 =
  MAJOR === 17 ? {} : { skip: "the CLI's embedded server is PostgreSQL 17: tested in the 17 pass" };

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

/** Runs test/support/ops-child.ts until it says HALF, then kills it with -9. */
async function killChildHalfway(input: Record<string, unknown>): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test/support/ops-child.ts")], {
    cwd: ROOT,
    env: { ...process.env, VPB_OPS_CHILD: JSON.stringify(input) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (c: Buffer) => {
    err += c;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (c: Buffer) => {
      out += c;
      if (out.includes("HALF")) {
        child.kill("SIGKILL");
        resolve();
      }
    });
    child.on("close", () => reject(new Error(`the child ended before halfway: ${out} ${err}`)));
  });
  await new Promise((resolve) => child.once("close", resolve));
}

test("physical backups: restore to a time, kill -9 mid-backup and mid-restore, verify with RLS and storage, damage named, retention", async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), "vpb-backup-"));
  await chmod(root, 0o755); // the server's OS user (postgres, when run as root) enters it
  const backupDir = path.join(root, "backups");
  const binDir = await binDirFor(MAJOR);
  const storage = new DiskDriver(path.join(root, "storage"));
  let source: Source | undefined;
  let db: pg.Client | undefined;
  try {
    source = await startSource(root, backupDir);
    const { url } = source;
    const urlFor = (port: number) => {
      const u = new URL(url);
      u.port = String(port);
      return u.toString();
    };
    // Compared with the live database at a point verify marks (db: reconnected after the restarts).
    const verify = () =>
      verifyBackup({ backupDir, binDir, major: MAJOR, urlFor, storage, live: db as pg.Client });
    const restoreInto = (folder: string, extra: Partial<Parameters<typeof restoreBackup>[0]> = {}) =>
      restoreBackup({
        backupDir,
        pgData: path.join(root, folder, "data"),
        logFile: path.join(root, folder, "postgres.log"),
        binDir,
        major: MAJOR,
        target: { immediate: true },
        settings: FAST,
        urlFor,
        ...extra,
      });
    const migrated = await migrateUp(projectMigratorOptions(url));
    if (migrated.error) throw migrated.error;
    db = await connected(url);
    // Two users with projects (the RLS smoke test), and one stored file with its row.
    const a = await user(db);
    const b = await user(db);
    const pa = await project(db, a.id);
    await project(db, b.id);
    const version = randomUUID();
    const bytes = Buffer.from("RIFF-not-really-audio");
    await storage.put(`audio-recordings/${version}`, (await import("node:stream")).Readable.from([bytes]), {
      maxBytes: 1000,
      contentType: "audio/wav",
    });
    await db.query(
      `insert into storage.objects (bucket_id, name, owner, version, metadata)
       values ('audio-recordings', $1, $2, $3, jsonb_build_object('size', $4::int))`,
      [`${a.id}/${pa.id}/1700000000000_take.wav`, a.id, version, bytes.length],
    );
    await db.query("create table t (id int primary key, note text not null)");
    // Every public table has forced RLS (verify checks it).
    await db.query("alter table t enable row level security, force row level security");
    await db.query("insert into t select g, 'before the backup' from generate_series(1, 100) g");

    const events: OpsProgress[] = [];
    const manifest = await takeBaseBackup({
      client: db,
      pgData: source.pgData,
      backupDir,
      onProgress: (e) => events.push(e),
    });
    assert.ok(manifest.files.length > 100);
    assert.equal(manifest.checksum, "crc32", "CRC-32 per file by default");
    assert.ok(manifest.files.every((f) => /^[0-9a-f]{8}$/.test(f.crc32 ?? "") && f.sha256 === undefined));
    assert.ok(!manifest.files.some((f) => f.path.startsWith("pg_wal/") || f.path === "postmaster.pid"));
    // Returned only once the archive holds the stop segment and the backup history file.
    const archived = await readdir(backupPaths(backupDir).wal);
    assert.ok(archived.includes(manifest.stopWal), `${manifest.stopWal} archived`);
    assert.ok(
      archived.some((n) => n.startsWith(manifest.startWal) && n.endsWith(".backup")),
      archived.join(", "),
    );
    const last = events.filter((e) => e.kind === "bytes").at(-1);
    assert.ok(
      last?.kind === "bytes" && last.done === last.total && last.total > 1e6,
      "bytes reported to the end",
    );

    await db.query("insert into t select g, 'after the backup' from generate_series(101, 200) g");
    // A Date holds milliseconds: noted in the same millisecond as that commit, the target would
    // fall before it (the microseconds cut off). A quiet machine did that now and then.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const { rows } = await db.query<{ at: Date }>("select clock_timestamp() as at");
    const noted = rows[0]?.at as Date;
    await new Promise((resolve) => setTimeout(resolve, 50));
    await db.query("insert into t select g, 'after the noted time' from generate_series(201, 300) g");
    await db.query("delete from t where id <= 10");
    assert.ok(await archiveCurrentWal(db), "the open segment is archived");

    await t.test("restore --to the noted time has exactly the rows committed before it", async () => {
      const restored = await restoreInto("at-time", { target: { time: noted } });
      try {
        const c = await connected(restored.url);
        const { rows: r } = await c.query<{ n: number; lo: number; hi: number }>(
          "select count(*)::int as n, min(id) as lo, max(id) as hi from t",
        );
        await c.end();
        assert.deepEqual(r[0], { n: 200, lo: 1, hi: 200 });
        assert.equal(restored.backup.id, manifest.id);
      } finally {
        restored.stop();
      }
      await assert.rejects(restoreInto("at-time"), (e) => isVpbError(e, "RESTORE_TARGET_EXISTS"));
    });

    await t.test(
      "backup verify: restores, amcheck, RLS with two users, storage files; records the result",
      async () => {
        const result = await verify();
        assert.equal(result.backupId, manifest.id);
        assert.equal(result.ok, true);
        // Recovered to verify's own point: the rows written since the backup are in the copy.
        const { rows: live } = await (db as pg.Client).query<{ n: number }>(
          "select count(*)::int as n from t",
        );
        assert.equal(result.tables["postgres:public.t"], live[0]?.n);
        assert.equal(result.tables["postgres:public.t"], 290);
        assert.equal(result.comparedWith, "live");
        assert.ok(result.digestsCompared.includes("postgres:public.t"), result.digestsCompared.join(", "));
        assert.ok(result.indexesChecked > 0);
        assert.deepEqual(new Set(result.rlsUsers.postgres), new Set([a.id, b.id]));
        assert.equal(result.storageObjects, 1);
        const recorded = await readVerification(backupDir, manifest.id);
        assert.equal(recorded?.ok, true);
        assert.ok((recorded?.restoreMs ?? 0) > 0);
      },
    );

    await t.test(
      "kill -9 of the server mid-backup: the backup fails, leaves nothing, the next succeeds",
      async () => {
        const s = source as Source;
        const c = await connected(url);
        let killed = false;
        await assert.rejects(
          takeBaseBackup({
            client: c,
            pgData: s.pgData,
            backupDir,
            onProgress: (e) => {
              if (!killed && e.kind === "bytes" && e.done > 0) {
                killed = true;
                void s.kill();
              }
            },
          }),
        );
        await c.end().catch(() => {});
        assert.ok(killed);
        assert.deepEqual(
          (await readdir(backupPaths(backupDir).base)).filter((n) => n.endsWith(".partial")),
          [],
          "no partial folder left",
        );
        assert.deepEqual(
          (await listBackups(backupDir)).map((m) => m.id),
          [manifest.id],
        );
        await s.restart();
        await db?.end().catch(() => {});
        db = await connected(url);
        const next = await takeBaseBackup({ client: db, pgData: s.pgData, backupDir });
        assert.equal((await listBackups(backupDir)).at(-1)?.id, next.id);
      },
    );

    await t.test("an archive that fails: the backup gives up, names it, and leaves nothing", async () => {
      const c = db as pg.Client;
      const before = (await listBackups(backupDir)).map((m) => m.id);
      const wal = backupPaths(backupDir).wal;
      await rename(wal, `${wal}.away`); // basic_archive fails while its folder is missing
      try {
        await assert.rejects(
          takeBaseBackup({ client: c, pgData: (source as Source).pgData, backupDir, archiveStallMs: 1000 }),
          (e) => isVpbError(e, "BACKUP_ARCHIVE_STALLED") && /not archived/.test((e as Error).message),
        );
      } finally {
        await rename(`${wal}.away`, wal);
        // Wakes the archiver, which waits a minute after three failures.
        await c.query("select pg_reload_conf()");
      }
      assert.deepEqual(
        (await listBackups(backupDir)).map((m) => m.id),
        before,
      );
      assert.deepEqual(
        (await readdir(backupPaths(backupDir).base)).filter((n) => n.endsWith(".partial")),
        [],
      );
      // The backup's own switch left the open segment empty: what there is to archive is archived.
      assert.ok(await archiveCurrentWal(c, 10_000), "archiving resumes once the folder is back");
    });

    await t.test(
      "a backup folder the server does not archive into: refused, whether its wal/ is empty or holds another server's segments",
      async () => {
        const c = db as pg.Client;
        const elsewhere = path.join(root, "elsewhere");
        const refuse = async (why: RegExp) => {
          await assert.rejects(
            takeBaseBackup({ client: c, pgData: (source as Source).pgData, backupDir: elsewhere }),
            (e) => isVpbError(e, "BACKUP_ARCHIVE_ELSEWHERE") && why.test((e as Error).message),
          );
          assert.deepEqual(await listBackups(elsewhere), [], "no backup kept");
          assert.deepEqual(await readdir(backupPaths(elsewhere).base), [], "no partial folder left");
        };
        await refuse(/but not into/);
        // Segments named like this server's next ones, of another system (a copy with its id changed).
        const real = backupPaths(backupDir).wal;
        const sample = (await readdir(real)).find((n) => /^[0-9A-F]{24}$/.test(n)) as string;
        const foreign = await readFile(path.join(real, sample));
        foreign.writeBigUInt64LE(foreign.readBigUInt64LE(24) ^ 1n, 24);
        const { rows } = await c.query<{ wal: string }>(
          "select pg_walfile_name(pg_current_wal_lsn()) as wal",
        );
        const wal = rows[0]?.wal ?? "";
        const current = Number.parseInt(wal.slice(16), 16);
        await mkdir(backupPaths(elsewhere).wal, { recursive: true });
        for (let n = current; n < current + 4; n++) {
          const name = `${wal.slice(0, 16)}${n.toString(16).toUpperCase().padStart(8, "0")}`;
          await writeFile(path.join(backupPaths(elsewhere).wal, name), foreign);
        }
        await refuse(/of another database system/);
      },
    );

    await t.test(
      "kill -9 of the backup process: its partial folder is never a backup and goes at the next run",
      async () => {
        const s = source as Source;
        const before = (await listBackups(backupDir)).map((m) => m.id);
        await killChildHalfway({ mode: "backup", url, pgData: s.pgData, backupDir });
        const partials = (await readdir(backupPaths(backupDir).base)).filter((n) => n.endsWith(".partial"));
        assert.equal(partials.length, 1, "the killed run left its partial folder");
        assert.deepEqual(
          (await listBackups(backupDir)).map((m) => m.id),
          before,
        );
        const notes: string[] = [];
        const next = await takeBaseBackup({
          client: db as pg.Client,
          pgData: s.pgData,
          backupDir,
          onProgress: (e) => e.kind === "note" && notes.push(e.text),
        });
        assert.ok(
          notes.some((n) => n.includes(partials[0] as string)),
          notes.join("\n"),
        );
        assert.deepEqual(
          (await readdir(backupPaths(backupDir).base)).filter((n) => n.endsWith(".partial")),
          [],
        );
        assert.equal((await listBackups(backupDir)).at(-1)?.id, next.id);
      },
    );

    await t.test(
      "kill -9 of the restored server mid-restore: it fails, cleans up, the next run succeeds",
      async () => {
        const folder = path.join(root, "killed-server", "data");
        // The restore starts its server with a synchronous `pg_ctl -w`, and a short replay can end
        // before that returns: a watcher process of its own kills the postmaster the moment its pid
        // file appears, while recovery is under way.
        const pidFile = path.join(folder, "postmaster.pid");
        const watcher = spawn(
          "sh",
          ["-c", `while [ ! -s "${pidFile}" ]; do sleep 0.002; done; kill -9 "$(head -n 1 "${pidFile}")"`],
          { stdio: "ignore" },
        );
        const watched = new Promise<number | null>((resolve) => watcher.on("exit", resolve));
        try {
          await assert.rejects(restoreInto("killed-server"), (e) => isVpbError(e, "RESTORE_FAILED"));
        } finally {
          watcher.kill();
        }
        assert.equal(await watched, 0, "the watcher killed the restored server");
        assert.equal(existsSync(folder), false, "the half-restored folder is removed");
        const restored = await restoreInto("killed-server");
        restored.stop();
      },
    );

    await t.test("kill -9 of the restore process: the next restore into that folder succeeds", async () => {
      const pgData = path.join(root, "killed-restore", "data");
      await killChildHalfway({
        mode: "restore",
        backupDir,
        pgData,
        logFile: path.join(root, "killed-restore", "postgres.log"),
        binDir,
        major: MAJOR,
        url,
      });
      assert.ok(existsSync(path.join(pgData, RESTORE_MARKER)), "the killed run left its marker");
      const notes: string[] = [];
      const restored = await restoreInto("killed-restore", {
        onProgress: (e) => e.kind === "note" && notes.push(e.text),
      });
      restored.stop();
      assert.ok(
        notes.some((n) => n.startsWith(`removed ${pgData}`)),
        notes.join("\n"),
      );
      assert.equal(existsSync(path.join(pgData, RESTORE_MARKER)), false);
    });

    await t.test(
      "backup verify names every mismatch: RLS off, a user seeing another's rows, a missing file",
      async () => {
        const c = db as pg.Client;
        await c.query("alter table public.users no force row level security");
        await c.query("create policy leak on public.projects for select to authenticated using (true)");
        await unlink(path.join(storage.objectsDir, "audio-recordings", version));
        const broken = await takeBaseBackup({ client: c, pgData: (source as Source).pgData, backupDir });
        await assert.rejects(verify(), (e) => {
          assert.ok(isVpbError(e, "VERIFY_FAILED"));
          assert.match(e.message, /public\.users .*lacks forced RLS/);
          assert.match(e.message, new RegExp(`user ${a.id} sees 1 project\\(s\\) of user ${b.id}`));
          assert.match(e.message, new RegExp(`1 file\\(s\\) missing: audio-recordings/${version}`));
          return true;
        });
        assert.equal((await readVerification(backupDir, broken.id))?.ok, false);
      },
    );

    await t.test(
      "retention keeps the newest backup of each day and the only verified one, and their WAL",
      async () => {
        const all = await listBackups(backupDir);
        const walBefore = await readdir(backupPaths(backupDir).wal);
        const dry = await pruneBackups({ backupDir, keepDays: 1, dryRun: true });
        assert.deepEqual(
          dry.keep.map((k) => k.id),
          [manifest.id, all.at(-1)?.id],
          "the newest (failed verification) and the only verified one",
        );
        assert.equal((await listBackups(backupDir)).length, all.length, "a dry run removes nothing");
        assert.deepEqual(await readdir(backupPaths(backupDir).wal), walBefore);
        const done = await pruneBackups({ backupDir, keepDays: 1 });
        assert.deepEqual(done.remove, dry.remove);
        assert.deepEqual(
          (await listBackups(backupDir)).map((m) => m.id),
          [manifest.id, all.at(-1)?.id],
        );
        // Only WAL older than the oldest kept backup's start went: what it needs is all there.
        assert.ok(done.walRemove.length > 0);
        assert.ok(done.walRemove.every((w) => w.slice(8) < manifest.startWal.slice(8)));
        await checkArchive(backupPaths(backupDir).wal, manifest.startWal, manifest.stopWal);
      },
    );

    // The damaged backup, verified against the live database as `backup verify` does.
    const verifyThisBackup = () =>
      verifyBackup({ backupDir, binDir, major: MAJOR, urlFor, backupId: manifest.id, live: db as pg.Client });

    await t.test("a flipped byte in a backed-up file fails verify, naming the file", async () => {
      const { rows: f } = await (db as pg.Client).query<{ file: string }>(
        "select pg_relation_filepath('t') as file",
      );
      const file = f[0]?.file ?? "";
      const handle = await open(path.join(backupPaths(backupDir).base, manifest.id, file), "r+");
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, 100);
      byte[0] = (byte[0] ?? 0) ^ 0xff;
      await handle.write(byte, 0, 1, 100);
      await handle.close();
      await assert.rejects(verifyThisBackup(), (e) => {
        assert.ok(isVpbError(e, "BACKUP_CORRUPT"));
        assert.match(e.message, new RegExp(file.replace(/\//g, "\\/")));
        return true;
      });
      assert.equal((await readVerification(backupDir, manifest.id))?.ok, false, "the failure is recorded");
    });

    await t.test("a missing WAL segment fails verify, naming the segment", async () => {
      await unlink(path.join(backupPaths(backupDir).wal, manifest.startWal));
      await assert.rejects(verifyThisBackup(), (e) => {
        assert.ok(isVpbError(e, "WAL_MISSING"));
        assert.match(e.message, new RegExp(manifest.startWal));
        return true;
      });
    });
  } finally {
    await db?.end().catch(() => {});
    await source?.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test(
  "the CLI: backup, restore --latest into a new folder, restore --replace --before-migration (confirmed), backup prune",
  only17,
  async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "vpb-backup-cli-"));
    await chmod(root, 0o755);
    const dataDir = path.join(root, "vpb");
    const env = {
      DATABASE_URL: "",
      VPB_DATA_DIR: dataDir,
      VPB_BACKUP_DIR: path.join(root, "elsewhere"),
      VPB_PG_PORT: String(26000 + Math.floor(Math.random() * 3000)),
      VPB_ARCHIVE_TIMEOUT: "30s",
    };
    try {
      const bad = await runCli(
        ["restore", "--to", "2026-11-25 10:42:00", "--into", path.join(root, "x")],
        env,
      );
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /INVALID_ARGUMENT/);

      const md5 = await runCli(["backup", "--checksum", "md5"], env);
      assert.equal(md5.code, 2);
      assert.match(md5.stderr, /INVALID_ARGUMENT[\s\S]*--checksum must be crc32 or sha256/);
      assert.equal(existsSync(path.join(env.VPB_BACKUP_DIR, "base")), false, "nothing was written");

      const backup = await runCli(["backup", "--json"], env);
      assert.equal(backup.code, 0, backup.stderr);
      const summary = JSON.parse(backup.stdout) as { id: string; files: number; folder: string };
      assert.equal(summary.folder, env.VPB_BACKUP_DIR);
      assert.ok(summary.files > 100);
      assert.match(backup.stderr, /^backup: .* MB \(100%\)/m, "plain progress lines off a terminal");

      const into = path.join(root, "restored");
      const restore = await runCli(["restore", "--latest", "--into", into], env);
      assert.equal(restore.code, 0, restore.stderr);
      assert.match(restore.stdout, new RegExp(`restored base backup ${summary.id}`));
      const again = await runCli(["restore", "--latest", "--into", into], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /RESTORE_TARGET_EXISTS/);
      // Backups exist, none old enough: the remedy says so (not "run backup first").
      const early = await runCli(
        ["restore", "--to", "2020-01-01 00:00:00+00", "--into", `${into}-early`],
        env,
      );
      assert.equal(early.code, 1);
      assert.match(early.stderr, /BACKUP_NOT_FOUND/);
      assert.match(
        early.stderr,
        new RegExp(`oldest of the 1 backups there \\(${summary.id}\\).*choose a later --to`),
      );

      const up = await runCli(["migrate", "up"], env);
      assert.equal(up.code, 0, up.stderr);

      // verify compares with the live database (the CLI opens it) at a point it marks:
      // the backup, then the migrations' WAL replayed to it.
      const verified = await runCli(["backup", "verify", "--json"], env);
      assert.equal(verified.code, 0, verified.stderr);
      const checked = JSON.parse(verified.stdout) as {
        backupId: string;
        comparedWith: string;
        digestsCompared: string[];
      };
      assert.equal(checked.backupId, summary.id);
      assert.equal(checked.comparedWith, "live");
      assert.ok(
        checked.digestsCompared.some((n) => n.endsWith(":public.projects")),
        checked.digestsCompared.join(", "),
      );
      const pgData = path.join(dataDir, "pg17");
      const unconfirmed = await runCli(["restore", "--replace", "--before-migration", "1"], env);
      assert.equal(unconfirmed.code, 1);
      assert.match(unconfirmed.stderr, /RESTORE_UNCONFIRMED/);
      assert.deepEqual(
        (await readdir(dataDir)).filter((n) => n.startsWith("pg17.")),
        [],
        "nothing changed",
      );
      const unknown = await runCli(["restore", "--replace", "--yes", "--before-migration", "999"], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /MIGRATION_NOT_APPLIED/);

      const replaced = await runCli(["restore", "--replace", "--yes", "--before-migration", "1"], env);
      assert.equal(replaced.code, 0, replaced.stderr);
      const aside = (await readdir(dataDir)).filter((n) => n.startsWith("pg17.replaced-"));
      assert.equal(aside.length, 1, "the old folder is kept aside");
      assert.ok(existsSync(path.join(dataDir, aside[0] as string, "PG_VERSION")));
      // Started as every command starts it: archiving on, with VPB_ARCHIVE_TIMEOUT.
      const server = await openTarget(parseConfig(env, ROOT));
      try {
        const c = await connected(server.url);
        const { rows } = await c.query<{ users: string | null; timeout: string; mode: string }>(
          `select to_regclass('public.users')::text as users, current_setting('archive_timeout') as timeout,
                  current_setting('archive_mode') as mode`,
        );
        await c.end();
        assert.deepEqual(
          rows[0],
          { users: null, timeout: "30s", mode: "on" },
          "the data as it was before migration 1",
        );
        assert.ok(existsSync(pgData));
      } finally {
        await server.close();
      }

      // The live server is on the restore's new timeline: the backup cannot reach it, and verify says
      // so; --offline still proves the backup on its own (recovered to its end, amcheck, RLS).
      const diverged = await runCli(["backup", "verify"], env);
      assert.equal(diverged.code, 1, diverged.stderr);
      assert.match(diverged.stderr, /VERIFY_FAILED/);
      assert.match(
        diverged.stderr,
        new RegExp(`${summary.id} is of timeline 1, the live server is on timeline 2`),
      );
      const offline = await runCli(["backup", "verify", "--offline"], env);
      assert.equal(offline.code, 0, offline.stderr);
      assert.match(offline.stdout, new RegExp(`backup ${summary.id} verified: .*no digests to compare`));

      const prune = await runCli(["backup", "prune", "--dry-run", "--json"], env);
      assert.equal(prune.code, 0, prune.stderr);
      const plan = JSON.parse(prune.stdout) as { keep: { id: string }[]; dryRun: boolean };
      assert.deepEqual(
        plan.keep.map((k) => k.id),
        [summary.id],
      );
      assert.equal(plan.dryRun, true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  },
);
