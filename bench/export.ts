/**
 * Logical export and import against plain COPY of the same tables, side by side in one run:
 *
 * - export: `exportDatabase` (one snapshot, COPY of every table to files, digests in SQL beside it,
 *   fsync and rename) vs plain `COPY table TO STDOUT (format binary)` of the same tables into files;
 * - import: `importExport` into a fresh migrated database (one transaction, indexes, partitions,
 *   digests recomputed) vs plain `COPY ... FROM STDIN` of the same files into tables without indexes,
 *   keys or triggers (`create table ... (like ... including defaults including constraints)`: the
 *   CHECK constraints stay, since every load into this schema evaluates them).
 *
 * Seeds `vpb_bench_export_s<scale>` on its own embedded server once (reused later; scale 0.1 by
 * default, `npm run bench:export -- --scale 1`), has no storage files (only tables are compared), and
 * rewrites its section of BENCHMARKS.md. Targets: export at least 0.7x, import at least 0.5x of plain COPY.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { startEmbedded } from "../src/db/embedded-server.ts";
import { stopOnSignal } from "../src/db/shutdown.ts";
import { seed } from "../src/dev/seed.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { exportDatabase } from "../src/ops/export.ts";
import { columnList, type ExportManifest } from "../src/ops/export-format.ts";
import { importExport } from "../src/ops/import.ts";
import { DiskDriver } from "../src/storage/drivers/disk.ts";
import { log, root, type Stat, stat, writeSection } from "./support.ts";

const scaleArg = process.argv.indexOf("--scale");
const SCALE = scaleArg > 0 ? Number(process.argv[scaleArg + 1]) : 0.1;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PORT = Number(process.env.VPB_BENCH_PORT ?? 28402);

const fmt = (x: Stat) =>
  `${(x.median / 1000).toFixed(2)} s (${(x.min / 1000).toFixed(2)}–${(x.max / 1000).toFixed(2)})`;

function dbUrl(serverUrl: string, name: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The seeded source (made once) and a migrated, empty template for the import targets. */
async function prepare(serverUrl: string): Promise<{ source: string; template: string }> {
  const source = `vpb_bench_export_s${String(SCALE).replace(".", "_")}`;
  const template = "vpb_bench_export_template";
  const marker = `seeded scale ${SCALE}`;
  const note = await admin(serverUrl, async (c) => {
    const { rows } = await c.query(
      "select shobj_description(oid, 'pg_database') as note from pg_database where datname = $1",
      [source],
    );
    if (rows[0]?.note !== marker) {
      await c.query(`drop database if exists ${source} with (force)`);
      await c.query(`create database ${source}`);
    }
    await c.query(`drop database if exists ${template} with (force)`);
    await c.query(`create database ${template}`);
    return rows[0]?.note;
  });
  for (const db of [source, template]) {
    const r = await migrateUp(projectMigratorOptions(dbUrl(serverUrl, db)));
    if (r.error) throw r.error;
  }
  if (note !== marker) {
    log(`seeding scale ${SCALE} (once)…`);
    const pool = new pg.Pool({ connectionString: dbUrl(serverUrl, source), max: 2 });
    await seed(pool, { scale: SCALE });
    await pool.end();
    await admin(dbUrl(serverUrl, source), (c) => c.query("vacuum analyze"));
    await admin(serverUrl, (c) => c.query(`comment on database ${source} is '${marker}'`));
  }
  return { source, template };
}

/** Plain COPY of each table to a file: the baseline of export. */
async function plainExport(url: string, m: ExportManifest, dir: string): Promise<void> {
  await admin(url, async (c) => {
    await c.query("begin isolation level repeatable read, read only");
    for (const t of m.tables) {
      const source = `(select ${columnList(t.columns)} from ${t.name})`;
      await pipeline(
        c.query(copyTo(`copy ${source} to stdout (format binary)`)),
        createWriteStream(path.join(dir, `${t.schema}.${t.table}`)),
      );
    }
    await c.query("commit");
  });
}

/** Plain COPY of the export's files into tables without indexes, keys or triggers: the baseline of import. */
async function plainImport(url: string, m: ExportManifest, exportDir: string): Promise<void> {
  await admin(url, async (c) => {
    await c.query("drop schema if exists bench_plain cascade");
    await c.query("create schema bench_plain");
    for (const t of m.tables) {
      const plain = `bench_plain."${t.schema}_${t.table}"`;
      // The same columns, defaults and CHECK constraints (evaluated for every row, as in the real
      // tables), without indexes, keys or triggers.
      await c.query(`create table ${plain} (like ${t.name} including defaults including constraints)`);
    }
    const started = performance.now();
    for (const t of m.tables) {
      const plain = `bench_plain."${t.schema}_${t.table}"`;
      await pipeline(
        createReadStream(path.join(exportDir, t.file)),
        c.query(copyFrom(`copy ${plain} (${columnList(t.columns)}) from stdin (format binary)`)),
      );
    }
    plainImportMs.push(performance.now() - started);
    await c.query("drop schema bench_plain cascade");
  });
}
const plainImportMs: number[] = [];

