import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { connect } from "../db/target.ts";
import { fromDatabaseError, isVpbError, VpbError } from "../errors.ts";
import type { StorageDriver } from "../storage/drivers/driver.ts";
import {
  type CopyFormat,
  columnList,
  copyOptions,
  digestQuery,
  EXPORT_FORMAT_VERSION,
  EXPORT_MANIFEST,
  type ExportedFile,
  type ExportedTable,
  type ExportManifest,
  listTables,
  pinSession,
  type TableInfo,
  tableFile,
} from "./export-format.ts";
import { USER_SCOPE } from "./export-user-scope.ts";

/** Where a long export or import stands: enough for a progress line with a rate and an ETA. */
export interface TransferProgress {
  phase: "tables" | "files" | "digests" | "indexes";
  /** The table or file just finished. */
  item: string;
  itemsDone: number;
  itemsTotal: number;
  bytesDone: number;
  /** An estimate for an export (the tables' size on disk), exact for an import. */
  bytesTotal: number;
  elapsedMs: number;
}

export interface ExportOptions {
  url: string;
  /** The folder to create; it must not exist. */
  out: string;
  driver: StorageDriver;
  format?: CopyFormat;
  /** Export only this user's rows and files (see USER_SCOPE). */
  user?: string;
  onProgress?: (p: TransferProgress) => void;
}

export interface ExportResult {
  out: string;
  manifest: ExportManifest;
  bytes: number;
  ms: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A per-user export's user: a UUID (it goes into COPY as a literal), refused otherwise. */
export function checkUserId(user: string): void {
  if (!UUID.test(user)) {
    throw new VpbError(
      "INVALID_ARGUMENT",
      "--user must be a user's id (a UUID).",
      "Pass the id of a row of public.users.",
    );
  }
}

/**
 * Writes every table of the app's schemas with COPY, the storage objects' files and a manifest (per
 * table its rows and digest, per file its size and sha256) to a new folder, from one snapshot: two
 * REPEATABLE READ READ ONLY transactions share it (pg_export_snapshot), one streaming COPY while the
 * other computes the digests, so the digests cost little extra time. Everything is written into a
 * sibling `.partial-*` folder, fsynced, and renamed to `out` only when complete: a failed or killed
 * export leaves no folder that looks like an export.
 *
 * The role needs SELECT on the tables and BYPASSRLS (every table forces RLS; row_security is off, so a
 * policy that would hide rows is an error, never a silent gap); no superuser-only feature is used.
 */
export async function exportDatabase(options: ExportOptions): Promise<ExportResult> {
  const format = options.format ?? "binary";
  if (options.user !== undefined) checkUserId(options.user);
  const out = path.resolve(options.out);
  if (await exists(out)) {
    throw new VpbError(
      "EXPORT_TARGET_EXISTS",
      `The export folder ${out} already exists: an export never writes into an existing folder.`,
      "Choose a new folder with --out, or move the old one away.",
    );
  }
  await fs.mkdir(path.dirname(out), { recursive: true });
  const tmp = path.join(
    path.dirname(out),
    `.${path.basename(out)}.partial-${randomBytes(4).toString("hex")}`,
  );
  await fs.mkdir(path.join(tmp, "tables"), { recursive: true, mode: 0o700 });
  const started = performance.now();
  const copier = await connect(options.url, "vpb-db export");
  let digester: pg.Client | undefined;
  try {
    await pinSession(copier);
    await copier.query("begin isolation level repeatable read, read only");
    const { rows: snap } = await copier.query<{ id: string; server: string }>(
      "select pg_export_snapshot() as id, current_setting('server_version') as server",
    );
    digester = await connect(options.url, "vpb-db export digests");
    await pinSession(digester);
    await digester.query("begin isolation level repeatable read, read only");
    await digester.query(`set transaction snapshot '${snap[0]?.id ?? ""}'`);

    const tables = scopeTables(await listTables(copier), options.user);
    if (options.user !== undefined) {
      const { rows } = await copier.query("select 1 from public.users where id = $1", [options.user]);
      if (rows.length === 0) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "--user names no user of this database.",
          "Check the id against public.users.",
        );
      }
    }
    const params = options.user !== undefined ? [options.user] : [];
    const bytesTotal = await estimateBytes(copier, tables);
    let bytesDone = 0;
    const progress = (
      phase: TransferProgress["phase"],
      item: string,
      itemsDone: number,
      itemsTotal: number,
    ) =>
      options.onProgress?.({
        phase,
        item,
        itemsDone,
        itemsTotal,
        bytesDone,
        bytesTotal,
        elapsedMs: performance.now() - started,
      });

