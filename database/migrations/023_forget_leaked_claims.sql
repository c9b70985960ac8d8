-- 023_forget_leaked_claims: monitoring rows that kept a signed-in user's JWT claims.
-- Until the SDK sent its role switch as a statement of its own, pg_stat_statements filed that
-- statement under the new role with its text as sent, constants included: the caller's claims (user
-- id, email). The collector copied such texts into performance_metrics (tags.query of the
-- db.statement.* metrics) and private.statement_hourly, and pg_stat_statements keeps them until
-- reset. A normalized text has $n for every constant, so a stored text that still spells
-- request.jwt.claim in a literal is one of those: its rows are removed here, and its
-- pg_stat_statements entries in this database reset where this role may (on Supabase, postgres may;
-- elsewhere a role without the right leaves them, with a notice saying how to reset them). Then a
-- CHECK on each table refuses such a text for good: the collector normalizes every text it stores,
-- and a run that ever met one would fail loudly rather than keep a user's claims.

delete from public.performance_metrics
 where metric like 'db.statement.%' and tags ->> 'query' like '%request.jwt.claim%';

delete from private.statement_hourly where query like '%request.jwt.claim%';

-- NOT VALID: checked for every row written from now on, without a scan of the existing ones under the
-- ADD's exclusive lock (which would stop the collector's and the app's writes); the rows it would
-- refuse were deleted above, in this transaction.
alter table public.performance_metrics add constraint performance_metrics_statement_text_normalized
  check (metric not like 'db.statement.%' or coalesce(tags ->> 'query', '') not like '%request.jwt.claim%')
  not valid;
alter table private.statement_hourly add constraint statement_hourly_query_normalized
  check (query not like '%request.jwt.claim%') not valid;

do $$
declare
  ext_schema text;
begin
  select n.nspname into ext_schema
    from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
   where e.extname = 'pg_stat_statements';
  if ext_schema is null then
    return;
  end if;
  execute format(
    'select %1$I.pg_stat_statements_reset(s.userid, s.dbid, s.queryid) from %1$I.pg_stat_statements s
      where s.dbid = (select oid from pg_catalog.pg_database where datname = pg_catalog.current_database())
        and s.query like %2$L',
    ext_schema, '%request.jwt.claim%');
exception
  -- No right to reset, or the library not preloaded: nothing in it to reset from here.
  when insufficient_privilege or object_not_in_prerequisite_state then
    raise notice 'pg_stat_statements entries holding JWT claims were not reset (%): run select pg_stat_statements_reset() as a superuser', sqlerrm;
end
$$;
