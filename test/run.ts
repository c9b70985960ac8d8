/**
 * The test command: starts each PostgreSQL major the suite runs on (the embedded 17 and the system's
 * 15), builds a migrated template database in each, and runs every test file against each server
 * with node's test runner. Ends with one line: "N passed, N failed, N skipped" (a test skipped for want of
 * a tool, or run on one major only, is counted, never hidden).
 *
 * Env: VPB_TEST_MAJORS (default "17,15"), VPB_TEST_PG15_BIN (default /usr/lib/postgresql/15/bin),
 * VPB_TEST_PORT (default 28339: the embedded server's port; PostgreSQL 15 takes the next one), so two
 * runs on one machine (two clones, two worktrees) need not collide.
 * Arguments: test files to run (default: every test/**.test.ts).
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbedded } from "../src/db/embedded-server.ts";
import { stopOnSignal } from "../src/db/shutdown.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { startSystemServer } from "./support/debian-server.ts";
import { TEMPLATE_DB, TEST_DB_PREFIX } from "./support/names.ts";

const root = path.resolve(import.meta.dirname, "..");
const dataRoot = path.join(root, ".vpb", "test");
const majors = (process.env.VPB_TEST_MAJORS ?? "17,15").split(",").map((m) => Number(m.trim()));
const pg15Bin = process.env.VPB_TEST_PG15_BIN ?? "/usr/lib/postgresql/15/bin";
const basePort = Number(process.env.VPB_TEST_PORT ?? 28339);
if (!Number.isInteger(basePort) || basePort < 1024 || basePort > 65534) {
  process.stderr.write(
    `VPB_TEST_PORT must be a port number from 1024 to 65534, not ${process.env.VPB_TEST_PORT}\n`,
  );
  process.exit(2);
}

function testFiles(): string[] {
  const args = process.argv.slice(2);
  if (args.length > 0) return args;
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".test.ts")) found.push(path.relative(root, p));
    }
  };
  walk(path.join(root, "test"));
  return found.sort();
}

async function prepareTemplate(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const stale = await admin.query<{ datname: string }>(
      "select datname from pg_database where datname like $1 || '%' or datname = $2",
      [TEST_DB_PREFIX, TEMPLATE_DB],
    );
    for (const { datname } of stale.rows) {
      await admin.query(`alter database ${pg.escapeIdentifier(datname)} is_template false`);
      await admin.query(`drop database ${pg.escapeIdentifier(datname)} with (force)`);
    }
    await admin.query(`create database ${pg.escapeIdentifier(TEMPLATE_DB)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${TEMPLATE_DB}`;
  let bootstrap = "not run";
  const result = await migrateUp({
    ...projectMigratorOptions(url.toString()),
    onProgress: (e) => {
      if (e.kind === "bootstrap") bootstrap = e.result.kind;
    },
  });
  if (result.error) throw result.error;
  const check = new pg.Client({ connectionString: url.toString() });
  await check.connect();
  const { rows } = await check.query("select to_regprocedure('auth.uid()') is not null as ok");
  await check.end();
  if (!rows[0]?.ok) throw new Error(`the template lacks the bootstrap (bootstrap said: ${bootstrap})`);
  const again = new pg.Client({ connectionString: adminUrl });
  await again.connect();
  await again.query(`alter database ${pg.escapeIdentifier(TEMPLATE_DB)} is_template true`);
  await again.end();
}

function runNodeTest(
  files: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ pass: number; fail: number; skipped: number; code: number }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--test",
        "--test-concurrency=2",
        "--test-timeout=300000",
        "--test-reporter=spec",
        ...files,
      ],
      { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk);
      out += chunk.toString("utf8");
    });
    child.on("close", (code) => {
      const count = (label: string) => Number(new RegExp(`^ℹ ${label} (\\d+)$`, "m").exec(out)?.[1] ?? 0);
      resolve({
        pass: count("pass"),
        fail: count("fail") + count("cancelled"),
        skipped: count("skipped") + count("todo"),
        code: code ?? 1,
      });
    });
  });
}

async function main(): Promise<number> {
  const files = testFiles();
  // Every folder a test makes with mkdtemp(os.tmpdir()) lands in this run's own temporary folder,
  // removed at the end: folders a failed test (or a forgetful one) leaves would add up run after run.
  // Mode 1777 as /tmp itself: as root, the servers and commands some tests run as the postgres OS user
  // make their own folders here.
  const tmp = mkdtempSync(path.join(os.tmpdir(), "vpb-test-run-"));
  chmodSync(tmp, 0o1777);
  try {
    return await runAll(files, tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function runAll(files: string[], tmp: string): Promise<number> {
  process.stdout.write(`Node.js ${process.version}, PostgreSQL majors ${majors.join(", ")}\n`);
  let pass = 0;
  let fail = 0;
  let skipped = 0;
  for (const major of majors) {
    let server: { url: string; stop: () => unknown };
    const started = performance.now();
    if (major === 17) {
      const embedded = await startEmbedded({
        dataDir: path.join(dataRoot, "embedded"),
        port: basePort,
        settings: {
          fsync: "off",
          synchronous_commit: "off",
          full_page_writes: "off",
          max_connections: "300",
        },
      });
      server = embedded;
    } else if (major === 15) {
      if (!existsSync(path.join(pg15Bin, "postgres"))) {
        process.stderr.write(
          `PostgreSQL 15 binaries not found in ${pg15Bin}: install Debian's postgresql-15 ` +
            "(apt-get install postgresql-15), set VPB_TEST_PG15_BIN, or run VPB_TEST_MAJORS=17 npm test.\n",
        );
        return 1;
      }
      server = startSystemServer(pg15Bin, dataRoot, basePort + 1);
    } else {
      process.stderr.write(
        `VPB_TEST_MAJORS names ${major}: only 17 (embedded) and 15 (system) are set up.\n`,
      );
      return 1;
    }
    const release = stopOnSignal(async () => server.stop());
    try {
      await prepareTemplate(server.url);
      process.stdout.write(
        `\n=== PostgreSQL ${major}: server and migrated template ready in ${Math.round(performance.now() - started)} ms ===\n`,
      );
      const r = await runNodeTest(files, {
        VPB_TEST_ADMIN_URL: server.url,
        VPB_TEST_MAJOR: String(major),
        TMPDIR: tmp,
      });
      pass += r.pass;
      skipped += r.skipped;
      fail += r.fail + (r.code !== 0 && r.fail === 0 ? 1 : 0);
    } finally {
      release();
      await server.stop();
    }
  }
  process.stdout.write(`\n${pass} passed, ${fail} failed, ${skipped} skipped\n`);
  return fail === 0 ? 0 : 1;
}

process.exit(await main());