async function main(): Promise<void> {
  const server = await startEmbedded({ dataDir: path.join(root, ".vpb", "bench-export"), port: PORT });
  const release = stopOnSignal(server.stop);
  const work = await mkdtemp(path.join(os.tmpdir(), "vpb-bench-export-"));
  try {
    const { source, template } = await prepare(server.url);
    const sourceUrl = dbUrl(server.url, source);
    const driver = new DiskDriver(path.join(work, "storage"));
    const exportMs: number[] = [];
    const plainExportMs: number[] = [];
    const importMs: number[] = [];
    let manifest: ExportManifest | undefined;
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const out = path.join(work, `export-${i}`);
      const plainDir = await mkdtemp(path.join(work, "plain-"));
      // Alternate which goes first, so neither always meets a warmer cache.
      const runExport = async () => {
        const t = performance.now();
        const r = await exportDatabase({ url: sourceUrl, out, driver });
        exportMs.push(performance.now() - t);
        manifest = r.manifest;
        bytes = r.bytes;
      };
      const runPlain = async () => {
        if (!manifest) throw new Error("no manifest yet");
        const t = performance.now();
        await plainExport(sourceUrl, manifest, plainDir);
        plainExportMs.push(performance.now() - t);
      };
      if (i % 2 === 0 || !manifest) {
        await runExport();
        await runPlain();
      } else {
        await runPlain();
        await runExport();
      }
      await rm(plainDir, { recursive: true, force: true });

      const target = `vpb_bench_export_target_${i}`;
      await admin(server.url, async (c) => {
        await c.query(`drop database if exists ${target} with (force)`);
        await c.query(`create database ${target} template ${template}`);
      });
      const m = manifest as ExportManifest;
      const runImport = async () => {
        const t = performance.now();
        await importExport({ url: dbUrl(server.url, target), dir: out, driver });
        importMs.push(performance.now() - t);
      };
      const runPlainImport = () => plainImport(dbUrl(server.url, template), m, out);
      if (i % 2 === 0) {
        await runImport();
        await runPlainImport();
      } else {
        await runPlainImport();
        await runImport();
      }
      await admin(server.url, (c) => c.query(`drop database ${target} with (force)`));
      await rm(out, { recursive: true, force: true });
      log(
        `run ${i + 1}/${RUNS}: export ${exportMs.at(-1)?.toFixed(0)} ms, plain ${plainExportMs.at(-1)?.toFixed(0)} ms; import ${importMs.at(-1)?.toFixed(0)} ms, plain ${plainImportMs.at(-1)?.toFixed(0)} ms`,
      );
    }
    const m = manifest as ExportManifest;
    const rows = m.tables.reduce((s, t) => s + t.rows, 0);
    const e = stat(exportMs);
    const pe = stat(plainExportMs);
    const im = stat(importMs);
    const pi = stat(plainImportMs);
    const section = [
      "## Export and import (`npm run bench:export`)",
      "",
      `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, embedded PostgreSQL 17, scale ${SCALE}: ` +
        `${m.tables.length} tables, ${rows} rows, ${(bytes / 1e6).toFixed(0)} MB of binary COPY, no storage files. ${RUNS} runs each, alternating: median (min–max). Ratio = plain time / vpb-db time. ` +
        `Load average at the end: ${os.loadavg()[0]?.toFixed(1)} (other work on the machine makes single runs vary).`,
      "",
      "| Measure | Time | Ratio (target) |",
      "| --- | --- | --- |",
      `| \`export\`: one snapshot, COPY of every table to files, digests beside it, fsync, rename | ${fmt(e)} | ${(pe.median / e.median).toFixed(2)}x of plain (≥ 0.7x) |`,
      `| plain \`COPY … TO STDOUT (format binary)\` of the same tables into files | ${fmt(pe)} | 1.00x |`,
      `| \`import\`: one transaction into the migrated schema (indexes, partitions), digests recomputed | ${fmt(im)} | ${(pi.median / im.median).toFixed(2)}x of plain (≥ 0.5x) |`,
      "| plain `COPY … FROM STDIN` of the same files into tables without indexes, keys or triggers (CHECK constraints kept) | " +
        `${fmt(pi)} | 1.00x |`,
      "",
    ].join("\n");
    process.stdout.write(`${section}\n`);
    await writeSection("## Export and import", section);
  } finally {
    await rm(work, { recursive: true, force: true });
    release();
    await server.stop();
  }
}

await main();
