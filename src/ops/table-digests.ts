import type pg from "pg";
import { combineDigestSums, type DigestSums, digestSumsQuery, type TableInfo } from "./export-format.ts";

/** A table's row count and content digest (export-format.ts's digestQuery: one source for both). */
export interface TableDigest {
  rows: number;
  digest: string;
}

/** One query's share of a table: the rows of `from` (the table or one of its partitions) in `where`. */
export interface DigestPart {
  table: TableInfo;
  from: string;
  where: string;
  /** Its size in pages as planned, to hand out the biggest parts first. */
  pages: number;
}

/** The parts of the whole set: about this many per connection, so that the last ones even out. */
const PARTS_PER_CONNECTION = 16;
/** Below this, a part costs more in round trips and planning than it saves. */
const MIN_PART_PAGES = 1024;

/**
 * Splits the tables into parts of similar size: a partitioned table into its partitions, and a big
 * table or partition into ranges of pages scanned by ctid (TID range scans, PostgreSQL 14+). The
 * ranges are `[0, a)`, `[a, b)`, … and the last is open-ended, so they cover every row whatever the
 * table's size is by the time they run, and no row is in two of them. Sizes are only for balance.
 */
export async function planDigestParts(
  client: pg.Client,
  tables: readonly TableInfo[],
  connections: number,
  minPartPages = MIN_PART_PAGES,
): Promise<DigestPart[]> {
  const { rows: server } = await client.query<{ num: number }>(
    "select current_setting('server_version_num')::int as num",
  );
  const tidRanges = (server[0]?.num ?? 0) >= 140000;
  const { rows } = await client.query<{ table: string; leaf: string | null; kind: string; pages: string }>(
    `select t.name as table, format('%I.%I', n.nspname, c.relname) as leaf, c.relkind::text as kind,
            (pg_relation_size(c.oid) / current_setting('block_size')::int)::text as pages
       from unnest($1::text[]) as t(name)
       -- A partitioned table's leaves, or an ordinary table itself (union: once, whichever gives it).
       cross join lateral (select p.relid from pg_partition_tree(t.name::regclass) p where p.isleaf
                           union
                           select r.oid from pg_class r where r.oid = t.name::regclass and r.relkind <> 'p') l
       join pg_class c on c.oid = l.relid
       join pg_namespace n on n.oid = c.relnamespace`,
    [tables.map((t) => t.name)],
  );
  const leaves = new Map<string, Array<{ leaf: string; kind: string; pages: number }>>();
  for (const r of rows) {
    const list = leaves.get(r.table) ?? [];
    list.push({ leaf: r.leaf ?? "", kind: r.kind, pages: Number(r.pages) });
    leaves.set(r.table, list);
  }
  const total = rows.reduce((sum, r) => sum + Number(r.pages), 0);
  const size = Math.max(minPartPages, Math.ceil(total / (connections * PARTS_PER_CONNECTION)));
  const parts: DigestPart[] = [];
  for (const table of tables) {
    const list = leaves.get(table.name) ?? [];
    // A foreign or otherwise unusual partition: the table is digested whole, as digestQuery does.
    if (list.length === 0 || list.some((l) => l.kind !== "r")) {
      parts.push({ table, from: table.name, where: "", pages: list.reduce((s, l) => s + l.pages, 0) });
      continue;
    }
    for (const { leaf, pages } of list) {
      const n = tidRanges ? Math.max(1, Math.round(pages / size)) : 1;
      const step = Math.ceil(pages / n);
      for (let i = 0; i < n; i++) {
        const bounds = [
          ...(i > 0 ? [`ctid >= '(${i * step},0)'::tid`] : []),
          ...(i < n - 1 ? [`ctid < '(${(i + 1) * step},0)'::tid`] : []),
        ];
        parts.push({
          table,
          from: leaf,
          where: bounds.length ? `where ${bounds.join(" and ")}` : "",
          pages: Math.min(step, pages - i * step),
        });
      }
    }
  }
  return parts.sort((a, b) => b.pages - a.pages);
}

/**
 * Every table's digest, its parts spread over `clients` (each in the same snapshot, and each busy
 * until no part is left: biggest first, so that the last to finish are small). The result per table
 * is exactly digestQuery's.
 */
export async function digestTables(
  clients: readonly pg.Client[],
  tables: readonly TableInfo[],
  minPartPages = MIN_PART_PAGES,
): Promise<Record<string, TableDigest>> {
  const parts = await planDigestParts(clients[0] as pg.Client, tables, clients.length, minPartPages);
  const sums = new Map<string, DigestSums[]>(tables.map((t) => [t.name, []]));
  let next = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (next < parts.length) {
        const part = parts[next++] as DigestPart;
        const { rows } = await c.query<DigestSums>(digestSumsQuery(part.table, part.from, part.where));
        sums.get(part.table.name)?.push(rows[0] as DigestSums);
      }
    }),
  );
  const digests: Record<string, TableDigest> = {};
  for (const t of tables) digests[t.name] = combineDigestSums(sums.get(t.name) ?? []);
  return digests;
}
