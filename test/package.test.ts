import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { createDatabase, MAJOR, ROOT } from "./support/harness.ts";

const run = promisify(execFile);
const work = await mkdtemp(path.join(os.tmpdir(), "vpb-pack-"));
after(() => rm(work, { recursive: true, force: true }));

// npm, npx and the package's bin (`#!/usr/bin/env node`) all run on the Node that runs this suite
// (CI runs it on Node 20 and again on Node 24).
const env = {
  ...process.env,
  PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`,
  npm_config_update_notifier: "false",
};
const sh = (cmd: string, args: string[], cwd: string, extra: Record<string, string> = {}) =>
  run(cmd, args, { cwd, env: { ...env, ...extra }, maxBuffer: 16 * 1024 * 1024 });

// The package is the same whatever the server: once, on the embedded 17.
const once = { skip: MAJOR !== 17 ? "the package is tested on PostgreSQL 17" : false };

test(
  "the packed tarball installs into a fresh app, whose CLI migrates and whose SDK works",
  once,
  async () => {
    // `npm test` has just built dist/ (pretest), which is what prepack does for a publish: packing
    // without scripts saves building twice more (prepare and prepack) here.
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8"));
    assert.equal(pkg.scripts.prepack, "npm run build");
    assert.equal(pkg.private, undefined, "publishable");
    const packed = await sh("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], ROOT);
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    assert.ok(info);
    const files = info.files.map((f) => f.path);
    for (const needed of [
      "dist/src/cli/main.js",
      "dist/src/sdk/index.js",
      "dist/src/sdk/index.d.ts",
      "dist/src/auth/adapter.d.ts",
      "dist/database/types/database.types.d.ts",
      "database/migrations/001_auth_tables.sql",
      "database/rollbacks/001_auth_tables.down.sql",
      "database/bootstrap/supabase-compat.sql",
      "README.md",
      // database/README.md shows it: a page that links it must not meet a missing picture.
      "database/images/dashboard.png",
    ]) {
      assert.ok(files.includes(needed), `the tarball lacks ${needed}`);
    }
    const outside = files.filter((f) => /^(test|bench|scripts|src)\//.test(f) || f.startsWith(".ci/"));
    assert.deepEqual(outside, [], "tests, benchmarks, scripts and TypeScript sources stay out");

    const app = path.join(work, "app");
    await sh("mkdir", ["-p", app], work);
    await writeFile(
      path.join(app, "package.json"),
      `${JSON.stringify({ name: "demo-app", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
    );
    // The dependencies are in npm's cache since `npm ci`: no network needed.
    await sh(
      "npm",
      ["install", path.join(work, info.filename), "--prefer-offline", "--no-audit", "--no-fund"],
      app,
    );
    const manifest = JSON.parse(await readFile(path.join(app, "node_modules/vpb-db/package.json"), "utf8"));
    for (const entry of Object.values(manifest.exports) as Array<
      string | { types: string; default: string }
    >) {
      if (typeof entry === "string") continue;
      assert.ok(existsSync(path.join(app, "node_modules/vpb-db", entry.types)), entry.types);
      assert.ok(existsSync(path.join(app, "node_modules/vpb-db", entry.default)), entry.default);
    }

    // From the app folder, which has no database/migrations of its own: the package's migrations.
    const db = await createDatabase("empty");
    const dbEnv = { DATABASE_URL: db.url };
    const up = await sh("npx", ["--no", "vpb-db", "migrate", "up"], app, dbEnv);
    assert.match(up.stderr + up.stdout, /001_auth_tables/);
    const status = await sh("npx", ["--no", "vpb-db", "migrate", "status", "--json"], app, dbEnv);
    const report = JSON.parse(status.stdout) as { applied: unknown[]; pending: unknown[] };
    assert.ok(report.applied.length >= 8, `applied: ${report.applied.length}`);
    assert.deepEqual(report.pending, []);

    await writeFile(
      path.join(app, "main.mjs"),
      `import { createDb } from "vpb-db/sdk";
import { VpbAdapter } from "vpb-db/auth-adapter";
import { ERROR_CODES } from "vpb-db";
if (typeof VpbAdapter !== "function" || !ERROR_CODES.INVALID_INPUT) throw new Error("exports");
const db = createDb({ connectionString: process.env.DATABASE_URL });
try {
  const user = await db.asService().users.create({ email: "app@example.com", name: "App" });
  const me = db.asUser(user.id);
  await me.projects.create({ name: "From the app" });
  const page = await me.projects.list();
  console.log(JSON.stringify({ user: (await me.users.get()).email, projects: page.items.map((p) => p.name) }));
} finally {
  await db.close();
}
`,
    );
    const sdk = await sh(process.execPath, ["main.mjs"], app, dbEnv);
    assert.deepEqual(JSON.parse(sdk.stdout), { user: "app@example.com", projects: ["From the app"] });

    // The exports' types resolve in a TypeScript app: a wrong argument is an error, so they are not `any`.
    await writeFile(
      path.join(app, "typed.ts"),
      `import { createDb, type Project } from "vpb-db/sdk";
import { VpbAdapter } from "vpb-db/auth-adapter";
import { type ErrorCode, migrateUp } from "vpb-db";
const db = createDb({ connectionString: "postgres://localhost/app", prepare: "auto" });
const me = db.asUser("00000000-0000-0000-0000-000000000000");
export const created: Promise<Project> = me.projects.create({ name: "x" });
// @ts-expect-error name must be a string
export const wrong = me.projects.create({ name: 1 });
export const code: ErrorCode = "SCHEMA_MISSING";
// The app's own SQL is typed by pg's types, which come with vpb-db: a number is no query.
// @ts-expect-error the query text must be a string or a query config
export const raw = db.asService().transaction((tx) => tx.query(42));
export { migrateUp, VpbAdapter };
`,
    );
    const compilerOptions = {
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    };
    await writeFile(
      path.join(app, "tsconfig.json"),
      JSON.stringify({ compilerOptions, files: ["typed.ts"] }),
    );
    await sh(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."], app);

    // `npx vpb-db start --once` in the app: the embedded server from the app's own node_modules (its
    // install script not approved, as npm 11 leaves it by default), the package's migrations applied
    // in the app's data folder, and the server stopped again.
    if (process.getuid?.() === 0) await chmod(work, 0o711); // as root, PostgreSQL runs as `postgres`
    const dataDir = path.join(app, ".vpb");
    const started = await sh("npx", ["--no", "vpb-db", "start", "--once"], app, {
      DATABASE_URL: "",
      VPB_DATA_DIR: dataDir,
      VPB_PG_PORT: String(21000 + Math.floor(Math.random() * 4000)),
    });
    const migrations = (await readdir(path.join(ROOT, "database/migrations"))).filter((f) =>
      f.endsWith(".sql"),
    );
    const said = started.stderr + started.stdout;
    assert.match(said, new RegExp(`applied: ${migrations.length} of ${migrations.length}`));
    assert.match(said, /ready in \d+ ms: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres/);
    assert.equal(existsSync(path.join(dataDir, "pg17", "PG_VERSION")), true);
    assert.equal(existsSync(path.join(dataDir, "pg17", "postmaster.pid")), false, "the server is stopped");
  },
);
