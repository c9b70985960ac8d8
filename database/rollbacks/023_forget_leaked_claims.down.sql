-- Rollback of 023_forget_leaked_claims: the two CHECKs go. The rows it removed held users' claims
-- that should never have been stored: they are not put back.
alter table private.statement_hourly drop constraint statement_hourly_query_normalized;
alter table public.performance_metrics drop constraint performance_metrics_statement_text_normalized;
