-- Rollback of 009_api_hardening: the policies, grants, functions, triggers and tables of 009 go;
-- 002's cycle trigger, 004's grants and 006's functions come back as they were. Queued storage
-- deletions and rate counters are dropped with their tables.
drop policy project_components_insert on public.project_components;
create policy project_components_insert on public.project_components for insert to authenticated
  with check (owner_id = (select auth.uid())
              or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy project_components_update on public.project_components;
create policy project_components_update on public.project_components for update to authenticated
  using (owner_id = (select auth.uid())
         or project_id in (select private.shared_project_ids('{editor,admin}')))
  with check (owner_id = (select auth.uid())
              or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy project_components_delete on public.project_components;
create policy project_components_delete on public.project_components for delete to authenticated
  using (owner_id = (select auth.uid())
         or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy audio_recordings_insert on public.audio_recordings;
create policy audio_recordings_insert on public.audio_recordings for insert to authenticated
  with check (user_id = (select auth.uid())
              and (owner_id = (select auth.uid())
                   or project_id in (select private.shared_project_ids('{editor,admin}'))));
drop policy audio_recordings_update on public.audio_recordings;
create policy audio_recordings_update on public.audio_recordings for update to authenticated
  using (owner_id = (select auth.uid())
         or project_id in (select private.shared_project_ids('{editor,admin}')))
  with check (owner_id = (select auth.uid())
              or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy audio_recordings_delete on public.audio_recordings;
create policy audio_recordings_delete on public.audio_recordings for delete to authenticated
  using (owner_id = (select auth.uid())
         or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy prompt_generations_insert on public.prompt_generations;
create policy prompt_generations_insert on public.prompt_generations for insert to authenticated
  with check (user_id = (select auth.uid())
              and (owner_id = (select auth.uid())
                   or project_id in (select private.shared_project_ids('{editor,admin}'))));
drop policy prompt_generations_update on public.prompt_generations;
create policy prompt_generations_update on public.prompt_generations for update to authenticated
  using (owner_id = (select auth.uid())
         or project_id in (select private.shared_project_ids('{editor,admin}')))
  with check (owner_id = (select auth.uid())
              or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy prompt_generations_delete on public.prompt_generations;
create policy prompt_generations_delete on public.prompt_generations for delete to authenticated
  using (owner_id = (select auth.uid())
         or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy projects_update on public.projects;
create policy projects_update on public.projects for update to authenticated
  using (owner_id = (select auth.uid()) or id in (select private.shared_project_ids('{editor,admin}')))
  with check (owner_id = (select auth.uid())
              or id in (select private.shared_project_ids('{editor,admin}'))
              or id in (select private.own_project_ids()));
drop function private.own_trashed_project_ids();
drop policy api_usage_insert_own on public.api_usage;
create policy api_usage_insert_own on public.api_usage for insert to authenticated
  with check (user_id = (select auth.uid()));
drop policy user_activity_insert_own on public.user_activity;
create policy user_activity_insert_own on public.user_activity for insert to authenticated
  with check (user_id = (select auth.uid()));

revoke insert on public.api_usage from authenticated;
grant insert on public.api_usage to authenticated;
revoke insert on public.user_activity from authenticated;
grant insert on public.user_activity to authenticated;
revoke insert on public.collaborators from authenticated;
grant insert on public.collaborators to authenticated;
revoke insert on public.prompt_generations from authenticated;
grant insert on public.prompt_generations to authenticated;
revoke insert on public.audio_recordings from authenticated;
grant insert on public.audio_recordings to authenticated;
revoke insert on public.project_components from authenticated;
grant insert on public.project_components to authenticated;
revoke insert, update on public.projects from authenticated;
grant insert on public.projects to authenticated;
grant update (name, description, layout, settings, deleted_at, owner_id) on public.projects to authenticated;

drop trigger collaborators_withdraw_invitations on public.collaborators;
drop function private.collaborators_withdraw_invitations();

create or replace function public.accept_invitation(p_project_id uuid) returns uuid
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

create or replace function public.log_error(
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

create or replace function public.record_metric(p_metric text, p_value double precision, p_unit text, p_tags jsonb default '{}')
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

drop function private.take_rate(text, integer);
drop table private.api_rate_limits;
alter table public.performance_metrics drop column user_id;

alter table public.audio_recordings drop constraint audio_recordings_component_fkey;
alter table public.audio_recordings add constraint audio_recordings_component_id_fkey
  foreign key (component_id) references public.project_components (id) on delete set null;
create index audio_recordings_component_id_idx on public.audio_recordings (component_id);
drop index public.audio_recordings_project_id_component_id_idx;

drop trigger project_components_count_cap on public.project_components;
drop function private.component_count_cap();
drop trigger project_components_prevent_cycle on public.project_components;

create or replace function public.project_components_prevent_cycle() returns trigger
  language plpgsql set search_path = '' as $$
begin
  if new.parent_id is not null and exists (
    with recursive ancestors(id, parent_id) as (
      select c.id, c.parent_id from public.project_components c where c.id = new.parent_id
      union
      select c.id, c.parent_id from public.project_components c join ancestors a on c.id = a.parent_id
    )
    select from ancestors where id = new.id
  ) then
    raise exception 'component % cannot be nested inside its own descendant %', new.id, new.parent_id
      using errcode = '23514', hint = 'Move the component under a container that is not inside it.';
  end if;
  return new;
end
$$;

create trigger project_components_prevent_cycle before update of parent_id on public.project_components
  for each row execute function public.project_components_prevent_cycle();

drop function public.accept_project_transfer(uuid);
drop function public.offer_project_transfer(uuid, text);
drop table public.project_transfers;

drop function public.restore_project(uuid);

create or replace function public.soft_delete_project(p_project_id uuid, p_user_id uuid) returns timestamptz
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

drop trigger projects_enforce_quota on public.projects;

create or replace function public.enforce_project_quota() returns trigger
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

drop trigger projects_api_rules on public.projects;
drop function private.projects_api_rules();

drop trigger users_forget_audio on public.users;
drop trigger projects_forget_audio on public.projects;
drop function private.users_forget_audio(), private.projects_forget_audio(), private.forget_audio_objects(uuid[], uuid[]);
drop table private.storage_deletions;

alter table public.collaborators drop constraint collaborators_invited_email_ascii;
alter table public.users drop constraint users_email_ascii;
drop function private.is_api_call();
