-- 003_analytics_monitoring_tables: user_activity, api_usage, error_logs and performance_metrics,
-- each partitioned by month on occurred_at, with a default partition so that no row is ever
-- rejected for its date, and the functions that create partitions ahead and drop expired ones.
--
-- api_usage keeps its rows when a project or a generation is deleted (their ids become NULL): it
-- is the cost history the monthly bill is computed from. A deleted user takes all their rows along.

create table public.user_activity (
  id uuid not null default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  project_id uuid references public.projects (id) on delete cascade,
  action text not null constraint user_activity_action_format check (action ~ '^[a-z][a-z0-9_.]{0,63}$'),
  metadata jsonb not null default '{}' constraint user_activity_metadata_object check (jsonb_typeof(metadata) = 'object'),
  occurred_at timestamptz not null default now(),
  primary key (id, occurred_at)
) partition by range (occurred_at);
-- A user's activity by time; also the index of the user_id foreign key.
create index user_activity_user_id_occurred_at_idx on public.user_activity (user_id, occurred_at desc);
create index user_activity_project_id_idx on public.user_activity (project_id);
comment on table public.user_activity is 'What users do in the app, one row per action; partitioned by month.';

create table public.api_usage (
  id uuid not null default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  project_id uuid references public.projects (id) on delete set null,
  generation_id uuid references public.prompt_generations (id) on delete set null,
  provider text not null constraint api_usage_provider_length check (length(provider) between 1 and 50),
  model text not null constraint api_usage_model_length check (length(model) between 1 and 100),
  endpoint text constraint api_usage_endpoint_length check (length(endpoint) <= 200),
  input_tokens integer not null default 0 constraint api_usage_input_tokens_check check (input_tokens >= 0),
  output_tokens integer not null default 0 constraint api_usage_output_tokens_check check (output_tokens >= 0),
  cost_usd numeric(12, 6) not null default 0 constraint api_usage_cost_check check (cost_usd >= 0),
  latency_ms integer constraint api_usage_latency_check check (latency_ms >= 0),
  status_code integer constraint api_usage_status_code_check check (status_code between 100 and 599),
  occurred_at timestamptz not null default now(),
  primary key (id, occurred_at)
) partition by range (occurred_at);
-- A user's usage and cost by time (monthly costs); also the user_id foreign key's index.
create index api_usage_user_id_occurred_at_idx on public.api_usage (user_id, occurred_at desc);
create index api_usage_project_id_idx on public.api_usage (project_id);
create index api_usage_generation_id_idx on public.api_usage (generation_id);
comment on table public.api_usage is 'Every AI API call: tokens, cost and latency; partitioned by month.';

create table public.error_logs (
  id uuid not null default gen_random_uuid(),
  user_id uuid references public.users (id) on delete cascade,
  severity text not null constraint error_logs_severity_check check (severity in ('debug', 'info', 'warning', 'error', 'critical')),
  source text not null constraint error_logs_source_length check (length(source) between 1 and 100),
  error_code text constraint error_logs_error_code_length check (length(error_code) <= 100),
  message text not null constraint error_logs_message_length check (length(message) between 1 and 10000),
  stack text constraint error_logs_stack_length check (length(stack) <= 50000),
  context jsonb not null default '{}' constraint error_logs_context_object check (jsonb_typeof(context) = 'object'),
  request_id text constraint error_logs_request_id_length check (length(request_id) <= 100),
  occurred_at timestamptz not null default now(),
  primary key (id, occurred_at)
) partition by range (occurred_at);
create index error_logs_severity_occurred_at_idx on public.error_logs (severity, occurred_at desc);
create index error_logs_user_id_idx on public.error_logs (user_id);
comment on table public.error_logs is 'Errors reported by the app and its services; partitioned by month.';

create table public.performance_metrics (
  id uuid not null default gen_random_uuid(),
  metric text not null constraint performance_metrics_metric_format check (metric ~ '^[a-z][a-z0-9_.]{0,99}$'),
  value double precision not null
    constraint performance_metrics_value_finite check (value > '-Infinity'::float8 and value < 'Infinity'::float8),
  unit text not null constraint performance_metrics_unit_check check (unit in ('ms', 'bytes', 'count', 'percent', 'rows')),
  tags jsonb not null default '{}' constraint performance_metrics_tags_object check (jsonb_typeof(tags) = 'object'),
  occurred_at timestamptz not null default now(),
  primary key (id, occurred_at)
) partition by range (occurred_at);
create index performance_metrics_metric_occurred_at_idx on public.performance_metrics (metric, occurred_at desc);
comment on table public.performance_metrics is 'Timings and sizes measured by the app (slow queries among them); partitioned by month.';

create table public.user_activity_default partition of public.user_activity default;
create table public.api_usage_default partition of public.api_usage default;
create table public.error_logs_default partition of public.error_logs default;
create table public.performance_metrics_default partition of public.performance_metrics default;

-- The analytics tables whose partitions the functions below manage.
create function public.analytics_partitioned_tables() returns text[]
  language sql immutable set search_path = '' as $$
  select array['user_activity', 'api_usage', 'error_logs', 'performance_metrics']
$$;

-- A partition is a table of its own: read directly it would skip the parent's policies. Sealed,
-- it is closed to the API roles and shows no row to anyone who does not bypass RLS.
create function public.seal_partition(p_partition text) returns void
  language plpgsql set search_path = '' as $$
begin
  execute format('alter table public.%I enable row level security, force row level security', p_partition);
  execute format('revoke all on table public.%I from public, anon, authenticated', p_partition);
end
$$;

-- Creates the monthly partitions of p_table from the month of p_from through p_months_ahead months
-- later, moving any rows of those months out of the default partition first. Returns the names of
-- the partitions it created; existing ones are left alone.
-- Security definer: the scheduled job (service_role) may create partitions without owning the tables.
create function public.create_monthly_partitions(p_table text, p_months_ahead integer default 3, p_from date default current_date)
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
create function public.drop_old_partitions(p_table text, p_retention interval)
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

-- The two definer functions are for the owner and the service role only.
revoke all on function public.create_monthly_partitions(text, integer, date), public.drop_old_partitions(text, interval)
  from public, anon, authenticated;

select public.seal_partition(t || '_default') from unnest(public.analytics_partitioned_tables()) as t;
select public.create_monthly_partitions(t) from unnest(public.analytics_partitioned_tables()) as t;

alter table public.user_activity enable row level security, force row level security;
alter table public.api_usage enable row level security, force row level security;
alter table public.error_logs enable row level security, force row level security;
alter table public.performance_metrics enable row level security, force row level security;
