import type pg from "pg";
import type { MetricRow } from "./metric-row.ts";
import { safeQueryText } from "./query-text.ts";

/** Whether statement metrics are collected on this database, and why not when they are off. */
export type StatementStatus = { on: true; schema: string } | { on: false; note: string };

const NOT_LOADED =
  "statement metrics are off: pg_stat_statements is not loaded (add it to shared_preload_libraries and restart the server)";

/**
 * Finds pg_stat_statements, creating the extension where it is missing and this connection may
 * (in `extensions` where that schema exists, as on Supabase). Never fails: a server that cannot
 * give statement metrics gives the others, with a note that says why.
 */
export async function statementStatus(c: pg.ClientBase): Promise<StatementStatus> {
  const find = async () =>
    (
      await c.query<{ schema: string }>(
        `select n.nspname as schema from pg_catalog.pg_extension e
           join pg_catalog.pg_namespace n on n.oid = e.extnamespace
          where e.extname = 'pg_stat_statements'`,
      )
    ).rows[0]?.schema;
  let schema = await find();
  if (schema === undefined) {
    // Only superusers and pg_read_all_settings may read shared_preload_libraries: others try anyway.
    const loaded = await c
      .query<{ on: boolean }>(
        "select 'pg_stat_statements' = any (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) as on",
      )
      .then((r) => r.rows[0]?.on ?? false)
      .catch(() => undefined);
    if (loaded === false) return { on: false, note: NOT_LOADED };
    const ext = await c.query<{ exists: boolean }>(
      "select exists (select from pg_catalog.pg_namespace where nspname = 'extensions') as exists",
    );
    try {
      await c.query(
        `create extension if not exists pg_stat_statements with schema ${ext.rows[0]?.exists ? "extensions" : "public"}`,
      );
    } catch (e) {
      const state = (e as { code?: string }).code ?? "unknown";
      return {
        on: false,
        note: `statement metrics are off: pg_stat_statements is not installed and this role may not create it (SQLSTATE ${state}); run \`create extension pg_stat_statements\` as a superuser`,
      };
    }
    schema = await find();
    if (schema === undefined) return { on: false, note: NOT_LOADED };
  }
  // Installed but not preloaded, the view fails at every read (55000): say so instead of failing the run.
  try {
    await c.query(`select from ${escapeIdent(schema)}.pg_stat_statements limit 1`);
  } catch (e) {
    const state = (e as { code?: string }).code;
    if (state === "55000") return { on: false, note: NOT_LOADED };
    return {
      on: false,
      note: `statement metrics are off: pg_stat_statements cannot be read (SQLSTATE ${state ?? "unknown"})`,
    };
  }
  return { on: true, schema };
}

interface StatementDelta {
  queryid: string;
  query: string;
  calls: number;
  total_ms: number;
  max_ms: number;
  rows: number;
  hit: number;
  read: number;
}

/**
 * Deltas per query id since the previous sample (kept in private.statement_samples, updated in the
 * same transaction), the `top` statements by time in the interval. A counter lower than the
 * previous sample's means pg_stat_statements was reset: the current value is the delta. The very
 * first sample only sets the baseline.
 *
 * Only this database's statements; utility statements (SET, CREATE...) are kept without their text:
 * before PostgreSQL 16 their constants are not replaced by $n, so the text could hold values.
 */
export async function sampleStatements(
  c: pg.ClientBase,
  schema: string,
  sampledAt: Date,
  top: number,
): Promise<MetricRow[]> {
  const view = `${escapeIdent(schema)}.pg_stat_statements`;
  const { rows } = await c.query<StatementDelta>(
    `with cur as (
       select s.queryid, sum(s.calls)::bigint as calls, sum(s.total_exec_time) as total_ms,
              max(s.max_exec_time) as max_ms, sum(s.rows)::bigint as rows_count,
              sum(s.shared_blks_hit)::bigint as hit, sum(s.shared_blks_read)::bigint as read,
              min(s.query) as query
         from ${view} s
        where s.dbid = (select oid from pg_catalog.pg_database where datname = current_database())
          and s.queryid is not null
        group by s.queryid
     ), first_sample as (
       select not exists (select from private.statement_samples) as yes
     ), delta as (
       select c.queryid, c.query, c.max_ms,
              case when p.queryid is null or c.calls < p.calls then c.calls else c.calls - p.calls end as calls,
              case when p.queryid is null or c.calls < p.calls then c.total_ms else c.total_ms - p.total_time_ms end as total_ms,
              case when p.queryid is null or c.calls < p.calls then c.rows_count else c.rows_count - p.rows_count end as rows,
              case when p.queryid is null or c.calls < p.calls then c.hit else c.hit - p.blks_hit end as hit,
              case when p.queryid is null or c.calls < p.calls then c.read else c.read - p.blks_read end as read
         from cur c left join private.statement_samples p on p.queryid = c.queryid
     ), gone as (
       delete from private.statement_samples p where not exists (select from cur c where c.queryid = p.queryid)
     ), saved as (
       insert into private.statement_samples as p (queryid, calls, total_time_ms, rows_count, blks_hit, blks_read, sampled_at)
       select queryid, calls, total_ms, rows_count, hit, read, $1 from cur
       on conflict (queryid) do update
         set calls = excluded.calls, total_time_ms = excluded.total_time_ms, rows_count = excluded.rows_count,
             blks_hit = excluded.blks_hit, blks_read = excluded.blks_read, sampled_at = excluded.sampled_at
     )
     select d.queryid::text as queryid,
            case when d.query ~* '^\\s*(select|insert|update|delete|with|merge|values|table)\\M' then d.query
                 else upper(coalesce(substring(d.query from '^\\s*([A-Za-z]+)'), '')) || ' (utility statement, text not kept)'
            end as query,
            d.calls::float8 as calls, d.total_ms::float8 as total_ms, d.max_ms::float8 as max_ms,
            d.rows::float8 as rows, d.hit::float8 as hit, d.read::float8 as read
       from delta d, first_sample f
      where not f.yes and d.calls > 0
      order by d.total_ms desc
      limit $2`,
    [sampledAt, top],
  );
  const out: MetricRow[] = [];
  for (const r of rows) {
    // Normalized again (and cut to 300 characters) in case the text kept its constants (see safeQueryText).
    const query = r.query.endsWith("(utility statement, text not kept)")
      ? r.query
      : await safeQueryText(r.query);
    const tags = { queryid: r.queryid, query };
    out.push(
      { metric: "db.statement.calls", value: r.calls, unit: "count", tags },
      { metric: "db.statement.total_time", value: r.total_ms, unit: "ms", tags },
      { metric: "db.statement.mean_time", value: r.total_ms / r.calls, unit: "ms", tags },
      { metric: "db.statement.max_time", value: r.max_ms, unit: "ms", tags },
      { metric: "db.statement.rows", value: r.rows, unit: "rows", tags },
    );
    if (r.hit + r.read > 0)
      out.push({
        metric: "db.statement.cache_hit",
        value: (100 * r.hit) / (r.hit + r.read),
        unit: "percent",
        tags,
      });
  }
  return out;
}

function escapeIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
