-- 008_schema_hardening: what conventions and triggers kept before, the database now proves.
-- - Monthly partitions are bounded by UTC months, whatever the session's TimeZone: reports count UTC
--   months, and a run in another zone made partitions that overlapped or left gaps.
-- - The API roles may date analytics rows from a day ago to an hour ahead only, and maintenance
--   empties the default partitions (expired rows purged, the others moved into monthly partitions):
--   before, any date went to a default partition that retention never dropped.
-- - owner_id of a project's content is NOT NULL and a foreign key (project_id, owner_id) to
--   projects (id, owner_id) on update cascade: no row can name another owner than its project's,
--   and a transfer moves it (007's trigger doing so is dropped).
-- - Every JSON column has a size bound (bytes of its text), so one request cannot store megabytes.

-- Partition bounds: UTC month starts, written as ISO literals so that neither TimeZone nor
-- DateStyle changes them. Otherwise as in 003.
create or replace function public.create_monthly_partitions(p_table text, p_months_ahead integer default 3, p_from date default current_date)
  returns setof text language plpgsql security definer set search_path = '' as $$
declare
  month_start date;
  part text;
  lower_bound text;
  upper_bound text;
begin
  if p_table is null or not (p_table = any (public.analytics_partitioned_tables())) then
    raise exception 'create_monthly_partitions: "%" is not a partitioned analytics table', p_table
      using errcode = '22023', hint = 'Use one of: ' || array_to_string(public.analytics_partitioned_tables(), ', ');
  end if;
  if p_months_ahead is null or p_months_ahead not between 0 and 36 then
    raise exception 'create_monthly_partitions: months ahead must be between 0 and 36, got %', p_months_ahead
      using errcode = '22023';
  end if;
  for i in 0 .. p_months_ahead loop
    month_start := (date_trunc('month', p_from::timestamp) + make_interval(months => i))::date;
    part := format('%s_p%s', p_table, to_char(month_start, 'YYYYMM'));
    continue when to_regclass(format('public.%I', part)) is not null;
    lower_bound := to_char(month_start, 'YYYY-MM-DD') || ' 00:00:00+00';
    upper_bound := to_char(month_start + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00';
    execute format('create table public.%I (like public.%I including defaults including constraints)', part, p_table);
    execute format(
      'with moved as (delete from public.%I where occurred_at >= $1 and occurred_at < $2 returning *) '
      'insert into public.%I select * from moved', p_table || '_default', part)
      using lower_bound::timestamptz, upper_bound::timestamptz;
    execute format('alter table public.%I attach partition public.%I for values from (%L) to (%L)',
      p_table, part, lower_bound, upper_bound);
    perform public.seal_partition(part);
    return next part;
  end loop;
end
$$;

-- A partition's end is its UTC month's end, compared in UTC. Otherwise as in 003.
create or replace function public.drop_old_partitions(p_table text, p_retention interval)
  returns setof text language plpgsql security definer set search_path = '' as $$
declare
  part record;
begin
  if p_table is null or not (p_table = any (public.analytics_partitioned_tables())) then
    raise exception 'drop_old_partitions: "%" is not a partitioned analytics table', p_table
      using errcode = '22023', hint = 'Use one of: ' || array_to_string(public.analytics_partitioned_tables(), ', ');
  end if;
  if p_retention is null or p_retention < interval '1 month' then
    raise exception 'drop_old_partitions: retention must be at least one month, got %', p_retention
      using errcode = '22023';
  end if;
  for part in
    select c.relname,
           to_date(substring(c.relname from '_p([0-9]{6})$'), 'YYYYMM') + interval '1 month' as upper_bound
      from pg_catalog.pg_inherits i
      join pg_catalog.pg_class c on c.oid = i.inhrelid
     where i.inhparent = format('public.%I', p_table)::regclass
       and c.relname ~ '_p[0-9]{6}$'
     order by c.relname
  loop
    continue when part.upper_bound > (now() at time zone 'UTC') - p_retention;
    execute format('drop table public.%I', part.relname);
    return next part.relname;
  end loop;
end
$$;

-- Empties p_table's default partition as far as it can: rows that a monthly partition would already
-- have taken away with it (past p_retention) are purged; the others, up to three years ahead, move
-- into the monthly partitions of their months, created for them. Rows dated further ahead stay
-- (only the service role can write them). Returns what it did: ('purged', default partition,
-- rows), ('moved', partition, rows) per partition created, ('kept', default partition, rows).
create function public.sweep_default_partition(p_table text, p_retention interval)
  returns table (action text, partition_name text, row_count bigint)
  language plpgsql security definer set search_path = '' as $$
declare
  default_part text;
  expired_before timestamptz;
  horizon timestamptz;
  n bigint;
  m record;
begin
  if p_table is null or not (p_table = any (public.analytics_partitioned_tables())) then
    raise exception 'sweep_default_partition: "%" is not a partitioned analytics table', p_table
      using errcode = '22023', hint = 'Use one of: ' || array_to_string(public.analytics_partitioned_tables(), ', ');
  end if;
  if p_retention is null or p_retention < interval '1 month' then
    raise exception 'sweep_default_partition: retention must be at least one month, got %', p_retention
      using errcode = '22023';
  end if;
  default_part := p_table || '_default';
  -- The month drop_old_partitions keeps first, and the month three years after the current one.
  expired_before := date_trunc('month', (now() at time zone 'UTC') - p_retention) at time zone 'UTC';
  horizon := (date_trunc('month', now() at time zone 'UTC') + interval '37 months') at time zone 'UTC';
  execute format('delete from public.%I where occurred_at < $1', default_part) using expired_before;
  get diagnostics n = row_count;
  return query select 'purged', default_part, n;
  for m in execute format(
    'select date_trunc(''month'', occurred_at at time zone ''UTC'')::date as month, count(*) as n '
    'from public.%I where occurred_at < $1 group by 1 order by 1', default_part) using horizon
  loop
    -- A partition of that month may exist with other bounds (made by 003 in another TimeZone):
    -- then its rows stay, and are reported as kept.
    if exists (select from public.create_monthly_partitions(p_table, 0, m.month)) then
      return query select 'moved', format('%s_p%s', p_table, to_char(m.month, 'YYYYMM')), m.n;
    end if;
  end loop;
  execute format('select count(*) from public.%I', default_part) into n;
  return query select 'kept', default_part, n;
end
$$;

-- Retention as before, each table's default partition swept first.
create or replace function public.cleanup_analytics_partitions()
  returns setof text language plpgsql set search_path = '' as $$
declare
  t record;
begin
  for t in
    select * from (values ('user_activity', interval '13 months'), ('performance_metrics', interval '13 months'),
                          ('error_logs', interval '3 months'), ('api_usage', interval '25 months')) as r (tbl, retention)
  loop
    perform from public.sweep_default_partition(t.tbl, t.retention);
    return query select public.drop_old_partitions(t.tbl, t.retention);
  end loop;
end
$$;

revoke all on function public.sweep_default_partition(text, interval) from public, anon, authenticated;
grant execute on function public.sweep_default_partition(text, interval) to service_role;

-- The API roles date analytics rows around now only; the service role and the functions that run
-- as the owner (log_error, record_metric, maintenance) are not bound. tg_argv[0] is the table.
create function private.analytics_api_window() returns trigger
  language plpgsql set search_path = '' as $$
begin
  if current_user in ('anon', 'authenticated')
     and (new.occurred_at < now() - interval '1 day' or new.occurred_at > now() + interval '1 hour') then
    raise exception '%.occurred_at must lie between a day before and an hour after now', tg_argv[0]
      using errcode = '23514', constraint = tg_argv[0] || '_occurred_at_window',
            hint = 'Leave occurred_at to its default (now()), or report events within a day.';
  end if;
  return new;
end
$$;
revoke all on function private.analytics_api_window() from public;

create trigger user_activity_occurred_at_window before insert or update of occurred_at on public.user_activity
  for each row execute function private.analytics_api_window('user_activity');
create trigger api_usage_occurred_at_window before insert or update of occurred_at on public.api_usage
  for each row execute function private.analytics_api_window('api_usage');
create trigger error_logs_occurred_at_window before insert or update of occurred_at on public.error_logs
  for each row execute function private.analytics_api_window('error_logs');
create trigger performance_metrics_occurred_at_window before insert or update of occurred_at on public.performance_metrics
  for each row execute function private.analytics_api_window('performance_metrics');

-- owner_id: rows that disagree with their project (or are NULL, as an early seed left them) are
-- set from it first, without touching their updated_at.
-- The key's target. Led by id, not owner_id: an (owner_id, id) index would be smaller than
-- projects_owner_id_updated_at_idx and tempt the planner away from the keyset page of a user's projects.
-- A plain unique constraint: no database runs projects at scale yet (none is deployed), and the
-- runner's lock_timeout makes a busy table fail fast. A later migration on a large table builds the
-- index concurrently first.
-- squawk-ignore constraint-missing-not-valid, disallowed-unique-constraint
alter table public.projects add constraint projects_id_owner_id_key unique (id, owner_id);
alter table public.project_components disable trigger project_components_set_updated_at;
alter table public.audio_recordings disable trigger audio_recordings_set_updated_at;
update public.project_components c set owner_id = p.owner_id
  from public.projects p where p.id = c.project_id and c.owner_id is distinct from p.owner_id;
update public.audio_recordings a set owner_id = p.owner_id
  from public.projects p where p.id = a.project_id and a.owner_id is distinct from p.owner_id;
update public.prompt_generations g set owner_id = p.owner_id
  from public.projects p where p.id = g.project_id and g.owner_id is distinct from p.owner_id;
alter table public.project_components enable trigger project_components_set_updated_at;
alter table public.audio_recordings enable trigger audio_recordings_set_updated_at;

-- The default is a placeholder the insert trigger always replaces: clients do not send owner_id, and
-- the generated Insert types keep it optional.
-- SET NOT NULL scans each table once, right after the back-fill above; same reasoning as the key.
-- squawk-ignore adding-not-nullable-field
alter table public.project_components alter column owner_id set not null,
  alter column owner_id set default '00000000-0000-0000-0000-000000000000';
-- squawk-ignore adding-not-nullable-field
alter table public.audio_recordings alter column owner_id set not null,
  alter column owner_id set default '00000000-0000-0000-0000-000000000000';
-- squawk-ignore adding-not-nullable-field
alter table public.prompt_generations alter column owner_id set not null,
  alter column owner_id set default '00000000-0000-0000-0000-000000000000';
-- On delete cascade like project_id's own key, so that neither key's check can see a row the other
-- is about to delete.
alter table public.project_components add constraint project_components_project_owner_fkey
  foreign key (project_id, owner_id) references public.projects (id, owner_id)
  on update cascade on delete cascade not valid;
alter table public.audio_recordings add constraint audio_recordings_project_owner_fkey
  foreign key (project_id, owner_id) references public.projects (id, owner_id)
  on update cascade on delete cascade not valid;
alter table public.prompt_generations add constraint prompt_generations_project_owner_fkey
  foreign key (project_id, owner_id) references public.projects (id, owner_id)
  on update cascade on delete cascade not valid;
-- Validated in this transaction: no database runs these tables at scale yet, and the runner's lock_timeout
-- makes a busy table fail the migration fast instead of queueing every query behind it.
-- squawk-ignore constraint-missing-not-valid
alter table public.project_components validate constraint project_components_project_owner_fkey;
-- squawk-ignore constraint-missing-not-valid
alter table public.audio_recordings validate constraint audio_recordings_project_owner_fkey;
-- squawk-ignore constraint-missing-not-valid
alter table public.prompt_generations validate constraint prompt_generations_project_owner_fkey;

-- owner_id is set from the project as before; a row naming no project is refused as project_id's own
-- key refuses it (23503), before NOT NULL on owner_id would report a column the client never sent.
create or replace function private.content_owner() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  new.owner_id := (select p.owner_id from public.projects p where p.id = new.project_id);
  if new.owner_id is null and new.project_id is not null then
    raise exception 'insert or update on table "%" violates foreign key constraint "%"',
      tg_table_name, tg_table_name || '_project_id_fkey'
      using errcode = '23503', schema = tg_table_schema, table = tg_table_name,
            constraint = tg_table_name || '_project_id_fkey',
            detail = 'Key (project_id) is not present in table "projects".';
  end if;
  return new;
end
$$;

-- The key's cascade now moves owner_id on a transfer; 007's trigger did the same work a second time.
drop trigger projects_owner_to_content on public.projects;
drop function private.projects_owner_to_content();

comment on column public.project_components.owner_id is
  'The project''s owner (for row level security): set from the project on insert (the default is a placeholder), moved with it by the foreign key (project_id, owner_id).';
comment on column public.audio_recordings.owner_id is
  'The project''s owner (for row level security): set from the project on insert (the default is a placeholder), moved with it by the foreign key (project_id, owner_id).';
comment on column public.prompt_generations.owner_id is
  'The project''s owner (for row level security): set from the project on insert (the default is a placeholder), moved with it by the foreign key (project_id, owner_id).';

-- JSON size bounds, in bytes of the JSON text (octet_length(col::text)): a canvas layout is the
-- largest, a generation's input snapshot holds a project's components, a component's content a long
-- prompt; settings, metadata, context and tags are small. database/README.md lists them.
alter table public.users add constraint users_settings_size
  check (octet_length(settings::text) <= 16384) not valid;
alter table public.projects add constraint projects_layout_size
  check (octet_length(layout::text) <= 262144) not valid;
alter table public.projects add constraint projects_settings_size
  check (octet_length(settings::text) <= 32768) not valid;
alter table public.project_components add constraint project_components_content_size
  check (octet_length(content::text) <= 65536) not valid;
alter table public.prompt_generations add constraint prompt_generations_input_snapshot_size
  check (octet_length(input_snapshot::text) <= 524288) not valid;
alter table public.user_activity add constraint user_activity_metadata_size
  check (octet_length(metadata::text) <= 8192) not valid;
alter table public.error_logs add constraint error_logs_context_size
  check (octet_length(context::text) <= 16384) not valid;
alter table public.performance_metrics add constraint performance_metrics_tags_size
  check (octet_length(tags::text) <= 4096) not valid;
-- Validated in this transaction: no database runs these tables at scale yet, and the runner's lock_timeout
-- makes a busy table fail the migration fast instead of queueing every query behind it.
-- squawk-ignore constraint-missing-not-valid
alter table public.users validate constraint users_settings_size;
-- squawk-ignore constraint-missing-not-valid
alter table public.projects validate constraint projects_layout_size;
-- squawk-ignore constraint-missing-not-valid
alter table public.projects validate constraint projects_settings_size;
-- squawk-ignore constraint-missing-not-valid
alter table public.project_components validate constraint project_components_content_size;
-- squawk-ignore constraint-missing-not-valid
alter table public.prompt_generations validate constraint prompt_generations_input_snapshot_size;
-- squawk-ignore constraint-missing-not-valid
alter table public.user_activity validate constraint user_activity_metadata_size;
-- squawk-ignore constraint-missing-not-valid
alter table public.error_logs validate constraint error_logs_context_size;
-- squawk-ignore constraint-missing-not-valid
alter table public.performance_metrics validate constraint performance_metrics_tags_size;
