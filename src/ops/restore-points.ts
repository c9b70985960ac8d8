import type pg from "pg";
import { VpbError } from "../errors.ts";
import { TRACKING_SCHEMA } from "../migrations/tracking.ts";

/**
 * When vpb-db's migration `number` was applied, from vpb_migrate's history: the start of its
 * transaction (its row's applied_at), so a restore to that instant has everything committed before
 * it and nothing of the migration. A migration rolled back since has no row: then its last `applied`
 * event tells (its end, less its duration). Floored to the millisecond a Date holds.
 */
export async function migrationAppliedAt(client: pg.Client, number: number): Promise<Date> {
  const { rows: present } = await client.query<{ ok: boolean }>("select to_regclass($1) is not null as ok", [
    `${TRACKING_SCHEMA}.migrations`,
  ]);
  if (present[0]?.ok) {
    const { rows } = await client.query<{ ms: string }>(
      `select floor(extract(epoch from at) * 1000)::bigint::text as ms from (
         select 1 as pref, applied_at as at from ${TRACKING_SCHEMA}.migrations
          where name ~ '^[0-9]+_' and split_part(name, '_', 1)::int = $1
         union all
         (select 2, at - make_interval(secs => coalesce(duration_ms, 0) / 1000.0) from ${TRACKING_SCHEMA}.events
           where kind = 'applied' and name ~ '^[0-9]+_' and split_part(name, '_', 1)::int = $1
           order by at desc limit 1)) t
       order by pref limit 1`,
      [number],
    );
    if (rows[0]) return new Date(Number(rows[0].ms));
  }
  throw new VpbError(
    "MIGRATION_NOT_APPLIED",
    `The database's migration history has no migration ${number}.`,
    "Check `vpb-db migrate status` for the numbers applied, or restore --to a time instead.",
  );
}
