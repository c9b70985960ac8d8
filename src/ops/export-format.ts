import { createHash } from "node:crypto";
import type pg from "pg";
import { VpbError } from "../errors.ts";

/**
 * The logical export's layout: `manifest.json`, `tables/<schema>.<table>.<bin|csv>` (one COPY stream
 * per table, partitioned tables through their parents) and `files/<bucket>/<version>` (the storage
 * objects' bytes, named by their driver key). Version 1.
 */
export const EXPORT_FORMAT_VERSION = 1;
export const EXPORT_MANIFEST = "manifest.json";

export type CopyFormat = "binary" | "csv";

export interface ExportedTable {
  /** Schema-qualified, quoted as PostgreSQL prints it (`public.users`, `storage.objects`). */
  name: string;
  schema: string;
  table: string;
  /** The file under `tables/`. */
  file: string;
  /** Columns in the file, in order (generated columns are left out: the target computes them). */
  columns: string[];
  rows: number;
  /** See tableDigest: equal for equal rows, whatever their order, on PostgreSQL 15 and 17. */
  digest: string;
  bytes: number;
}

export interface ExportedFile {
  /** The storage driver's key, `{bucket}/{version}`; the file is `files/<key>`. */
  key: string;
  size: number;
  sha256: string;
}

export interface ExportManifest {
  format: "vpb-db export";
  version: typeof EXPORT_FORMAT_VERSION;
  createdAt: string;
  /** `server_version` of the source. */
  server: string;
  copyFormat: CopyFormat;
  /** A per-user export (a data takeout) names the user; a whole-database export has none. */
  user?: string;
  /** The source's applied migrations, in order: an import needs the same state. */
  migrations: Array<{ name: string; checksum: string }>;
  /** Monthly partitions of the partitioned tables, so that an import recreates them before loading. */
  partitions: Array<{ parent: string; name: string }>;
  sequences: Array<{ name: string; lastValue: string; isCalled: boolean }>;
  /** In load order: a table comes after every table its foreign keys point to. */
  tables: ExportedTable[];
  files: ExportedFile[];
  /** Keys that storage.objects rows name but the storage driver did not hold at export time. */
  missingFiles: string[];
}

/** The app's schemas; of `storage` only the two tables the app uses (Supabase keeps its own there). */
const SCHEMAS = ["public", "private"];
const STORAGE_TABLES = ["buckets", "objects"];

/**
 * Pinned for every export and import session: COPY's text output (CSV) and the digests' text casts
 * read these, so the same rows give the same bytes whatever the server's or role's defaults.
 */
export const SESSION_SETTINGS: ReadonlyArray<[string, string]> = [
  ["TimeZone", "UTC"],
  ["DateStyle", "ISO, YMD"],
  ["IntervalStyle", "postgres"],
  ["extra_float_digits", "1"],
  ["bytea_output", "hex"],
  ["client_encoding", "UTF8"],
  // An RLS policy applying would silently drop rows: with row_security off it is an error instead.
  ["row_security", "off"],
];

export async function pinSession(client: pg.Client): Promise<void> {
  for (const [name, value] of SESSION_SETTINGS) {
    await client.query("select set_config($1, $2, false)", [name, value]);
  }
}

export interface TableInfo {
  name: string;
  schema: string;
  table: string;
  partitioned: boolean;
  /** Non-generated columns, in attribute order. */
  columns: string[];
  /** Types whose binary hash is stable across majors and databases keep it; others are hashed as text. */
  hashAsText: boolean[];
  /** Tables this one's foreign keys reference (itself excluded). */
  references: string[];
}

/**
 * Hash functions PostgreSQL keeps stable across majors (hash partitioning and pg_upgrade depend on
 * them) and that do not hash an OID: enums, for instance, hash their label's OID, which differs from
 * one database to the next, so any type not listed here is hashed through its text form.
 */
const STABLE_HASH_TYPES = new Set([
  "boolean",
  "smallint",
  "integer",
  "bigint",
  "real",
  "double precision",
  "numeric",
  "text",
  "character varying",
  "uuid",
  "bytea",
  "jsonb",
  "timestamp with time zone",
  "timestamp without time zone",
  "date",
  "text[]",
  "uuid[]",
  "integer[]",
  "bigint[]",
]);

