/**
 * Physical backup and point-in-time restore, each a ratio of two measures taken side by side in one run:
 *   1. `takeBaseBackup` as `vpb-db backup` runs it by default (pg_backup_start, every file copied and
 *      its CRC-32 taken, flushed to disk, pg_backup_stop with its WAL archived, manifest) vs `cp -a`
 *      of the same data folder, interleaved, both from the page cache after a first untimed pass, in
 *      MB/s (the backup skips pg_wal, cp copies it; target: >= 0.5x cp's MB/s), and cp followed by
 *      `sync -f` (cp's copy on disk, as the backup's is), for a like-for-like ratio
 *   2. a restore to a point in time (copy checked against the manifest, start, WAL replay to the
 *      target, promotion) vs the base backup's time plus the replay time PostgreSQL's own log
 *      reports ("redo done … elapsed"), the least a restore can take (target: <= 2x)
 *   3. `backup verify` of the last backup against the live database, once (no ratio): the consistent
 *      point it marks, the restore through all the WAL since, amcheck, RLS, counts and every table's
 *      digest on both sides (the per-table digests moved there from the backup)
 * Seeds `vpb_bench_backup_s<scale>` on its own embedded server (archiving on) once, reused by later
 * runs, and rewrites its section of BENCHMARKS.md.
 *
 * Usage: npm run bench:backup [-- --scale 1] (BENCH_RUNS, default 3)
 */
import { spawnSync } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbedded } from "../src/db/embedded-server.ts";
import { stopOnSignal } from "../src/db/shutdown.ts";
import { backupPaths } from "../src/ops/backup-layout.ts";
import { takeBaseBackup } from "../src/ops/base-backup.ts";
import { restoreBackup } from "../src/ops/restore.ts";
import { verifyBackup } from "../src/ops/verify.ts";
import { archiveCurrentWal } from "../src/ops/wal-archive.ts";
import { binDirFor } from "../test/support/debian-server.ts";
import { log, median, root, seededDatabase, writeSection } from "./support.ts";

const scaleArg = process.argv.indexOf("--scale");
const SCALE = scaleArg > 0 ? Number(process.argv[scaleArg + 1]) : 1;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const dataDir = path.join(root, ".vpb", "bench-backup");
const backupDir = path.join(dataDir, "backups");

const spread = (xs: number[]) =>
  `${(median(xs) / 1000).toFixed(1)} s (${(Math.min(...xs) / 1000).toFixed(1)}–${(Math.max(...xs) / 1000).toFixed(1)})`;

function du(folder: string): number {
  const r = spawnSync("du", ["-sb", folder], { encoding: "utf8" });
  return Number(r.stdout.split("\t")[0]);
}

