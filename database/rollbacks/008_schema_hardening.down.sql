-- Rollback of 008_schema_hardening: the JSON bounds, the owner key and the analytics window go;
-- 007's transfer trigger and 003's and 006's partition functions come back as they were.
alter table public.users drop constraint users_settings_size;
alter table public.projects drop constraint projects_layout_size;
alter table public.projects drop constraint projects_settings_size;
alter table public.project_components drop constraint project_components_content_size;
alter table public.prompt_generations drop constraint prompt_generations_input_snapshot_size;
alter table public.user_activity drop constraint user_activity_metadata_size;
alter table public.error_logs drop constraint error_logs_context_size;
alter table public.performance_metrics drop constraint performance_metrics_tags_size;

-- 007's transfer trigger and owner_id as it was.
create or replace function private.content_owner() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  new.owner_id := (select p.owner_id from public.projects p where p.id = new.project_id);
  return new;
end
$$;
create function private.projects_owner_to_content() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  update public.project_components set owner_id = new.owner_id where project_id = new.id;
  update public.audio_recordings set owner_id = new.owner_id where project_id = new.id;
  update public.prompt_generations set owner_id = new.owner_id where project_id = new.id;
  return null;
end
$$;
revoke all on function private.projects_owner_to_content() from public;
create trigger projects_owner_to_content after update of owner_id on public.projects
  for each row when (new.owner_id is distinct from old.owner_id)
  execute function private.projects_owner_to_content();
alter table public.project_components drop constraint project_components_project_owner_fkey;
alter table public.audio_recordings drop constraint audio_recordings_project_owner_fkey;
alter table public.prompt_generations drop constraint prompt_generations_project_owner_fkey;
alter table public.project_components alter column owner_id drop not null, alter column owner_id drop default;
alter table public.audio_recordings alter column owner_id drop not null, alter column owner_id drop default;
alter table public.prompt_generations alter column owner_id drop not null, alter column owner_id drop default;
alter table public.projects drop constraint projects_id_owner_id_key;
comment on column public.project_components.owner_id is
  'The project''s owner, kept by triggers (for row level security).';
comment on column public.audio_recordings.owner_id is
  'The project''s owner, kept by triggers (for row level security).';
comment on column public.prompt_generations.owner_id is
  'The project''s owner, kept by triggers (for row level security).';

drop trigger user_activity_occurred_at_window on public.user_activity;
drop trigger api_usage_occurred_at_window on public.api_usage;
drop trigger error_logs_occurred_at_window on public.error_logs;
drop trigger performance_metrics_occurred_at_window on public.performance_metrics;
drop function private.analytics_api_window();

-- 006's cleanup and 003's partition functions, as they were.
create or replace function public.cleanup_analytics_partitions()
  returns setof text language sql set search_path = '' as $$
  select public.drop_old_partitions('user_activity', interval '13 months')
  union all select public.drop_old_partitions('performance_metrics', interval '13 months')
  union all select public.drop_old_partitions('error_logs', interval '3 months')
  union all select public.drop_old_partitions('api_usage', interval '25 months')
$$;
drop function public.sweep_default_partition(text, interval);

-- Creates the monthly partitions of p_table from the month of p_from through p_months_ahead months
-- later, moving any rows of those months out of the default partition first. Returns the names of
-- the partitions it created; existing ones are left alone.
-- Security definer: the scheduled job (service_role) may create partitions without owning the tables.
create or replace function public.create_monthly_partitions(p_table text, p_months_ahead integer default 3, p_from date default current_date)
  returns setof text language plpgsql security definer set search_path = '' as $$
declare
  month_start date;
  part text;
  lower_bound timestamptz;
  upper_bound timestamptz;
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
    month_start := (date_trunc('month', p_from) + make_interval(months => i))::date;
    part := format('%s_p%s', p_table, to_char(month_start, 'YYYYMM'));
    continue when to_regclass(format('public.%I', part)) is not null;
    lower_bound := month_start::timestamptz;
    upper_bound := (month_start + interval '1 month')::timestamptz;
    execute format('create table public.%I (like public.%I including defaults including constraints)', part, p_table);
    execute format(
      'with moved as (delete from public.%I where occurred_at >= $1 and occurred_at < $2 returning *) '
      'insert into public.%I select * from moved', p_table || '_default', part)
      using lower_bound, upper_bound;
    execute format('alter table public.%I attach partition public.%I for values from (%L) to (%L)',
      p_table, part, lower_bound, upper_bound);
    perform public.seal_partition(part);
    return next part;
  end loop;
end
$$;

-- Drops the monthly partitions of p_table that end before now() - p_retention. Returns their names.
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
    continue when part.upper_bound > now() - p_retention;
    execute format('drop table public.%I', part.relname);
    return next part.relname;
  end loop;
end
$$;