/** The app's tables (not partitions: their rows travel through their parents), in load order. */
export async function listTables(client: pg.Client): Promise<TableInfo[]> {
  const { rows } = await client.query<{
    oid: number;
    schema: string;
    table: string;
    kind: string;
    columns: string[] | null;
    types: string[] | null;
    refs: number[] | null;
  }>(
    `select c.oid::int as oid, n.nspname as schema, c.relname as table, c.relkind::text as kind,
            (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '') as columns,
            (select array_agg(format_type(a.atttypid, null) order by a.attnum) from pg_attribute a
              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '') as types,
            (select array_agg(distinct f.confrelid::int) from pg_constraint f
              where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid) as refs
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition and c.relpersistence = 'p'
        and (n.nspname = any($1::text[]) or (n.nspname = 'storage' and c.relname = any($2::text[])))
      order by n.nspname, c.relname`,
    [SCHEMAS, STORAGE_TABLES],
  );
  const byOid = new Map(rows.map((r) => [r.oid, r]));
  const nameOf = (r: { schema: string; table: string }) => qualified(r.schema, r.table);
  const tables = rows.map(
    (r): TableInfo => ({
      name: nameOf(r),
      schema: r.schema,
      table: r.table,
      partitioned: r.kind === "p",
      columns: r.columns ?? [],
      hashAsText: (r.types ?? []).map((t) => !STABLE_HASH_TYPES.has(t)),
      references: (r.refs ?? []).flatMap((oid) => {
        const ref = byOid.get(oid);
        return ref ? [nameOf(ref)] : [];
      }),
    }),
  );
  return loadOrder(tables);
}

/** Parents before children (by foreign keys), otherwise by name; a cycle is refused, not guessed. */
export function loadOrder<T extends { name: string; references: string[] }>(tables: T[]): T[] {
  const pending = new Map(tables.map((t) => [t.name, t]));
  const ordered: T[] = [];
  while (pending.size > 0) {
    const ready = [...pending.values()].filter((t) => t.references.every((r) => !pending.has(r)));
    if (ready.length === 0) {
      throw new VpbError(
        "EXPORT_INVALID",
        `The foreign keys of ${[...pending.keys()].join(", ")} form a cycle: no load order exists.`,
        "Make one of the foreign keys DEFERRABLE, or export those tables by other means.",
      );
    }
    for (const t of ready) {
      ordered.push(t);
      pending.delete(t.name);
    }
  }
  return ordered;
}

export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

export function columnList(columns: readonly string[]): string {
  return columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(", ");
}

/**
 * The SQL of a table's row count and digest: each row's 64-bit hash (hash_record_extended, two seeds
 * for 128 bits) summed exactly as numeric. A sum does not depend on row order, so no sort and no
 * primary key are needed and the aggregate streams in constant memory; the binary hashes are what
 * hash partitioning relies on staying equal across majors, and they cost about what COPY's output
 * does (md5 of each row's text costs three times as much). It detects any changed, missing or added
 * row; it is a checksum against damage and mistakes, not a signature against a forger.
 */
export function digestQuery(table: TableInfo, where = ""): string {
  return `select rows, md5(sum0 || '/' || sum1) as digest from (${digestSumsQuery(table, table.name, where)}) sums`;
}

/**
 * digestQuery's row count and two sums (as text) before its md5, of the rows of `from` (the table, or
 * one of its partitions) that `where` keeps. Parts over disjoint sets of rows that together cover the
 * table add up to the table's own (combineDigestSums gives digestQuery's result from them). Each row
 * is built once (OFFSET 0 keeps the planner from copying its expression into both sums) and the
 * hashes are summed as bigint, which PostgreSQL accumulates exactly (128-bit) into a numeric: the same
 * value as a sum of numerics, for about a quarter less CPU per row.
 */
export function digestSumsQuery(table: TableInfo, from = table.name, where = ""): string {
  const fields = table.columns
    .map((c, i) => `"${c.replaceAll('"', '""')}"${table.hashAsText[i] ? "::text" : ""}`)
    .join(", ");
  return `select count(*)::bigint::text as rows,
                 coalesce(sum(hash_record_extended(r, 0)), 0)::text as sum0,
                 coalesce(sum(hash_record_extended(r, 1)), 0)::text as sum1
            from (select row(${fields}) as r from ${from} ${where} offset 0) hashed`;
}

export interface DigestSums {
  rows: string;
  sum0: string;
  sum1: string;
}

/** The row count and digest of a table from the sums of parts that cover it (see digestSumsQuery). */
export function combineDigestSums(parts: readonly DigestSums[]): { rows: number; digest: string } {
  let rows = 0n;
  let sum0 = 0n;
  let sum1 = 0n;
  for (const p of parts) {
    rows += BigInt(p.rows);
    sum0 += BigInt(p.sum0);
    sum1 += BigInt(p.sum1);
  }
  // A numeric without a fraction prints as a BigInt does, so this is the text digestQuery's md5 hashes.
  return { rows: Number(rows), digest: createHash("md5").update(`${sum0}/${sum1}`).digest("hex") };
}

export function tableFile(table: { schema: string; table: string }, format: CopyFormat): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, "_");
  return `tables/${safe(table.schema)}.${safe(table.table)}.${format === "binary" ? "bin" : "csv"}`;
}

export function copyOptions(format: CopyFormat): string {
  return format === "binary" ? "(format binary)" : "(format csv)";
}
