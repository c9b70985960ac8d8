import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { VpbError } from "../../errors.ts";
import { readMigrations, rollbackFileName } from "../../migrations/migration-files.ts";
import { loadConfig } from "../context.ts";

/** Creates the next-numbered forward migration and its rollback script; returns their paths. */
export async function newMigration(
  migrationsDir: string,
  rollbacksDir: string,
  name: string,
): Promise<{ forward: string; rollback: string }> {
  if (!/^[a-z0-9][a-z0-9_]*$/.test(name)) {
    throw new VpbError(
      "INVALID_ARGUMENT",
      `Migration name "${name}" is not lower-case snake_case.`,
      "Use letters, digits and underscores, e.g. add_project_tags.",
    );
  }
  const existing = await readMigrations(migrationsDir, rollbacksDir);
  const next = (existing.at(-1)?.number ?? 0) + 1;
  const base = `${String(next).padStart(3, "0")}_${name}`;
  const forward = path.join(migrationsDir, `${base}.sql`);
  const rollback = path.join(rollbacksDir, rollbackFileName(base));
  await mkdir(migrationsDir, { recursive: true });
  await mkdir(rollbacksDir, { recursive: true });
  // "wx": never overwrite a file that appeared meanwhile.
  await writeFile(forward, `-- ${base}: describe what this migration does and why.\n\n`, { flag: "wx" });
  await writeFile(rollback, `-- Rollback of ${base}: undo exactly what ${base}.sql does.\n\n`, {
    flag: "wx",
  });
  return { forward, rollback };
}

export function register(migrate: Command): void {
  migrate
    .command("new")
    .description("create the next numbered migration and its rollback script")
    .argument("<name>", "lower-case snake_case name, e.g. add_project_tags")
    .action(async (name: string) => {
      const config = loadConfig();
      // From an app (VPB_APP_MIGRATIONS_DIR set), new migrations are the app's.
      const files = config.appMigrationsDir
        ? await newMigration(config.appMigrationsDir, config.appRollbacksDir as string, name)
        : await newMigration(config.migrationsDir, config.rollbacksDir, name);
      process.stdout.write(
        `created ${path.relative(process.cwd(), files.forward)}\ncreated ${path.relative(process.cwd(), files.rollback)}\n`,
      );
    });
}
