import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { connect } from "../db/target.ts";
import { fromDatabaseError, isVpbError, VpbError } from "../errors.ts";
import { isKey, type StorageDriver } from "../storage/drivers/driver.ts";
import type { TransferProgress } from "./export.ts";
import {
  columnList,
  copyOptions,
  digestQuery,
  EXPORT_FORMAT_VERSION,
  EXPORT_MANIFEST,
  type ExportManifest,
  listTables,
  pinSession,
  type TableInfo,
} from "./export-format.ts";
import { dropIndexes } from "./import-indexes.ts";

export interface ImportOptions {
  url: string;
  /** A folder `exportDatabase` wrote. */
  dir: string;
  driver: StorageDriver;
  /**
   * Called when the database's applied migrations are a strict prefix of the export's: migrate it up
   * to (and including) `name`, so that the rows load into the schema they were exported from.
   */
  migrateTo?: (name: string) => Promise<void>;
  /** How triggers are kept from firing; "auto" takes replica mode when the role may set it. */
  triggers?: "auto" | "replica" | "disable";
  onProgress?: (p: TransferProgress) => void;
}

export interface ImportResult {
  tables: number;
  rows: number;
  files: number;
  bytes: number;
  ms: number;
  /** How triggers were kept from firing during the load. */
  triggerMode: "replica" | "disable";
  /** False when something depended on an index or key, so the rows were loaded with them in place. */
  indexesRebuilt: boolean;
  /** Set when the database was first migrated up to the export's state. */
  migratedTo?: string;
}

/**
 * Loads an export into an empty, migrated database, all rows in one transaction: tables in the
 * manifest's order (parents before children), the monthly partitions recreated first, then every
 * table's row count and digest recomputed in SQL and the storage files written through the driver
 * with their sha256 checked; any difference rolls everything back (and removes the files written)
 * and names each table or file that differs.
 *
 * Triggers (timestamps, owner pins, quotas, cycle checks) would rewrite or refuse rows that are
 * already right, so they do not fire: with `session_replication_role = replica` when the role may set
 * it (a superuser, or granted SET on it), which also skips foreign-key checks (the digests prove the
 * rows); otherwise each user trigger is disabled inside the transaction (ALTER TABLE, which needs the
 * tables' owner: the role that migrated them), foreign keys still checked in load order.
 */
