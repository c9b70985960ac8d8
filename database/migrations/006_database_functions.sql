-- 006_database_functions: the functions the app calls instead of several round trips, the project
-- quota, updated_at and version triggers, and the cleanup functions (each returns what it removed).
--
-- Every function runs with the caller's rights (RLS applies) and pins search_path. A function that
-- takes a user id refuses, when called by an API role, any id but the caller's own (auth.uid()).

-- Refuses a call made for another user by the anon or authenticated role (42501).
create function public.assert_acting_user(p_user_id uuid) returns void
  language plpgsql stable set search_path = '' as $$
begin
  if p_user_id is null then
    raise exception 'a user id is required' using errcode = '22004';
  end if;
  if current_user in ('anon', 'authenticated') and p_user_id is distinct from auth.uid() then
    raise exception 'cannot act for another user' using errcode = '42501',
      hint = 'Pass your own user id (auth.uid()).';
  end if;
end
$$;

-- updated_at follows every update, whatever the client sends.
create function public.set_updated_at() returns trigger
  language plpgsql set search_path = '' as $$
begin
  new.updated_at := now();
  return new;
end
$$;

create trigger users_set_updated_at before update on public.users
  for each row execute function public.set_updated_at();
create trigger accounts_set_updated_at before update on public.accounts
  for each row execute function public.set_updated_at();
create trigger projects_set_updated_at before update on public.projects
  for each row execute function public.set_updated_at();
create trigger project_components_set_updated_at before update on public.project_components
  for each row execute function public.set_updated_at();
create trigger audio_recordings_set_updated_at before update on public.audio_recordings
  for each row execute function public.set_updated_at();
create trigger collaborators_set_updated_at before update on public.collaborators
  for each row execute function public.set_updated_at();

-- Optimistic concurrency: every update of a project bumps its version; a writer that read version N
-- updates "where version = N" and learns of a concurrent change when no row matches.
create function public.projects_bump_version() returns trigger
  language plpgsql set search_path = '' as $$
begin
  new.version := old.version + 1;
  return new;
end
$$;
create trigger projects_bump_version before update on public.projects
  for each row execute function public.projects_bump_version();

-- Active projects allowed per plan; NULL means no limit.
create function public.plan_project_limit(p_plan text) returns integer
  language sql immutable set search_path = '' as $$
  select case p_plan when 'free' then 10 when 'pro' then 100 when 'team' then 1000 else null end
$$;

-- True when p_user_id has fewer than p_max active (not soft-deleted) projects.
create function public.check_project_quota(p_user_id uuid, p_max integer) returns boolean
  language plpgsql stable set search_path = '' as $$
begin
  perform public.assert_acting_user(p_user_id);
  if p_max is null or p_max < 0 then
    raise exception 'check_project_quota: max must be zero or more, got %', p_max using errcode = '22023';
  end if;
  return (select count(*) from public.projects where owner_id = p_user_id and deleted_at is null) < p_max;
end
$$;

-- Enforces the plan's limit when a project is created or restored. The per-user advisory lock makes
-- concurrent creations queue, so two sessions cannot both take the last free place. Runs as the
-- owner: the count must see every project of the user, whatever the caller may read.
create function public.enforce_project_quota() returns trigger
  language plpgsql security definer set search_path = '' as $$
declare
  max_projects integer;
  active bigint;
begin
  if tg_op = 'UPDATE' and not (old.deleted_at is not null and new.deleted_at is null) then
    return new;
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('vpb.project_quota:' || new.owner_id::text, 0));
  select public.plan_project_limit(u.plan) into max_projects from public.users u where u.id = new.owner_id;
  if max_projects is null then
    return new;
  end if;
  select count(*) into active from public.projects p
   where p.owner_id = new.owner_id and p.deleted_at is null and p.id <> new.id;
  if active >= max_projects then
    raise exception 'project quota exceeded: % of % active projects', active, max_projects
      using errcode = 'P0001', detail = 'quota_exceeded',
            hint = 'Delete a project, empty the trash, or upgrade the plan.';
  end if;
  return new;
end
$$;
create trigger projects_enforce_quota before insert or update of deleted_at on public.projects
  for each row execute function public.enforce_project_quota();