    // The digests run beside the copies, on the other connection of the same snapshot.
    const digests = (async () => {
      const result = new Map<string, { rows: number; digest: string }>();
      for (const t of tables) {
        const { rows } = await (digester as pg.Client).query<{ rows: string; digest: string }>(
          digestQuery(t, t.where ? `where ${t.where}` : ""),
          params,
        );
        result.set(t.name, { rows: Number(rows[0]?.rows), digest: rows[0]?.digest ?? "" });
      }
      return result;
    })();
    // Keep an early digest failure from going unhandled while the copies run.
    digests.catch(() => {});

    const exported: ExportedTable[] = [];
    for (const [i, t] of tables.entries()) {
      const file = tableFile(t, format);
      const source =
        t.partitioned || t.where
          ? `(select ${columnList(t.columns)} from ${t.name}${t.where ? ` where ${t.where.replaceAll("$1", literal(options.user ?? ""))}` : ""})`
          : `${t.name} (${columnList(t.columns)})`;
      const stream = copier.query(copyTo(`copy ${source} to stdout ${copyOptions(format)}`));
      let bytes = 0;
      await pipeline(
        stream,
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            bytes += chunk.length;
            bytesDone += chunk.length;
            done(null, chunk);
          },
        }),
        createWriteStream(path.join(tmp, file), { mode: 0o600 }),
      );
      await fsyncFile(path.join(tmp, file));
      exported.push({
        name: t.name,
        schema: t.schema,
        table: t.table,
        file,
        columns: t.columns,
        rows: stream.rowCount,
        digest: "",
        bytes,
      });
      progress("tables", t.name, i + 1, tables.length);
    }
    const digestByTable = await digests;
    for (const e of exported) {
      const d = digestByTable.get(e.name);
      // Both counts come from the same snapshot: a difference would be a defect, never a race.
      if (!d || d.rows !== e.rows) {
        throw new Error(
          `export: ${e.name} copied ${e.rows} rows but counted ${d?.rows} in the same snapshot`,
        );
      }
      e.digest = d.digest;
    }

    const { files, missing } = await exportFiles(copier, options, tmp, tables, (key, size, done, total) => {
      bytesDone += size;
      progress("files", key, done, total);
    });
    const manifest: ExportManifest = {
      format: "vpb-db export",
      version: EXPORT_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      server: snap[0]?.server ?? "",
      copyFormat: format,
      ...(options.user !== undefined ? { user: options.user } : {}),
      migrations: await migrationState(copier),
      partitions: await partitionsOf(copier, tables),
      sequences: options.user !== undefined ? [] : await sequencesOf(copier),
      tables: exported,
      files,
      missingFiles: missing,
    };
    await copier.query("commit");
    await digester.query("commit");
    const manifestPath = path.join(tmp, EXPORT_MANIFEST);
    await fs.writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    await fsyncFile(manifestPath);
    await fsyncTree(tmp);
    await fs.rename(tmp, out);
    await fsyncFile(path.dirname(out));
    return { out, manifest, bytes: bytesDone, ms: performance.now() - started };
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw exportError(e);
  } finally {
    await copier.end().catch(() => {});
    await digester?.end().catch(() => {});
  }
}

type ScopedTable = TableInfo & { where?: string };

function scopeTables(tables: TableInfo[], user: string | undefined): ScopedTable[] {
  if (user === undefined) return tables;
  return tables.flatMap((t) => {
    const scope = USER_SCOPE[t.name];
    if (!scope) return [];
    const keep = t.columns.map((c) => !scope.omit?.includes(c));
    return [
      {
        ...t,
        columns: t.columns.filter((_, i) => keep[i]),
        hashAsText: t.hashAsText.filter((_, i) => keep[i]),
        where: scope.where,
      },
    ];
  });
}

/** COPY takes no parameters: the user id (checked to be a UUID) goes in as a literal. */
function literal(uuid: string): string {
  if (!UUID.test(uuid)) throw new Error("export: not a UUID");
  return `'${uuid}'::uuid`;
}

