/**
 * The metrics collector's cost on a seeded database: wall time per run, and CPU per run of this
 * process and of the server backend that ran it (read from /proc: same machine, Linux). Prints one
 * line per measure; the issue's budget is 1% of one core at one run a minute, 600 ms of CPU a run.
 *
 * Usage: npx tsx bench/collector.ts [--scale 0.1] [--runs 20]
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbedded } from "../src/db/embedded-server.ts";
import { stopOnSignal } from "../src/db/shutdown.ts";
import { seed } from "../src/dev/seed.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { collectMetrics } from "../src/monitoring/collect.ts";
import { log } from "./support.ts";

const root = path.resolve(import.meta.dirname, "..");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SCALE = arg("--scale", 0.1);
const RUNS = arg("--runs", 20);

/** utime + stime of a process, in milliseconds (clock ticks of 10 ms). */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function main(): Promise<void> {
  const server = await startEmbedded({
    dataDir: path.join(root, ".vpb", "bench-collector"),
    port: arg("--port", 29512),
  });
  stopOnSignal(server.stop);
  try {
    const name = `vpb_collect_s${String(SCALE).replace(".", "_")}`;
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    const url = new URL(server.url);
    url.pathname = `/${name}`;
    const exists = await admin.query("select from pg_database where datname = $1", [name]);
    if (exists.rowCount === 0) {
      await admin.query(`create database ${name}`);
      const up = await migrateUp(projectMigratorOptions(url.toString()));
      if (up.error) throw up.error;
      const seeding = new pg.Pool({ connectionString: url.toString(), max: 2 });
      log(`seeding scale ${SCALE}…`);
      await seed(seeding, { scale: SCALE });
      await seeding.end();
    } else {
      const up = await migrateUp(projectMigratorOptions(url.toString()));
      if (up.error) throw up.error;
    }
    await admin.end();

    const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
    const load = new pg.Pool({ connectionString: url.toString(), max: 2 });
    const pid = (await pool.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid as number;
    await collectMetrics(pool, { storageStats: null });
    const wall: number[] = [];
    const nodeCpu: number[] = [];
    const serverCpu: number[] = [];
    const rollup: number[] = [];
    let rows = 0;
    for (let i = 0; i < RUNS; i++) {
      // Something to measure between runs: reads of the app's tables, errors and API calls.
      await load.query(
        "select count(*) from public.projects where owner_id = (select id from public.users order by id limit 1)",
      );
      await load.query("select public.log_error('error', 'bench', 'boom', 'E_BENCH')");
      const before = cpuOf(pid);
      const r = await collectMetrics(pool, { storageStats: null });
      serverCpu.push(cpuOf(pid) - before);
      wall.push(r.durationMs);
      rollup.push(r.rollupMs);
      nodeCpu.push(r.cpuMs);
      rows = r.rows;
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    process.stdout.write(
      `collector at scale ${SCALE}, ${RUNS} runs, ${rows} metric rows a run: wall ${median(wall).toFixed(1)} ms median ` +
        `(max ${Math.max(...wall).toFixed(1)}), of which the hourly rollup ${median(rollup).toFixed(1)} ms median (max ${Math.max(...rollup).toFixed(1)}), CPU a run: node ${mean(nodeCpu).toFixed(1)} ms, server backend ${mean(serverCpu).toFixed(1)} ms ` +
        `(${(((mean(nodeCpu) + mean(serverCpu)) / 60_000) * 100).toFixed(3)}% of one core at one run a minute); ` +
        `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown"}), Node ${process.version}, ` +
        `load average ${os
          .loadavg()
          .map((x) => x.toFixed(1))
          .join(" ")}\n`,
    );
    await pool.end();
    await load.end();
  } finally {
    await server.stop();
  }
}

await main();
