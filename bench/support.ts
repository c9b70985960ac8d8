/** What every benchmark script shares: the repository root, progress lines, medians, and its BENCHMARKS.md section. */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { type SeedOptions, seed } from "../src/dev/seed.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";

export const root = path.resolve(import.meta.dirname, "..");

/** Progress goes to stderr; stdout carries the section. */
export const log = (line: string) => process.stderr.write(`${line}\n`);

export interface Stat {
  median: number;
  min: number;
  max: number;
}

export function stat(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s.at(-1) as number };
}

export const median = (samples: number[]) => stat(samples).median;

const HEADER =
  "# Benchmarks\n\nEach section is rewritten by its script. Times are medians of several runs, with their spread; ratios compare measures taken side by side in the same run.\n";

/**
 * Replaces the section of BENCHMARKS.md that starts with `heading` (up to the next `## `) by `section`,
 * or adds it at the end: each script owns its section, the prose between them is kept.
 */
export async function writeSection(heading: string, section: string): Promise<void> {
  const file = path.join(root, "BENCHMARKS.md");
  let text = await readFile(file, "utf8").catch(() => HEADER);
  const body = `${section.trimEnd()}\n`;
  const start = text.indexOf(heading);
  if (start === -1) text = `${text.trimEnd()}\n\n${body}`;
  else {
    const next = text.indexOf("\n## ", start + 1);
    text = text.slice(0, start) + body + (next === -1 ? "" : text.slice(next));
  }
  await writeFile(file, `${text.trimEnd()}\n`);
}

/**
 * The URL of database `name` on the server at `url`, migrated and seeded with `options`: made once and
 * reused while its comment is `marker` (seeding scale 1 takes minutes); migrations written since it was
 * seeded are applied to it.
 */
export async function seededDatabase(
  url: string,
  name: string,
  marker: string,
  options: Omit<SeedOptions, "onProgress">,
): Promise<string> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rows } = await admin.query(
      "select shobj_description(oid, 'pg_database') as note from pg_database where datname = $1",
      [name],
    );
    const dbUrl = new URL(url);
    dbUrl.pathname = `/${name}`;
    const fresh = rows[0]?.note !== marker;
    if (fresh) {
      await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
      await admin.query(`create database ${pg.escapeIdentifier(name)}`);
    }
    const up = await migrateUp(projectMigratorOptions(dbUrl.toString()));
    if (up.error) throw up.error;
    if (fresh) {
      const pool = new pg.Pool({ connectionString: dbUrl.toString(), max: 2 });
      const t = performance.now();
      log(`seeding scale ${options.scale}…`);
      await seed(pool, {
        ...options,
        onProgress: (step, took) => log(`  ${step}: ${(took / 1000).toFixed(1)} s`),
      });
      log(`seeded in ${((performance.now() - t) / 1000).toFixed(0)} s`);
      await pool.end();
      await admin.query(`comment on database ${pg.escapeIdentifier(name)} is ${pg.escapeLiteral(marker)}`);
    } else {
      log(
        `reusing ${name} (${up.results.filter((r) => r.status === "Success").length} migration(s) applied)`,
      );
    }
    return dbUrl.toString();
  } finally {
    await admin.end();
  }
}