async function estimateBytes(client: pg.Client, tables: TableInfo[]): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>(
    `select coalesce(sum(pg_relation_size(c.oid)), 0)::bigint::text as bytes
       from pg_class c
      where c.oid = any(select unnest($1::text[])::regclass)
         or c.oid in (select inhrelid from pg_inherits where inhparent = any(select unnest($1::text[])::regclass))`,
    [tables.map((t) => t.name)],
  );
  return Number(rows[0]?.bytes ?? 0);
}

async function migrationState(client: pg.Client): Promise<ExportManifest["migrations"]> {
  const { rows: has } = await client.query<{ ok: boolean }>(
    "select to_regclass('vpb_migrate.migrations') is not null as ok",
  );
  if (!has[0]?.ok) return [];
  const { rows } = await client.query<{ name: string; checksum: string }>(
    "select name, checksum from vpb_migrate.migrations order by name",
  );
  return rows;
}

async function partitionsOf(client: pg.Client, tables: TableInfo[]): Promise<ExportManifest["partitions"]> {
  const parents = tables.filter((t) => t.partitioned).map((t) => t.name);
  const { rows } = await client.query<{ parent: string; name: string }>(
    `select format('%s.%s', pn.nspname, p.relname) as parent, c.relname as name
       from pg_inherits i join pg_class c on c.oid = i.inhrelid
       join pg_class p on p.oid = i.inhparent join pg_namespace pn on pn.oid = p.relnamespace
      where i.inhparent = any(select unnest($1::text[])::regclass)
      order by 1, 2`,
    [parents],
  );
  return rows;
}

async function sequencesOf(client: pg.Client): Promise<ExportManifest["sequences"]> {
  const { rows } = await client.query<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'S' and n.nspname in ('public', 'private') order by 1`,
  );
  const out: ExportManifest["sequences"] = [];
  for (const { name } of rows) {
    const { rows: v } = await client.query<{ last: string; called: boolean }>(
      `select last_value::text as last, is_called as called from ${name}`,
    );
    out.push({ name, lastValue: v[0]?.last ?? "1", isCalled: v[0]?.called ?? false });
  }
  return out;
}

/** Copies the files the exported storage.objects rows name, through the driver, four at a time. */
async function exportFiles(
  client: pg.Client,
  options: ExportOptions,
  tmp: string,
  tables: ScopedTable[],
  onFile: (key: string, size: number, done: number, total: number) => void,
): Promise<{ files: ExportedFile[]; missing: string[] }> {
  const objects = tables.find((t) => t.name === "storage.objects");
  if (!objects) return { files: [], missing: [] };
  const { rows } = await client.query<{ key: string }>(
    `select bucket_id || '/' || version as key from storage.objects
      where version is not null ${objects.where ? `and ${objects.where}` : ""} order by 1`,
    options.user !== undefined ? [options.user] : [],
  );
  const files: ExportedFile[] = [];
  const missing: string[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < rows.length) {
      const key = rows[next++]?.key ?? "";
      const body = await options.driver.get(key);
      if (!body) {
        missing.push(key);
        continue;
      }
      const file = path.join(tmp, "files", ...key.split("/"));
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const hash = createHash("sha256");
      let size = 0;
      await pipeline(
        body,
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        }),
        createWriteStream(file, { mode: 0o600 }),
      );
      await fsyncFile(file);
      files.push({ key, size, sha256: hash.digest("hex") });
      onFile(key, size, ++done, rows.length);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  files.sort((a, b) => (a.key < b.key ? -1 : 1));
  missing.sort();
  return { files, missing };
}

function exportError(e: unknown): unknown {
  if (isVpbError(e)) return e;
  const code = (e as { code?: string }).code;
  if (code === "42501") {
    return new VpbError(
      "EXPORT_PRIVILEGES",
      `The role may not read every table as a whole: ${(e as Error).message}.`,
      "Export with a role that has SELECT on the app's tables and BYPASSRLS (on Supabase: postgres).",
      { cause: e },
    );
  }
  if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return fromDatabaseError("export", e);
  return e;
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

export async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.open(file, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Fsyncs every folder under `root` (their entries), the files having been fsynced as written. */
async function fsyncTree(root: string): Promise<void> {
  for (const entry of await fs.readdir(root, { withFileTypes: true })) {
    if (entry.isDirectory()) await fsyncTree(path.join(root, entry.name));
  }
  await fsyncFile(root);
}
