import { randomBytes } from "node:crypto";
import path from "node:path";
import { after, afterEach } from "node:test";
import pg from "pg";
import { TEMPLATE_DB, TEST_DB_PREFIX } from "./names.ts";

/** Set by test/run.ts: a superuser connection to the server under test. */
export const ADMIN_URL = requireEnv("VPB_TEST_ADMIN_URL");
export const MAJOR = Number(requireEnv("VPB_TEST_MAJOR"));
export const ROOT = path.resolve(import.meta.dirname, "..", "..");

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: run the suite with \`npm test\`, which starts the servers.`);
  return value;
}

const created: string[] = [];
const clients: pg.Client[] = [];
let failed = false;

afterEach((t) => {
  // TestContext.passed exists since Node 20.12; @types/node 20 does not declare it yet.
  if (!(t as unknown as { passed: boolean }).passed) failed = true;
});

after(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => {})));
  if (failed) {
    process.stderr.write(`kept for inspection: ${created.join(", ")} on ${new URL(ADMIN_URL).host}\n`);
    return;
  }
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  for (const name of created)
    await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  await admin.end();
});

export function urlFor(database: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDatabase {
  name: string;
  url: string;
}

/**
 * A database of this test file's own: a clone of the migrated template, or empty (no bootstrap, no
 * migrations). Dropped after the file passes, kept when a test in it fails.
 */
export async function createDatabase(kind: "migrated" | "empty" = "migrated"): Promise<TestDatabase> {
  const file = path
    .basename(process.argv[1] ?? "test", ".test.ts")
    .replace(/[^a-z0-9]/gi, "_")
    .toLowerCase();
  const name = `${TEST_DB_PREFIX}${file.slice(0, 30)}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const template = kind === "migrated" ? TEMPLATE_DB : "template0";
    await admin.query(
      `create database ${pg.escapeIdentifier(name)} template ${pg.escapeIdentifier(template)}`,
    );
  } finally {
    await admin.end();
  }
  created.push(name);
  return { name, url: urlFor(name) };
}

/** A connected client, closed after the file. */
export async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  // An idle client's error (its backend ended) fails the next query on it, not the whole file.
  c.on("error", () => {});
  await c.connect();
  clients.push(c);
  return c;
}
