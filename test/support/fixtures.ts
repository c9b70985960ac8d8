import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { MigratorOptions } from "../../src/migrations/migrator.ts";

export interface FixtureMigration {
  up: string;
  down?: string;
}

/** Writes migrations (name -> SQL) to a temporary project; returns options for the migrator. */
export async function fixtureProject(url: string, migrations: Record<string, FixtureMigration>) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vpb-mig-"));
  const migrationsDir = path.join(dir, "migrations");
  const rollbacksDir = path.join(dir, "rollbacks");
  await mkdir(migrationsDir);
  await mkdir(rollbacksDir);
  const options: MigratorOptions = {
    url,
    migrationsDir,
    rollbacksDir,
    lockTimeout: "5000ms",
    statementTimeout: "0ms",
    lockWaitMs: 30_000,
    cwd: dir,
  };
  const write = async (name: string, m: FixtureMigration) => {
    await writeFile(path.join(migrationsDir, `${name}.sql`), m.up);
    if (m.down !== undefined) await writeFile(path.join(rollbacksDir, `${name}.down.sql`), m.down);
  };
  for (const [name, m] of Object.entries(migrations)) await write(name, m);
  return { dir, migrationsDir, rollbacksDir, options, write };
}
