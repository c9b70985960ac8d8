import assert from "node:assert/strict";
import { test } from "node:test";
import type pg from "pg";
import {
  combineDigestSums,
  type DigestSums,
  digestQuery,
  digestSumsQuery,
  listTables,
  pinSession,
  type TableInfo,
} from "../src/ops/export-format.ts";
import { digestTables, planDigestParts } from "../src/ops/table-digests.ts";
import { client, createDatabase } from "./support/harness.ts";

/** digestQuery as it was first written (numeric sums, the row built twice): manifests hold its results. */
function firstDigestQuery(table: TableInfo): string {
  const fields = table.columns
    .map((c, i) => `"${c.replaceAll('"', '""')}"${table.hashAsText[i] ? "::text" : ""}`)
    .join(", ");
  const row = `row(${fields})`;
  return `select count(*)::bigint::text as rows,
                 md5(coalesce(sum(hash_record_extended(${row}, 0)::numeric), 0)::text || '/' ||
                     coalesce(sum(hash_record_extended(${row}, 1)::numeric), 0)::text) as digest
            from ${table.name}`;
}

async function setUp(): Promise<{ c: pg.Client; url: string; tables: TableInfo[] }> {
  const db = await createDatabase("empty");
  const c = await client(db.url);
  await pinSession(c);
  await c.query("create type mood as enum ('calm', 'loud')");
  // Wide rows over some hundred pages, with holes (deleted rows) and moved versions (updated rows),
  // nulls, an enum (hashed as text) and negative as well as positive hashes.
  await c.query(
    `create table wide (id int primary key, note text, m mood, doc jsonb, at timestamptz, n numeric)`,
  );
  await c.query(
    `insert into wide select g, repeat(md5(g::text), 4), case when g % 3 = 0 then null when g % 2 = 0 then 'calm'::mood else 'loud' end,
            jsonb_build_object('g', g), '2026-11-26 00:00:00+00'::timestamptz + g * interval '1 minute', g / 7.0
       from generate_series(1, 20000) g`,
  );
  await c.query("delete from wide where id % 5 = 0");
  await c.query("update wide set note = 'moved' where id % 11 = 0");
  await c.query(
    `create table part (id int, at date not null, v text) partition by range (at);
     create table part_a partition of part for values from ('2026-01-01') to ('2026-07-01');
     create table part_b partition of part for values from ('2026-07-01') to ('2027-01-01');
     create table part_c partition of part for values from ('2027-01-01') to ('2027-07-01')`,
  );
  await c.query(
    `insert into part select g, date '2026-01-01' + (g % 360), repeat('v', g % 300) from generate_series(1, 15000) g`,
  );
  await c.query("create table empty_one (id int, v text)");
  await c.query("vacuum analyze");
  const tables = (await listTables(c)).filter((t) =>
    ["public.wide", "public.part", "public.empty_one"].includes(t.name),
  );
  assert.equal(tables.length, 3);
  return { c, url: db.url, tables };
}

test("digestQuery gives what its first form gave: the same count and digest for every table", async () => {
  const { c, tables } = await setUp();
  for (const t of tables) {
    const { rows: now } = await c.query(digestQuery(t));
    const { rows: first } = await c.query(firstDigestQuery(t));
    assert.deepEqual(now[0], first[0], t.name);
  }
  const { rows } = await c.query(digestQuery(tables.find((t) => t.name === "public.empty_one") as TableInfo));
  assert.deepEqual(rows[0], { rows: "0", digest: "aa00c4c0f44c5cb7cad68df40e8f8877" }, "md5('0/0')");
});

test("a table split in page ranges and partitions adds up to digestQuery's count and digest, rows added after the plan included", async () => {
  const { c, url, tables } = await setUp();
  const second = await client(url);
  await pinSession(second);
  const parts = await planDigestParts(c, tables, 2, 8);
  const wide = parts.filter((p) => p.table.name === "public.wide");
  assert.ok(wide.length >= 4, `public.wide split in ${wide.length} parts`);
  assert.ok(wide.every((p) => p.from === "public.wide" && p.where.includes("ctid")));
  const part = parts.filter((p) => p.table.name === "public.part");
  assert.deepEqual([...new Set(part.map((p) => p.from))].sort(), [
    "public.part_a",
    "public.part_b",
    "public.part_c",
  ]);
  assert.ok(part.length > 3, "the partitions are split too");
  for (let i = 1; i < parts.length; i++)
    assert.ok((parts[i - 1]?.pages ?? 0) >= (parts[i]?.pages ?? 0), "biggest first");

  // Rows written after the plan land past its last range's start: the open end still counts them.
  await c.query(
    "insert into wide select g, repeat('late', 50), 'calm', '{}', now(), 1 from generate_series(30001, 60000) g",
  );
  const planned = Math.max(...wide.map((p) => Number(/'\((\d+),0\)'::tid$/.exec(p.where)?.[1] ?? 0)));
  const { rows: beyond } = await c.query(
    `select count(*)::int as n from wide where ctid >= '(${planned},0)'::tid`,
  );
  assert.ok((beyond[0]?.n ?? 0) > 1000, "rows past the planned pages");
  const sums = async (name: string) => {
    const got: DigestSums[] = [];
    for (const p of parts.filter((x) => x.table.name === name)) {
      const { rows } = await c.query<DigestSums>(digestSumsQuery(p.table, p.from, p.where));
      got.push(rows[0] as DigestSums);
    }
    return got;
  };
  for (const t of tables) {
    const { rows } = await c.query<{ rows: string; digest: string }>(digestQuery(t));
    const want = { rows: Number(rows[0]?.rows), digest: rows[0]?.digest };
    assert.deepEqual(combineDigestSums(await sums(t.name)), want, t.name);
  }
  assert.equal(combineDigestSums(await sums("public.wide")).rows, 16000 + 30000);

  // The same through digestTables on two connections.
  const all = await digestTables([c, second], tables, 8);
  for (const t of tables) {
    const { rows } = await c.query<{ rows: string; digest: string }>(firstDigestQuery(t));
    assert.deepEqual(all[t.name], { rows: Number(rows[0]?.rows), digest: rows[0]?.digest }, t.name);
  }
});
