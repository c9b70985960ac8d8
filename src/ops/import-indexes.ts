import type pg from "pg";

/** Statements that put back what dropIndexes removed, in the order to run them. */
export type Rebuild = string[];

/**
 * Drops the loaded tables' indexes, primary keys, unique constraints, the foreign keys that touch
 * them and their enabled user triggers, returning the statements that recreate them exactly (same
 * names, definitions and comments). Loading
 * into a table with its B-tree indexes inserts every row into each index at a random place (the keys
 * are UUIDs): ten times slower than COPY alone; building each index afterwards, by sorting, costs
 * about one more COPY. Foreign keys added back are validated over the whole table, so integrity is
 * checked even when replica mode skipped the per-row checks.
 *
 * Runs inside the import's transaction (needs the tables' owner, as ALTER TABLE does): if another
 * object depends on a constraint (a view relying on a primary key, say), the caller rolls back to a
 * savepoint and loads with the indexes in place instead.
 */
export async function dropIndexes(client: pg.Client, tables: string[]): Promise<Rebuild> {
  const { rows: fks } = await client.query<Dropped>(
    `select c.conrelid::regclass::text as rel, quote_ident(c.conname) as name, pg_get_constraintdef(c.oid) as def,
            format('comment on constraint %I on %s is %L', c.conname, c.conrelid::regclass, obj_description(c.oid, 'pg_constraint')) as note
       from pg_constraint c
      where c.contype = 'f' and c.conparentid = 0
        and (c.conrelid = any(select unnest($1::text[])::regclass) or c.confrelid = any(select unnest($1::text[])::regclass))
      order by 1, 2`,
    [tables],
  );
  const { rows: keys } = await client.query<Dropped>(
    `select c.conrelid::regclass::text as rel, quote_ident(c.conname) as name, pg_get_constraintdef(c.oid) as def,
            format('comment on constraint %I on %s is %L', c.conname, c.conrelid::regclass, obj_description(c.oid, 'pg_constraint')) as note
       from pg_constraint c
      where c.contype in ('p', 'u', 'x') and c.conparentid = 0
        and c.conrelid = any(select unnest($1::text[])::regclass)
      order by 1, 2`,
    [tables],
  );
  // Indexes of their own (not a constraint's, not a partition's copy of its parent's index).
  const { rows: indexes } = await client.query<Omit<Dropped, "rel">>(
    `select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def,
            format('comment on index %s is %L', i.indexrelid::regclass, obj_description(i.indexrelid, 'pg_class')) as note
       from pg_index i
      where i.indrelid = any(select unnest($1::text[])::regclass)
        and not exists (select from pg_constraint c where c.conindid = i.indexrelid and c.contype in ('p', 'u', 'x'))
        and not exists (select from pg_inherits h where h.inhrelid = i.indexrelid)
      order by 1`,
    [tables],
  );
  // Enabled user triggers (not a partition's clone, not a constraint trigger): with a BEFORE ROW
  // trigger on a table, COPY inserts row by row instead of in batches, even when none fires.
  const { rows: triggers } = await client.query<Dropped>(
    `select t.tgrelid::regclass::text as rel, quote_ident(t.tgname) as name, pg_get_triggerdef(t.oid) as def,
            format('comment on trigger %I on %s is %L', t.tgname, t.tgrelid::regclass, obj_description(t.oid, 'pg_trigger')) as note
       from pg_trigger t
      where not t.tgisinternal and t.tgenabled = 'O' and t.tgparentid = 0 and t.tgconstraint = 0
        and t.tgrelid = any(select unnest($1::text[])::regclass)
      order by 1, 2`,
    [tables],
  );
  for (const t of triggers) await client.query(`drop trigger ${t.name} on ${t.rel}`);
  for (const fk of fks) await client.query(`alter table ${fk.rel} drop constraint ${fk.name}`);
  for (const k of keys) await client.query(`alter table ${k.rel} drop constraint ${k.name}`);
  for (const ix of indexes) await client.query(`drop index ${ix.name}`);
  // A comment's statement is null when there is no comment (format's %L of null is NULL, the whole text too).
  const notes = [...indexes, ...keys, ...fks, ...triggers].flatMap((o) => (o.note ? [o.note] : []));
  return [
    // On a partitioned table, pg_get_indexdef says ON ONLY (the parent alone): built here on every partition.
    ...indexes.map((ix) => ix.def.replace(/ ON ONLY /, " ON ")),
    ...keys.map((k) => `alter table ${k.rel} add constraint ${k.name} ${k.def}`),
    ...fks.map((fk) => `alter table ${fk.rel} add constraint ${fk.name} ${fk.def}`),
    ...triggers.map((t) => t.def),
    ...notes,
  ];
}

interface Dropped {
  rel: string;
  name: string;
  def: string;
  note: string | null;
}
