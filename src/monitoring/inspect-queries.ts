/**
 * The SQL of `vpb-db inspect`, one statement per section (like `supabase inspect db`). They read only
 * the statistics views and catalogs: nothing scans a user table. $1 is the row limit where there is one.
 */

/** Where pg_stat_statements is installed in this database, if it is. */
export const STATEMENTS_SCHEMA = `
select n.nspname as schema
  from pg_extension e join pg_namespace n on n.oid = e.extnamespace
 where e.extname = 'pg_stat_statements'`;

/**
 * Supabase's Query Performance columns for this database's statements. The view's schema is quoted by
 * the caller (format('%I')); pg_stat_statements' text is already normalized (constants are $n).
 */
export function topQueriesSql(quotedSchema: string): string {
  return `
select s.queryid::text as queryid,
       s.query,
       s.calls::float8 as calls,
       s.total_exec_time as total_ms,
       s.mean_exec_time as mean_ms,
       s.max_exec_time as max_ms,
       s.rows::float8 as rows,
       case when s.shared_blks_hit + s.shared_blks_read = 0 then null
            else 100.0 * s.shared_blks_hit / (s.shared_blks_hit + s.shared_blks_read) end::float8 as cache_hit_pct,
       (100.0 * s.total_exec_time / nullif(sum(s.total_exec_time) over (), 0))::float8 as time_pct
  from ${quotedSchema}.pg_stat_statements s
 where s.dbid = (select oid from pg_database where datname = current_database())
 order by s.total_exec_time desc
 limit $1`;
}

const USER_SCHEMAS = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'`;

export const TABLE_SIZES = `
select format('%I.%I', n.nspname, c.relname) as name,
       pg_table_size(c.oid)::float8 as table_bytes,
       pg_indexes_size(c.oid)::float8 as index_bytes,
       pg_total_relation_size(c.oid)::float8 as total_bytes,
       greatest(c.reltuples, 0)::float8 as estimated_rows
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'm') and ${USER_SCHEMAS}
 order by pg_total_relation_size(c.oid) desc, 1
 limit $1`;

export const INDEX_SIZES = `
select format('%I.%I', n.nspname, c.relname) as name,
       format('%I.%I', n.nspname, t.relname) as table_name,
       pg_relation_size(c.oid)::float8 as bytes
  from pg_index i
  join pg_class c on c.oid = i.indexrelid
  join pg_class t on t.oid = i.indrelid
  join pg_namespace n on n.oid = c.relnamespace
 where c.relkind = 'i' and ${USER_SCHEMAS}
 order by pg_relation_size(c.oid) desc, 1
 limit $1`;

/**
 * Table bloat estimated from the planner's statistics (as pg-extras' `bloat` does): the pages a table
 * would need for its rows at their average width, against the pages it has. Approximate by nature,
 * and only as fresh as the last ANALYZE.
 */
export const TABLE_BLOAT = `
with widths as (
  select s.schemaname, s.tablename,
         sum((1 - s.null_frac) * s.avg_width) as data_width,
         max(s.null_frac) > 0 as has_nulls
    from pg_stats s
   where not s.inherited
   group by s.schemaname, s.tablename
), estimates as (
  select n.nspname, c.relname, c.relpages::float8 as pages, c.reltuples::float8 as tuples,
         current_setting('block_size')::float8 as block_size,
         -- 24-byte tuple header + null bitmap + 4-byte line pointer, rounded to 8-byte alignment.
         ceil((24 + case when w.has_nulls then ceil(c.relnatts / 8.0) else 0 end + w.data_width) / 8) * 8 + 4
           as tuple_bytes
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join widths w on w.schemaname = n.nspname and w.tablename = c.relname
   where c.relkind = 'r' and c.relpages > 0 and c.reltuples >= 0 and ${USER_SCHEMAS}
), expected as (
  select nspname, relname, pages, block_size,
         -- Each page loses its 24-byte header; fillfactor is taken as 100.
         greatest(ceil(tuples * tuple_bytes / (block_size - 24)), 1) as expected_pages
    from estimates
)
select format('%I.%I', nspname, relname) as name,
       round((pages / expected_pages)::numeric, 1)::float8 as bloat_ratio,
       (greatest(pages - expected_pages, 0) * block_size)::float8 as wasted_bytes
  from expected
 order by greatest(pages - expected_pages, 0) * block_size desc, 1
 limit $1`;

/** Indexes never scanned since the statistics were reset; unique and primary keys are kept (they enforce). */
export const UNUSED_INDEXES = `
select format('%I.%I', s.schemaname, s.indexrelname) as name,
       format('%I.%I', s.schemaname, s.relname) as table_name,
       s.idx_scan::float8 as scans,
       pg_relation_size(s.indexrelid)::float8 as bytes
  from pg_stat_user_indexes s
  join pg_index i on i.indexrelid = s.indexrelid
 where s.idx_scan = 0 and not i.indisunique and not i.indisprimary
 order by pg_relation_size(s.indexrelid) desc, 1
 limit $1`;

/** Share of table and index block reads served from shared buffers (null before any read). */
export const CACHE_HIT = `
select 'tables' as name,
       (100.0 * sum(heap_blks_hit) / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0))::float8 as ratio_pct
  from pg_statio_user_tables
union all
select 'indexes',
       (100.0 * sum(idx_blks_hit) / nullif(sum(idx_blks_hit) + sum(idx_blks_read), 0))::float8
  from pg_statio_user_indexes`;

/** Sessions waiting on another's lock, with the session they wait for. Query text is normalized by the caller. */
export const BLOCKING = `
select blocked.pid as blocked_pid,
       blocked.query as blocked_query,
       extract(epoch from now() - blocked.query_start)::float8 * 1000 as waiting_ms,
       blocking.pid as blocking_pid,
       blocking.state as blocking_state,
       blocking.query as blocking_query
  from pg_stat_activity blocked
  cross join lateral unnest(pg_blocking_pids(blocked.pid)) as b(pid)
  join pg_stat_activity blocking on blocking.pid = b.pid
 where blocked.datname = current_database()
 order by blocked.query_start, blocked.pid, blocking.pid`;

/** Statements running longer than $1 milliseconds in this database, longest first. */
export const LONG_RUNNING = `
select a.pid,
       a.state,
       a.application_name as application,
       extract(epoch from now() - a.query_start)::float8 * 1000 as duration_ms,
       a.query
  from pg_stat_activity a
 where a.datname = current_database()
   and a.pid <> pg_backend_pid()
   and a.state <> 'idle'
   and a.backend_type = 'client backend'
   and now() - a.query_start > $1 * interval '1 millisecond'
 order by a.query_start
 limit $2`;