-- Counts for a user's dashboard, in one call.
create function public.get_user_project_stats(p_user_id uuid)
  returns table (
    active_projects bigint,
    deleted_projects bigint,
    components bigint,
    audio_recordings bigint,
    prompt_generations bigint,
    total_cost_usd numeric,
    last_project_update timestamptz
  )
  language plpgsql stable set search_path = '' as $$
begin
  perform public.assert_acting_user(p_user_id);
  return query
  with mine as (select p.id, p.deleted_at, p.updated_at from public.projects p where p.owner_id = p_user_id)
  select
    count(*) filter (where m.deleted_at is null),
    count(*) filter (where m.deleted_at is not null),
    (select count(*) from public.project_components c where c.project_id in (select id from mine where deleted_at is null)),
    (select count(*) from public.audio_recordings a where a.project_id in (select id from mine where deleted_at is null)),
    (select count(*) from public.prompt_generations g where g.project_id in (select id from mine where deleted_at is null)),
    (select coalesce(sum(u.cost_usd), 0) from public.api_usage u where u.user_id = p_user_id),
    max(m.updated_at) filter (where m.deleted_at is null)
  from mine m;
end
$$;

-- A user's API cost of one calendar month (UTC), by provider and model; no rows for an empty month.
create function public.get_monthly_api_costs(p_user_id uuid, p_month date)
  returns table (provider text, model text, calls bigint, input_tokens bigint, output_tokens bigint, cost_usd numeric)
  language plpgsql stable set search_path = '' as $$
declare
  month_start timestamptz;
begin
  perform public.assert_acting_user(p_user_id);
  if p_month is null then
    raise exception 'get_monthly_api_costs: a month is required' using errcode = '22004';
  end if;
  month_start := date_trunc('month', p_month::timestamp) at time zone 'UTC';
  return query
  select u.provider, u.model, count(*), sum(u.input_tokens)::bigint, sum(u.output_tokens)::bigint, sum(u.cost_usd)
    from public.api_usage u
   where u.user_id = p_user_id
     and u.occurred_at >= month_start and u.occurred_at < month_start + interval '1 month'
   group by u.provider, u.model
   order by sum(u.cost_usd) desc, u.provider, u.model;
end
$$;

-- Moves an owner's project to the trash; returns when it was deleted (again the same time if it
-- already was). A missing project, or one the user does not own, is "not found" (P0002) alike.
create function public.soft_delete_project(p_project_id uuid, p_user_id uuid) returns timestamptz
  language plpgsql set search_path = '' as $$
declare
  deleted timestamptz;
begin
  perform public.assert_acting_user(p_user_id);
  update public.projects set deleted_at = coalesce(deleted_at, now())
   where id = p_project_id and owner_id = p_user_id
  returning deleted_at into deleted;
  if deleted is null then
    raise exception 'project not found' using errcode = 'P0002',
      hint = 'Check the project id; only the owner can delete a project.';
  end if;
  return deleted;
end
$$;

-- Copies a project the user can read into a new project the user owns: layout, settings and every
-- component with new ids, parent links kept. Returns the new project's id. Audio files are not
-- copied (their storage objects belong to the source project).
create function public.duplicate_project(p_source_id uuid, p_user_id uuid, p_name text) returns uuid
  language plpgsql set search_path = '' as $$
declare
  v_project_id uuid;
begin
  perform public.assert_acting_user(p_user_id);
  insert into public.projects (owner_id, name, description, layout, settings)
  select p_user_id, coalesce(p_name, p.name || ' (copy)'), p.description, p.layout, p.settings
    from public.projects p
   where p.id = p_source_id and p.deleted_at is null
  returning id into v_project_id;
  if v_project_id is null then
    raise exception 'project not found' using errcode = 'P0002',
      hint = 'Check the project id; a deleted project cannot be duplicated.';
  end if;
  -- One statement: foreign keys are checked at its end, so children may precede their parents.
  with ids as (
    select c.id as old_id, gen_random_uuid() as new_id from public.project_components c where c.project_id = p_source_id
  )
  insert into public.project_components
    (id, project_id, parent_id, type, position_x, position_y, width, height, z_index, content)
  select ids.new_id, v_project_id, parent.new_id, c.type, c.position_x, c.position_y, c.width, c.height, c.z_index, c.content
    from public.project_components c
    join ids on ids.old_id = c.id
    left join ids parent on parent.old_id = c.parent_id;
  return v_project_id;
end
$$;