export async function importExport(options: ImportOptions): Promise<ImportResult> {
  const started = performance.now();
  const manifest = await readManifest(options.dir);
  const bytesTotal =
    manifest.tables.reduce((s, t) => s + t.bytes, 0) + manifest.files.reduce((s, f) => s + f.size, 0);
  let bytesDone = 0;
  const progress = (phase: TransferProgress["phase"], item: string, itemsDone: number, itemsTotal: number) =>
    options.onProgress?.({
      phase,
      item,
      itemsDone,
      itemsTotal,
      bytesDone,
      bytesTotal,
      elapsedMs: performance.now() - started,
    });

  const client = await connect(options.url, "vpb-db import");
  const written: string[] = [];
  try {
    await pinSession(client);
    const migratedTo = await matchMigrations(client, manifest, options.migrateTo);
    const targets = await matchTables(client, manifest);
    await refuseNonEmpty(client, targets);

    await client.query("begin");
    await createPartitions(client, manifest);
    if (manifest.tables.some((t) => t.name === "storage.buckets")) {
      // The migrations insert the app's buckets: the export's rows replace them (there are no objects yet).
      await client.query("select set_config('storage.allow_delete_query', 'true', true)");
      await client.query("delete from storage.buckets");
    }
    const rebuild = await withoutIndexes(client, [...targets.keys()]);
    const silenced = await silenceTriggers(client, targets, options.triggers ?? "auto");
    const triggerMode = silenced.mode;

    let rows = 0;
    for (const [i, t] of manifest.tables.entries()) {
      const sql = `copy ${(targets.get(t.name) as TableInfo).name} (${columnList(t.columns)}) from stdin ${copyOptions(manifest.copyFormat)}`;
      const sink = client.query(copyFrom(sql));
      await pipeline(
        createReadStream(path.join(options.dir, t.file)),
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            bytesDone += chunk.length;
            done(null, chunk);
          },
        }),
        sink,
      );
      rows += sink.rowCount;
      progress("tables", t.name, i + 1, manifest.tables.length);
    }
    // Sorting builds them far faster than the load could have filled them; foreign keys validate here.
    await client.query("set local maintenance_work_mem = '256MB'");
    for (const [i, statement] of (rebuild ?? []).entries()) {
      await client.query(statement);
      progress("indexes", `${i + 1} of ${rebuild?.length}`, i + 1, rebuild?.length ?? 0);
    }
    for (const s of manifest.sequences) {
      await client.query("select setval($1::regclass, $2::bigint, $3)", [s.name, s.lastValue, s.isCalled]);
    }

    const mismatches: string[] = [];
    for (const [i, t] of manifest.tables.entries()) {
      const target = targets.get(t.name) as TableInfo;
      const { rows: d } = await client.query<{ rows: string; digest: string }>(
        digestQuery({
          ...target,
          columns: t.columns,
          hashAsText: t.columns.map((c) => target.hashAsText[target.columns.indexOf(c)] ?? true),
        }),
      );
      const got = { rows: Number(d[0]?.rows), digest: d[0]?.digest };
      if (got.rows !== t.rows)
        mismatches.push(`table ${t.name}: ${got.rows} rows loaded, the manifest says ${t.rows}`);
      else if (got.digest !== t.digest)
        mismatches.push(`table ${t.name}: its rows' digest differs from the manifest's`);
      progress("digests", t.name, i + 1, manifest.tables.length);
    }

    const types = await contentTypes(client);
    for (const [i, f] of manifest.files.entries()) {
      const hash = createHash("sha256");
      let size = 0;
      const body = createReadStream(path.join(options.dir, "files", ...f.key.split("/"))).pipe(
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            size += chunk.length;
            bytesDone += chunk.length;
            done(null, chunk);
          },
        }),
      );
      written.push(f.key);
      let tooLarge = false;
      await options.driver
        .put(f.key, body, {
          // One byte over the manifest's size fails the put: a grown file is caught without reading it all.
          maxBytes: f.size,
          contentType: types.get(f.key) ?? "application/octet-stream",
        })
        .catch((e: unknown) => {
          if ((e as { code?: string }).code !== "EntityTooLarge") throw e;
          tooLarge = true;
        });
      if (tooLarge || size !== f.size || hash.digest("hex") !== f.sha256) {
        mismatches.push(`file ${f.key}: its bytes differ from the manifest's size and sha256`);
      }
      progress("files", f.key, i + 1, manifest.files.length);
    }

    if (mismatches.length > 0) {
      throw new VpbError(
        "IMPORT_MISMATCH",
        `The import differs from the export's manifest, so nothing was imported:\n  ${mismatches.join("\n  ")}`,
        "The export was changed or damaged after it was written: import an intact copy, or export again.",
      );
    }
    // Enabled again before the commit: only the load ran without them.
    for (const t of silenced.disabled) await client.query(`alter table ${t.rel} enable trigger ${t.name}`);
    await client.query("commit");
    written.length = 0;
    return {
      tables: manifest.tables.length,
      rows,
      files: manifest.files.length,
      bytes: bytesDone,
      ms: performance.now() - started,
      triggerMode,
      indexesRebuilt: rebuild !== undefined,
      ...(migratedTo ? { migratedTo } : {}),
    };
  } catch (e) {
    await client.query("rollback").catch(() => {});
    if (written.length > 0) await options.driver.delete(written).catch(() => {});
    throw isVpbError(e) ? e : fromDatabaseError("import", e);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function readManifest(dir: string): Promise<ExportManifest> {
  const invalid = (why: string) =>
    new VpbError(
      "EXPORT_INVALID",
      `${dir} is not a complete export: ${why}.`,
      "Point import at a folder `vpb-db export` wrote (it holds manifest.json, tables/ and files/).",
    );
  let manifest: ExportManifest;
  try {
    manifest = JSON.parse(await fs.readFile(path.join(dir, EXPORT_MANIFEST), "utf8")) as ExportManifest;
  } catch {
    throw invalid("manifest.json is missing or is not JSON");
  }
  if (manifest.format !== "vpb-db export") throw invalid("manifest.json is not an export's manifest");
  if (manifest.version !== EXPORT_FORMAT_VERSION) {
    throw invalid(
      `its format version is ${manifest.version}; this vpb-db reads version ${EXPORT_FORMAT_VERSION}`,
    );
  }
  if (manifest.user !== undefined) {
    throw new VpbError(
      "EXPORT_INVALID",
      `${dir} is a per-user export (a data takeout of one user), which leaves out rows other users share with them.`,
      "Import a whole-database export; a takeout is for the user to keep.",
    );
  }
  if (manifest.copyFormat !== "binary" && manifest.copyFormat !== "csv") throw invalid("unknown copy format");
  for (const t of manifest.tables) {
    if (!/^tables\/[A-Za-z0-9_.-]+$/.test(t.file)) throw invalid(`table ${t.name} has a malformed file name`);
    const st = await fs.stat(path.join(dir, t.file)).catch(() => undefined);
    if (!st?.isFile()) throw invalid(`the file of table ${t.name} (${t.file}) is missing`);
  }
  for (const f of manifest.files) {
    if (!isKey(f.key)) throw invalid(`a file has a malformed key`);
    const st = await fs.stat(path.join(dir, "files", ...f.key.split("/"))).catch(() => undefined);
    if (!st?.isFile()) throw invalid(`the file ${f.key} is missing`);
  }
  return manifest;
}

/**
 * The database's applied migrations must be the export's (same names, same checksums): rows load
 * only into the schema they left. A database behind (a strict prefix) is migrated up to the export's
 * last migration first; one ahead, or with other checksums, is refused.
 */
async function matchMigrations(
  client: pg.Client,
  manifest: ExportManifest,
  migrateTo: ImportOptions["migrateTo"],
): Promise<string | undefined> {
  const applied = async () => {
    const { rows: has } = await client.query<{ ok: boolean }>(
      "select to_regclass('vpb_migrate.migrations') is not null as ok",
    );
    if (!has[0]?.ok) return [];
    const { rows } = await client.query<{ name: string; checksum: string }>(
      "select name, checksum from vpb_migrate.migrations order by name",
    );
    return rows;
  };
  const same = (a: { name: string; checksum: string }, b?: { name: string; checksum: string }) =>
    b !== undefined && a.name === b.name && a.checksum === b.checksum;
  const theirs = manifest.migrations;
  let ours = await applied();
  const prefix = ours.length <= theirs.length && ours.every((m, i) => same(m, theirs[i]));
  let migratedTo: string | undefined;
  const last = theirs.at(-1);
  if (prefix && ours.length < theirs.length && migrateTo && last) {
    await migrateTo(last.name);
    migratedTo = last.name;
    ours = await applied();
  }
  if (ours.length !== theirs.length || !ours.every((m, i) => same(m, theirs[i]))) {
    const show = (l: Array<{ name: string }>) => l.at(-1)?.name ?? "none";
    throw new VpbError(
      "IMPORT_MIGRATIONS_MISMATCH",
      `The export was taken at migration ${show(theirs)} (${theirs.length} applied); this database is at ${show(ours)} (${ours.length} applied)${prefix ? "" : ", with migrations the export does not have or with other checksums"}.`,
      prefix
        ? `Migrate this database to ${show(theirs)} first (vpb-db migrate up --to ${show(theirs)}), then import.`
        : `Import into a new database migrated only up to ${show(theirs)} (vpb-db migrate up --to ${show(theirs)}), then run vpb-db migrate up.`,
    );
  }
  return migratedTo;
}

async function matchTables(client: pg.Client, manifest: ExportManifest): Promise<Map<string, TableInfo>> {
  const ours = new Map((await listTables(client)).map((t) => [t.name, t]));
  const targets = new Map<string, TableInfo>();
  for (const t of manifest.tables) {
    const target = ours.get(t.name);
    const cols = new Set(target?.columns ?? []);
    if (!target || t.columns.length !== cols.size || !t.columns.every((c) => cols.has(c))) {
      throw new VpbError(
        "IMPORT_MIGRATIONS_MISMATCH",
        `Table ${t.name} of the export ${target ? "has other columns than" : "does not exist in"} this database, though their migrations match.`,
        "The schema was changed outside the migrations: import into a database built by vpb-db migrate up only.",
      );
    }
    targets.set(t.name, target);
  }
  return targets;
}

async function refuseNonEmpty(client: pg.Client, targets: Map<string, TableInfo>): Promise<void> {
  const full: string[] = [];
  for (const t of targets.values()) {
    // The buckets the migrations create are replaced; any other row means the database is in use.
    if (t.name === "storage.buckets") continue;
    const { rows } = await client.query<{ any: boolean }>(`select exists (select from ${t.name}) as any`);
    if (rows[0]?.any) full.push(t.name);
  }
  if (full.length > 0) {
    throw new VpbError(
      "IMPORT_TARGET_NOT_EMPTY",
      `The database already holds rows in ${full.slice(0, 5).join(", ")}${full.length > 5 ? ` and ${full.length - 5} more tables` : ""}; import loads only into an empty database.`,
      "Create a new database, run vpb-db migrate up on it, and import there.",
    );
  }
}

/** Drops the indexes and keys for the load (see dropIndexes); undefined when something depends on them. */
async function withoutIndexes(client: pg.Client, tables: string[]): Promise<string[] | undefined> {
  await client.query("savepoint before_indexes");
  try {
    const rebuild = await dropIndexes(client, tables);
    await client.query("release savepoint before_indexes");
    return rebuild;
  } catch (e) {
    // 2BP01: another object depends on a key. Anything else is a real failure.
    if ((e as { code?: string }).code !== "2BP01") throw e;
    await client.query("rollback to savepoint before_indexes");
    return undefined;
  }
}

/** Recreates the export's monthly partitions with the app's own function, before any row arrives. */
async function createPartitions(client: pg.Client, manifest: ExportManifest): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>(
    "select to_regprocedure('public.create_monthly_partitions(text, integer, date)') is not null as ok",
  );
  if (!rows[0]?.ok) return;
  for (const p of manifest.partitions) {
    // Only the app's monthly partitions (public.<table>_pYYYYMM) are made by name; rows of any
    // other month land in the default partition, as they would have in the source.
    if (!p.parent.startsWith("public.")) continue;
    const parent = p.parent.slice("public.".length);
    const month = /^(.+)_p(\d{4})(\d{2})$/.exec(p.name);
    if (!month || month[1] !== parent) continue;
    await client.query("select public.create_monthly_partitions($1, 0, $2::date)", [
      parent,
      `${month[2]}-${month[3]}-01`,
    ]);
  }
}