async function main(): Promise<void> {
  const loadAtStart = os.loadavg()[0] ?? 0;
  const server = await startEmbedded({
    dataDir,
    port: 28402,
    archiveDir: backupPaths(backupDir).wal,
    settings: { shared_buffers: "512MB", max_wal_size: "4GB", checkpoint_timeout: "30min" },
  });
  stopOnSignal(server.stop);
  const scratch = path.join(dataDir, "scratch");
  try {
    const url = await seededDatabase(
      server.url,
      `vpb_bench_backup_s${String(SCALE).replace(".", "_")}`,
      `seeded v1 scale ${SCALE}`,
      { scale: SCALE },
    );
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    c.on("error", () => {});
    await c.query("checkpoint");
    const binDir = await binDirFor(17);
    const urlFor = (port: number) => {
      const u = new URL(server.url);
      u.port = String(port);
      return u.toString();
    };

    // 1. Base backup vs cp -a, interleaved; a first pass of each warms the page cache, untimed.
    const cp: number[] = [];
    const cpSynced: number[] = [];
    const backup: number[] = [];
    let backupBytes = 0;
    for (let run = 0; run <= RUNS; run++) {
      await rm(scratch, { recursive: true, force: true });
      let t = performance.now();
      const r = spawnSync("cp", ["-a", server.pgDataDir, scratch]);
      if (r.status !== 0) throw new Error(`cp -a failed: ${r.stderr}`);
      if (run > 0) cp.push(performance.now() - t);
      // cp leaves its copy in the page cache; the backup's is on disk when it returns. `sync -f`
      // flushes the copy's file system: cp plus it is the like-for-like row (nothing else writes here).
      const s = spawnSync("sync", ["-f", scratch]);
      if (s.status !== 0) throw new Error(`sync -f failed: ${s.stderr}`);
      if (run > 0) cpSynced.push(performance.now() - t);
      await rm(scratch, { recursive: true, force: true });
      t = performance.now();
      const m = await takeBaseBackup({
        client: c,
        pgData: server.pgDataDir,
        backupDir,
      });
      if (run > 0) backup.push(performance.now() - t);
      backupBytes = m.files.reduce((sum, f) => sum + f.size, 0);
      // The last one stays: section 2 restores it.
      if (run < RUNS) await rm(path.join(backupPaths(backupDir).base, m.id), { recursive: true });
      log(
        `backup run ${run}/${RUNS}: cp ${cp.at(-1)?.toFixed(0)} ms, backup ${backup.at(-1)?.toFixed(0)} ms`,
      );
    }
    const folderBytes = du(server.pgDataDir);

    // 2. WAL after the backup (a tenth of the data's size, in rows of a scratch table), a target
    // time in the middle, then a restore to it.
    const rows = Math.max(10_000, Math.round(SCALE * 1_000_000));
    await c.query("drop table if exists bench_wal");
    await c.query("create table bench_wal (id int, note text)");
    // As every app table (verify checks it).
    await c.query("alter table bench_wal enable row level security, force row level security");
    await c.query("insert into bench_wal select g, repeat('x', 200) from generate_series(1, $1) g", [rows]);
    const { rows: at } = await c.query<{ t: Date }>("select clock_timestamp() as t");
    await c.query("insert into bench_wal select g, repeat('y', 200) from generate_series(1, $1) g", [
      rows / 10,
    ]);
    await archiveCurrentWal(c);
    const restoreMs: number[] = [];
    const floorMs: number[] = [];
    const copyMs: number[] = [];
    const replayMs: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      await rm(scratch, { recursive: true, force: true });
      const logFile = path.join(dataDir, "bench-restore.log");
      await rm(logFile, { force: true });
      const t = performance.now();
      const restored = await restoreBackup({
        backupDir,
        pgData: path.join(scratch, "pg17"),
        logFile,
        binDir,
        major: 17,
        target: { time: at[0]?.t as Date },
        urlFor,
      });
      restoreMs.push(performance.now() - t);
      restored.stop();
      const text = await readFile(logFile, "utf8");
      const elapsed = /redo done at .* elapsed: ([\d.]+) s/.exec(text)?.[1];
      if (elapsed === undefined) throw new Error(`no "redo done" line in ${logFile}`);
      replayMs.push(Number(elapsed) * 1000);
      copyMs.push(restored.copyMs);
      floorMs.push(median(backup) + Number(elapsed) * 1000);
      log(
        `restore run ${run + 1}/${RUNS}: ${restoreMs.at(-1)?.toFixed(0)} ms (copy ${restored.copyMs.toFixed(0)}, replay ${elapsed} s)`,
      );
    }

    // 3. verify of the backup kept, against the live database, once.
    const verifyStarted = performance.now();
    const verified = await verifyBackup({ backupDir, binDir, major: 17, urlFor, live: c });
    const verifyMs = performance.now() - verifyStarted;
    if (!verified.ok) throw new Error(`verify failed: ${verified.problems.join("; ")}`);
    await c.end();
    log("verify done");

    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    const rate = (bytes: number, ms: number[]) => `${(bytes / 1e6 / (median(ms) / 1000)).toFixed(0)} MB/s`;
    const lines = [
      "## Physical backup and restore (`npm run bench:backup`)",
      "",
      `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, embedded PostgreSQL 17, scale ${SCALE}: ` +
        `data folder ${(folderBytes / 1e9).toFixed(2)} GB (${(backupBytes / 1e9).toFixed(2)} GB backed up: pg_wal and the like are skipped), ${RUNS} runs each, median (min–max), page cache warm for both. Load average ${loadAtStart.toFixed(1)} at the start, ${(os.loadavg()[0] ?? 0).toFixed(1)} at the end.`,
      "",
      "| Measure | Time | Ratio |",
      "| --- | --- | --- |",
      `| \`cp -a\` of the data folder (${(folderBytes / 1e9).toFixed(2)} GB, pg_wal included) | ${spread(cp)}, ${rate(folderBytes, cp)} | 1.00x |`,
      `| \`cp -a\` and then \`sync -f\` of its file system: the same data on disk, as a backup must have it | ${spread(cpSynced)}, ${rate(folderBytes, cpSynced)} | ${ratio(folderBytes / median(cpSynced), folderBytes / median(cp))} of cp's MB/s |`,
      `| \`vpb-db backup\` (${(backupBytes / 1e9).toFixed(2)} GB): pg_backup_start, copy + CRC-32 per file + flush to disk, pg_backup_stop with its WAL archived, manifest (target: >= 0.5x of cp's MB/s) | ${spread(backup)}, ${rate(backupBytes, backup)} | ${ratio(backupBytes / median(backup), folderBytes / median(cp))} of cp's MB/s (${ratio(median(cp), median(backup))} of its time); ${ratio(backupBytes / median(backup), folderBytes / median(cpSynced))} of cp + sync's |`,
      `| restore to a point in time: checked copy, start, replay of the WAL of ${rows} inserted 200-byte rows, promote | ${spread(restoreMs)} | ${ratio(median(restoreMs), median(floorMs))} of the floor (target: <= 2x) |`,
      `| floor: the base backup's time + WAL replay as PostgreSQL's log reports it (${spread(replayMs)}) | ${spread(floorMs)} | 1.00x |`,
      `| of which the restore's checked copy | ${spread(copyMs)} | |`,
      `| \`backup verify\` of the last backup against the live database, 1 run (consistent point marked, restore through all WAL since, amcheck of ${verified.indexesChecked} indexes, RLS, ${verified.digestsCompared.length} tables' digests on both sides; not part of a ratio) | ${(verifyMs / 1000).toFixed(1)} s, of which the restore ${(verified.restoreMs / 1000).toFixed(1)} s | |`,
      "",
    ];
    const section = lines.join("\n");
    process.stdout.write(`${section}\n`);
    await writeSection(lines[0] as string, section);
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await server.stop();
  }
}

await main();
