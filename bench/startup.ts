/**
 * Cold start, warm start and full migration, measured side by side in one run.
 *
 * - cold: `vpb-db start --once` on an empty data folder (initdb, start, bootstrap, every migration, stop)
 * - warm: the same command on the folder the cold run left (start, checks, nothing to apply, stop)
 * - migrate all: `migrateUp` of every migration into a fresh database of a running server
 * - migrate none: `migrateUp` with nothing pending (connection, pooler probe, lock, checksum checks)
 *
 * Prints medians with their spread and the ratios, and rewrites its section of BENCHMARKS.md.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbedded } from "../src/db/embedded-server.ts";
import { stopOnSignal } from "../src/db/shutdown.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { root, type Stat, stat, writeSection } from "./support.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const fmt = (x: Stat) => `${x.median.toFixed(0)} ms (${x.min.toFixed(0)}–${x.max.toFixed(0)})`;

function timeCli(dataDir: string): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, [path.join(root, "dist/src/cli/main.js"), "start", "--once"], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: "", VPB_DATA_DIR: dataDir, VPB_PG_PORT: "28400" },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`start --once failed: ${r.stderr}`);
  return performance.now() - started;
}

async function main(): Promise<void> {
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vpb-bench-start-"));
    cold.push(timeCli(dir));
    warm.push(timeCli(dir));
    await rm(dir, { recursive: true, force: true });
    process.stderr.write(`start run ${i + 1}/${RUNS}\n`);
  }

  const server = await startEmbedded({ dataDir: path.join(root, ".vpb", "bench"), port: 28401 });
  stopOnSignal(server.stop);
  const all: number[] = [];
  const none: number[] = [];
  let migrationCount = 0;
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    for (let i = 0; i < RUNS; i++) {
      const name = `vpb_bench_${i}`;
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.query(`create database ${name}`);
      const url = new URL(server.url);
      url.pathname = `/${name}`;
      const opts = projectMigratorOptions(url.toString());
      let t = performance.now();
      const r = await migrateUp(opts);
      all.push(performance.now() - t);
      if (r.error) throw r.error;
      migrationCount = r.results.length;
      t = performance.now();
      await migrateUp(opts);
      none.push(performance.now() - t);
      await admin.query(`drop database ${name} with (force)`);
    }
    await admin.end();
  } finally {
    await server.stop();
  }

  const s = { cold: stat(cold), warm: stat(warm), all: stat(all), none: stat(none) };
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const lines = [
    "## Start and migration (`npm run bench:startup`)",
    "",
    `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, embedded PostgreSQL 17, ${RUNS} runs each: median (min–max).`,
    "",
    "| Measure | Time | Ratio |",
    "| --- | --- | --- |",
    `| cold start: \`start --once\` on an empty folder (initdb, start, ${migrationCount} migrations, stop) | ${fmt(s.cold)} | ${(s.cold.median / s.warm.median).toFixed(2)}x warm |`,
    `| warm start: \`start --once\` again (start, checks, nothing to apply, stop) | ${fmt(s.warm)} | 1.00x |`,
    `| apply every migration (${migrationCount}) to a fresh database, bootstrap included | ${fmt(s.all)} | ${(s.all.median / s.none.median).toFixed(2)}x no-op |`,
    `| \`migrate up\` with nothing pending (connect, pooler probe, lock, checksums) | ${fmt(s.none)} | 1.00x |`,
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  await writeSection(lines[0] as string, lines.join("\n"));
}

// The CLI runs from dist/: build it first so the numbers are of the current source.
execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" });
await main();
process.exit(0);