async function silenceTriggers(
  client: pg.Client,
  targets: Map<string, TableInfo>,
  wanted: "auto" | "replica" | "disable",
): Promise<{ mode: "replica" | "disable"; disabled: Array<{ rel: string; name: string }> }> {
  if (wanted !== "disable") {
    const { rows } = await client.query<{ may: boolean }>(
      "select has_parameter_privilege('session_replication_role', 'SET') as may",
    );
    if (rows[0]?.may) {
      await client.query("set local session_replication_role = replica");
      return { mode: "replica", disabled: [] };
    }
    if (wanted === "replica") {
      throw new VpbError(
        "EXPORT_PRIVILEGES",
        "This role may not set session_replication_role.",
        "Import with triggers disabled per table (the default), or grant SET on session_replication_role.",
      );
    }
  }
  const disabled = await enabledTriggers(client, targets);
  for (const t of disabled) await client.query(`alter table ${t.rel} disable trigger ${t.name}`);
  return { mode: "disable", disabled };
}

/** The enabled user triggers (not foreign-key ones) of these tables and their partitions. */
async function enabledTriggers(
  client: pg.Client,
  targets: Map<string, TableInfo>,
): Promise<Array<{ rel: string; name: string }>> {
  const { rows } = await client.query<{ rel: string; name: string }>(
    `select t.tgrelid::regclass::text as rel, quote_ident(t.tgname) as name
       from pg_trigger t
      where not t.tgisinternal and t.tgenabled = 'O'
        and (t.tgrelid = any(select unnest($1::text[])::regclass)
             or t.tgrelid in (select inhrelid from pg_inherits where inhparent = any(select unnest($1::text[])::regclass)))
      order by 1, 2`,
    [[...targets.keys()]],
  );
  return rows;
}

async function contentTypes(client: pg.Client): Promise<Map<string, string>> {
  const { rows: has } = await client.query<{ ok: boolean }>(
    "select to_regclass('storage.objects') is not null as ok",
  );
  if (!has[0]?.ok) return new Map();
  const { rows } = await client.query<{ key: string; type: string | null }>(
    "select bucket_id || '/' || version as key, metadata->>'mimetype' as type from storage.objects where version is not null",
  );
  return new Map(rows.flatMap((r) => (r.type ? [[r.key, r.type]] : [])));
}
