import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { VpbError } from "../errors.ts";

/** `001_auth_tables.sql`: a number of at least three digits, then a lower-case snake_case name. */
export const MIGRATION_FILE = /^(\d{3,})_([a-z0-9][a-z0-9_]*)\.sql$/;
/** First-line directive for the rare statement that cannot run in a transaction. */
export const NO_TRANSACTION_DIRECTIVE = /^--\s*vpb:no-transaction\s*$/m;

export interface Script {
  /** Path relative to the working directory, for messages (`database/migrations/001_x.sql`). */
  file: string;
  sql: string;
  noTransaction: boolean;
}

export interface Migration extends Script {
  number: number;
  /** The tracking key: the file name without `.sql`. */
  name: string;
  /** sha256 of the line-ending-normalised text. */
  checksum: string;
  rollback: Script | undefined;
}

/** sha256 hex of the text with CRLF/CR turned into LF and a leading BOM removed. */
export function checksum(sql: string): string {
  const normalised = sql.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  return createHash("sha256").update(normalised, "utf8").digest("hex");
}

async function readScript(fullPath: string, cwd: string): Promise<Script> {
  const sql = await readFile(fullPath, "utf8");
  const firstLines = sql.split("\n", 3).join("\n");
  return {
    file: path.relative(cwd, fullPath) || fullPath,
    sql,
    noTransaction: NO_TRANSACTION_DIRECTIVE.test(firstLines),
  };
}

async function listSql(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isFile() && d.name.endsWith(".sql"))
      .map((d) => d.name)
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

/** The rollback script of `NNN_name.sql` is `NNN_name.down.sql` in the rollbacks folder. */
export function rollbackFileName(name: string): string {
  return `${name}.down.sql`;
}

/**
 * Reads the forward migrations and their rollbacks, sorted by number. Rollbacks live in their own
 * folder so that no tool that globs the migrations folder takes one for a forward migration.
 */
export async function readMigrations(migrationsDir: string, rollbacksDir: string, cwd = process.cwd()) {
  const names = await listSql(migrationsDir);
  const bad = names.filter((n) => !MIGRATION_FILE.test(n));
  if (bad.length > 0) {
    throw new VpbError(
      "MIGRATION_NAME_INVALID",
      `Not a migration file name: ${bad.join(", ")} (in ${path.relative(cwd, migrationsDir) || migrationsDir})`,
      "Name forward migrations NNN_name.sql (three or more digits, lower-case snake_case name).",
    );
  }
  const rollbackNames = new Set(await listSql(rollbacksDir));
  const migrations: Migration[] = [];
  for (const fileName of names) {
    const m = MIGRATION_FILE.exec(fileName) as RegExpExecArray;
    const name = fileName.slice(0, -".sql".length);
    const script = await readScript(path.join(migrationsDir, fileName), cwd);
    const rollbackName = rollbackFileName(name);
    migrations.push({
      ...script,
      number: Number(m[1]),
      name,
      checksum: checksum(script.sql),
      rollback: rollbackNames.has(rollbackName)
        ? await readScript(path.join(rollbacksDir, rollbackName), cwd)
        : undefined,
    });
  }
  // By number, not by name: `1000_x` comes after `999_y`.
  migrations.sort((a, b) => a.number - b.number || a.name.localeCompare(b.name));
  for (let i = 1; i < migrations.length; i++) {
    const [a, b] = [migrations[i - 1] as Migration, migrations[i] as Migration];
    if (a.number === b.number) {
      throw new VpbError(
        "MIGRATION_DUPLICATE_NUMBER",
        `${a.file} and ${b.file} share the number ${a.number}.`,
        "Renumber one of them; numbers order the migrations and must be unique.",
      );
    }
  }
  return migrations;
}

/**
 * An app's own migrations live in their own namespace: tracked as `app/NNN_name`, numbered after
 * every migration of vpb-db (APP_NUMBER_BASE + NNN), so the two sequences never collide, ours run
 * first in a run, and a new vpb-db migration is not "out of order" behind an app's (each namespace
 * is ordered on its own).
 */
export const APP_PREFIX = "app/";
export const APP_NUMBER_BASE = 1_000_000;

export function namespaceOf(name: string): "vpb" | "app" {
  return name.startsWith(APP_PREFIX) ? "app" : "vpb";
}

async function requireFolder(dir: string, variable: string, cwd: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new VpbError(
      "CONFIG_INVALID",
      `The migrations folder ${path.relative(cwd, dir) || dir} (${variable}) does not exist or is not a folder.`,
      variable === "VPB_APP_MIGRATIONS_DIR"
        ? "Create it (`vpb-db migrate new <name>` does), or unset VPB_APP_MIGRATIONS_DIR."
        : "Unset VPB_MIGRATIONS_DIR to use the installed package's migrations, or point it at a folder that exists.",
    );
  }
}

/** vpb-db's migrations, then the app's (if a folder is given): both folders must exist. */
export async function readMigrationSets(
  dirs: {
    migrationsDir: string;
    rollbacksDir: string;
    appMigrationsDir?: string | undefined;
    appRollbacksDir?: string | undefined;
  },
  cwd = process.cwd(),
): Promise<Migration[]> {
  await requireFolder(dirs.migrationsDir, "VPB_MIGRATIONS_DIR", cwd);
  const ours = await readMigrations(dirs.migrationsDir, dirs.rollbacksDir, cwd);
  if (dirs.appMigrationsDir === undefined) return ours;
  await requireFolder(dirs.appMigrationsDir, "VPB_APP_MIGRATIONS_DIR", cwd);
  const rollbacks = dirs.appRollbacksDir ?? path.join(path.dirname(dirs.appMigrationsDir), "rollbacks");
  const apps = await readMigrations(dirs.appMigrationsDir, rollbacks, cwd);
  const tooBig = apps.find((m) => m.number >= APP_NUMBER_BASE);
  if (tooBig) {
    throw new VpbError(
      "MIGRATION_NAME_INVALID",
      `${tooBig.file}: an app migration's number must be below ${APP_NUMBER_BASE}.`,
      "Renumber it with fewer digits.",
    );
  }
  return [
    ...ours,
    ...apps.map((m) => ({ ...m, name: `${APP_PREFIX}${m.name}`, number: APP_NUMBER_BASE + m.number })),
  ];
}