-- Removes expired sessions and verification tokens; returns how many of each.
create function public.cleanup_expired_auth()
  returns table (sessions_removed bigint, verification_tokens_removed bigint)
  language plpgsql set search_path = '' as $$
declare
  s bigint;
  v bigint;
begin
  delete from public.sessions where expires < now();
  get diagnostics s = row_count;
  delete from public.verification_tokens where expires < now();
  get diagnostics v = row_count;
  return query select s, v;
end
$$;

-- Permanently removes projects that have been in the trash longer than p_grace; returns their ids.
create function public.purge_deleted_projects(p_grace interval default interval '30 days')
  returns setof uuid language plpgsql set search_path = '' as $$
begin
  if p_grace is null or p_grace < interval '0' then
    raise exception 'purge_deleted_projects: grace must be zero or more' using errcode = '22023';
  end if;
  return query with purged as (delete from public.projects where deleted_at < now() - p_grace returning id)
    select purged.id from purged;
end
$$;

-- Drops analytics partitions past their retention (activity and metrics 13 months, errors 3 months,
-- API usage 25 months: a full billing year beyond the last); returns the dropped partitions.
create function public.cleanup_analytics_partitions()
  returns setof text language sql set search_path = '' as $$
  select public.drop_old_partitions('user_activity', interval '13 months')
  union all select public.drop_old_partitions('performance_metrics', interval '13 months')
  union all select public.drop_old_partitions('error_logs', interval '3 months')
  union all select public.drop_old_partitions('api_usage', interval '25 months')
$$;

-- The invitee accepts an invitation addressed to them (by user id, or by their email while the
-- invitation has no user yet); returns the membership's id. Runs as the owner: an invitee may not
-- update collaborators otherwise.
create function public.accept_invitation(p_project_id uuid) returns uuid
  language plpgsql security definer set search_path = '' as $$
declare
  me uuid := auth.uid();
  accepted uuid;
begin
  if me is null then
    raise exception 'accepting an invitation needs a signed-in user' using errcode = '42501';
  end if;
  update public.collaborators c set user_id = me, accepted_at = now()
   where c.project_id = p_project_id and c.accepted_at is null
     and (c.user_id = me or (c.user_id is null and lower(c.invited_email) = (select lower(u.email) from public.users u where u.id = me)))
  returning c.id into accepted;
  if accepted is null then
    raise exception 'invitation not found' using errcode = 'P0002',
      hint = 'The invitation may have been accepted already, withdrawn, or addressed to another email.';
  end if;
  return accepted;
end
$$;

-- Error logs and metrics are written through these two functions only: the API roles cannot touch
-- the tables. The caller's id is recorded by the function, never taken from the client.
create function public.log_error(
  p_severity text, p_source text, p_message text, p_error_code text default null,
  p_stack text default null, p_context jsonb default '{}', p_request_id text default null
) returns uuid language plpgsql security definer set search_path = '' as $$
declare
  new_id uuid;
begin
  insert into public.error_logs (user_id, severity, source, message, error_code, stack, context, request_id)
  values (auth.uid(), p_severity, p_source, p_message, p_error_code, p_stack, coalesce(p_context, '{}'), p_request_id)
  returning id into new_id;
  return new_id;
end
$$;

create function public.record_metric(p_metric text, p_value double precision, p_unit text, p_tags jsonb default '{}')
  returns uuid language plpgsql security definer set search_path = '' as $$
declare
  new_id uuid;
begin
  insert into public.performance_metrics (metric, value, unit, tags)
  values (p_metric, p_value, p_unit, coalesce(p_tags, '{}'))
  returning id into new_id;
  return new_id;
end
$$;

-- What the app may call as a signed-in user. Everything else here is for the service role, the
-- triggers and the scheduled cleanup.
revoke execute on all functions in schema public from public, anon, authenticated;
grant execute on all functions in schema public to service_role;
grant execute on function
  public.assert_acting_user(uuid),
  public.get_user_project_stats(uuid),
  public.get_monthly_api_costs(uuid, date),
  public.check_project_quota(uuid, integer),
  public.soft_delete_project(uuid, uuid),
  public.duplicate_project(uuid, uuid, text),
  public.accept_invitation(uuid),
  public.log_error(text, text, text, text, text, jsonb, text),
  public.record_metric(text, double precision, text, jsonb)
  to authenticated;
