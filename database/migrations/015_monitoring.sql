-- 015_monitoring: what the metrics collector and the alert evaluator keep between runs (issue 15).
-- - performance_metrics takes the unit 'usd' (API cost).
-- - private.statement_samples: the previous pg_stat_statements sample per query id, so that each
--   run stores deltas.
-- - private.storage_usage: bytes and objects per owner and bucket, kept by triggers on
--   storage.objects, so that storage per user is read from a row per user instead of a scan of
--   every object (storage.objects has no index on its owner).
-- - private.alerts: each alert's state, at most one firing row per rule and subject.
-- - api_usage and user_activity get an index on occurred_at: the collector and the unusual-access
--   rule read a few minutes of all users, which their (user_id, occurred_at) indexes cannot range.

alter table public.performance_metrics drop constraint performance_metrics_unit_check;
-- The monthly partitions were created LIKE the parent, including its constraints, then attached:
-- their own copy of the check outlives the parent's and would still refuse 'usd'.
do $$
declare
  part regclass;
begin
  for part in select inhrelid::regclass from pg_catalog.pg_inherits where inhparent = 'public.performance_metrics'::regclass loop
    execute format('alter table %s drop constraint if exists performance_metrics_unit_check', part);
  end loop;
end
$$;
-- Widening a check: every stored row already satisfies it. Validated in this transaction; the
-- runner's lock_timeout makes a busy table fail the migration fast.
-- squawk-ignore constraint-missing-not-valid
alter table public.performance_metrics add constraint performance_metrics_unit_check
  check (unit in ('ms', 'bytes', 'count', 'percent', 'rows', 'usd'));

-- A partitioned table cannot be indexed concurrently; these tables are append-only and the build
-- holds off writes only for its duration.
-- squawk-ignore require-concurrent-index-creation
create index api_usage_occurred_at_idx on public.api_usage (occurred_at);
-- squawk-ignore require-concurrent-index-creation
create index user_activity_occurred_at_idx on public.user_activity (occurred_at);

create table private.statement_samples (
  queryid bigint primary key,
  calls bigint not null,
  total_time_ms double precision not null,
  rows_count bigint not null,
  blks_hit bigint not null,
  blks_read bigint not null,
  sampled_at timestamptz not null
);
alter table private.statement_samples enable row level security, force row level security;
revoke all on private.statement_samples from public, anon, authenticated;
comment on table private.statement_samples is
  'The previous pg_stat_statements sample of this database per query id (cumulative counters), for deltas.';

create table private.storage_usage (
  -- The nil uuid stands for objects without an owner (written by the service), so that bucket
  -- totals include them.
  owner_id uuid not null,
  bucket_id text not null,
  bytes bigint not null,
  objects bigint not null,
  primary key (owner_id, bucket_id)
);
alter table private.storage_usage enable row level security, force row level security;
revoke all on private.storage_usage from public, anon, authenticated;
comment on table private.storage_usage is
  'Bytes and objects of storage.objects per owner and bucket, kept by triggers (monitoring and quotas).';

-- The size an object's metadata records; anything else than a plain byte count is 0.
create function private.object_size(p_metadata jsonb) returns bigint
  language sql immutable set search_path = '' as $$
  select case when p_metadata ->> 'size' ~ '^[0-9]{1,18}$' then (p_metadata ->> 'size')::bigint else 0 end
$$;

-- Statement-level, with transition tables: a bulk delete updates one row per owner and bucket,
-- in key order, so that two statements over several owners cannot deadlock on these rows.
-- Security definer: API users write storage.objects but have no access to private.
create function private.storage_usage_apply() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    insert into private.storage_usage as u (owner_id, bucket_id, bytes, objects)
    select coalesce(o.owner, '00000000-0000-0000-0000-000000000000'), o.bucket_id,
           -sum(private.object_size(o.metadata)), -count(*)
      from old_rows o where o.bucket_id is not null
     group by 1, 2 order by 1, 2
    on conflict (owner_id, bucket_id) do update
      set bytes = u.bytes + excluded.bytes, objects = u.objects + excluded.objects;
  end if;
  if tg_op in ('UPDATE', 'INSERT') then
    insert into private.storage_usage as u (owner_id, bucket_id, bytes, objects)
    select coalesce(n.owner, '00000000-0000-0000-0000-000000000000'), n.bucket_id,
           sum(private.object_size(n.metadata)), count(*)
      from new_rows n where n.bucket_id is not null
     group by 1, 2 order by 1, 2
    on conflict (owner_id, bucket_id) do update
      set bytes = u.bytes + excluded.bytes, objects = u.objects + excluded.objects;
  end if;
  return null;
end
$$;
revoke all on function private.storage_usage_apply() from public;

create trigger objects_storage_usage_insert after insert on storage.objects
  referencing new table as new_rows for each statement execute function private.storage_usage_apply();
create trigger objects_storage_usage_update after update on storage.objects
  referencing old table as old_rows new table as new_rows for each statement execute function private.storage_usage_apply();
create trigger objects_storage_usage_delete after delete on storage.objects
  referencing old table as old_rows for each statement execute function private.storage_usage_apply();

insert into private.storage_usage (owner_id, bucket_id, bytes, objects)
select coalesce(owner, '00000000-0000-0000-0000-000000000000'), bucket_id, sum(private.object_size(metadata)), count(*)
  from storage.objects where bucket_id is not null
 group by 1, 2;

create table private.alerts (
  id uuid primary key default gen_random_uuid(),
  rule text not null
    constraint alerts_rule_check check (rule in ('storage_quota', 'slow_query', 'error_spike', 'unusual_access', 'test')),
  subject text not null constraint alerts_subject_length check (length(subject) between 1 and 200),
  state text not null constraint alerts_state_check check (state in ('firing', 'resolved')),
  severity text not null constraint alerts_severity_check check (severity in ('warning', 'critical')),
  summary text not null constraint alerts_summary_length check (length(summary) between 1 and 1000),
  details jsonb not null default '{}' constraint alerts_details_object check (jsonb_typeof(details) = 'object'),
  fired_at timestamptz not null,
  last_seen_at timestamptz not null,
  resolved_at timestamptz,
  constraint alerts_resolved_state check ((state = 'resolved') = (resolved_at is not null))
);
-- Deduplication: one firing alert per rule and subject.
create unique index alerts_firing_key on private.alerts (rule, subject) where state = 'firing';
create index alerts_fired_at_idx on private.alerts (fired_at desc);
alter table private.alerts enable row level security, force row level security;
revoke all on private.alerts from public, anon, authenticated;
comment on table private.alerts is 'Monitoring alerts: firing until their cause stops, then resolved (issue 15).';
