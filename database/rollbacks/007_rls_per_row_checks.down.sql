-- Rollback of 007_rls_per_row_checks: 004's and 005's set-returning helpers and the policies that
-- used them, as those migrations created them.

drop policy projects_select on public.projects;
drop policy projects_update on public.projects;
drop policy project_components_select on public.project_components;
drop policy project_components_insert on public.project_components;
drop policy project_components_update on public.project_components;
drop policy project_components_delete on public.project_components;
drop policy audio_recordings_select on public.audio_recordings;
drop policy audio_recordings_insert on public.audio_recordings;
drop policy audio_recordings_update on public.audio_recordings;
drop policy audio_recordings_delete on public.audio_recordings;
drop policy prompt_generations_select on public.prompt_generations;
drop policy prompt_generations_insert on public.prompt_generations;
drop policy prompt_generations_update on public.prompt_generations;
drop policy prompt_generations_delete on public.prompt_generations;
drop policy collaborators_select on public.collaborators;
drop policy collaborators_insert on public.collaborators;
drop policy collaborators_update on public.collaborators;
drop policy collaborators_delete on public.collaborators;
drop policy vpb_audio_select on storage.objects;
drop policy vpb_audio_insert on storage.objects;
drop policy vpb_audio_update on storage.objects;
drop policy vpb_audio_delete on storage.objects;

-- The projects the caller may read: their own (the trash included) and those shared with them and
-- accepted, unless in the trash.
create function private.readable_project_ids() returns setof uuid
  language plpgsql stable security definer set search_path = '' as $$
declare
  me uuid := auth.uid();
begin
  return query
  select p.id from public.projects p where p.owner_id = me
  union all
  select c.project_id from public.collaborators c join public.projects p on p.id = c.project_id
   where c.user_id = me and c.accepted_at is not null and p.deleted_at is null;
end
$$;

-- The projects whose content the caller may change: their own, and those where they are editor or admin.
create function private.editable_project_ids() returns setof uuid
  language plpgsql stable security definer set search_path = '' as $$
declare
  me uuid := auth.uid();
begin
  return query
  select p.id from public.projects p where p.owner_id = me
  union all
  select c.project_id from public.collaborators c join public.projects p on p.id = c.project_id
   where c.user_id = me and c.accepted_at is not null and c.role in ('editor', 'admin') and p.deleted_at is null;
end
$$;

-- The projects whose collaborators the caller may manage: their own, and those where they are admin.
create function private.admin_project_ids() returns setof uuid
  language plpgsql stable security definer set search_path = '' as $$
declare
  me uuid := auth.uid();
begin
  return query
  select p.id from public.projects p where p.owner_id = me and p.deleted_at is null
  union all
  select c.project_id from public.collaborators c join public.projects p on p.id = c.project_id
   where c.user_id = me and c.accepted_at is not null and c.role = 'admin' and p.deleted_at is null;
end
$$;

revoke all on function private.readable_project_ids(), private.editable_project_ids(),
  private.admin_project_ids() from public;
grant execute on function private.readable_project_ids(), private.editable_project_ids(),
  private.admin_project_ids() to authenticated, service_role;

-- The projects the caller owns (trash excluded).
create function private.owned_project_ids() returns setof uuid
  language plpgsql stable security definer set search_path = '' as $$
begin
  return query select p.id from public.projects p where p.owner_id = auth.uid() and p.deleted_at is null;
end
$$;
revoke all on function private.owned_project_ids() from public;
grant execute on function private.owned_project_ids() to authenticated, service_role;

create policy projects_select on public.projects for select to authenticated
  using (owner_id = (select auth.uid()) or id in (select private.readable_project_ids()));
create policy projects_update on public.projects for update to authenticated
  using (id in (select private.editable_project_ids()))
  with check (id in (select private.editable_project_ids()) or owner_id = (select auth.uid()));

-- components, audio and prompts follow their project
create policy project_components_select on public.project_components for select to authenticated
  using (project_id in (select private.readable_project_ids()));
create policy project_components_insert on public.project_components for insert to authenticated
  with check (project_id in (select private.editable_project_ids()));
create policy project_components_update on public.project_components for update to authenticated
  using (project_id in (select private.editable_project_ids()))
  with check (project_id in (select private.editable_project_ids()));
create policy project_components_delete on public.project_components for delete to authenticated
  using (project_id in (select private.editable_project_ids()));

create policy audio_recordings_select on public.audio_recordings for select to authenticated
  using (project_id in (select private.readable_project_ids()));
create policy audio_recordings_insert on public.audio_recordings for insert to authenticated
  with check (user_id = (select auth.uid()) and project_id in (select private.editable_project_ids()));
create policy audio_recordings_update on public.audio_recordings for update to authenticated
  using (project_id in (select private.editable_project_ids()))
  with check (project_id in (select private.editable_project_ids()));
create policy audio_recordings_delete on public.audio_recordings for delete to authenticated
  using (project_id in (select private.editable_project_ids()));

create policy prompt_generations_select on public.prompt_generations for select to authenticated
  using (project_id in (select private.readable_project_ids()));
create policy prompt_generations_insert on public.prompt_generations for insert to authenticated
  with check (user_id = (select auth.uid()) and project_id in (select private.editable_project_ids()));
create policy prompt_generations_update on public.prompt_generations for update to authenticated
  using (project_id in (select private.editable_project_ids()))
  with check (project_id in (select private.editable_project_ids()));
create policy prompt_generations_delete on public.prompt_generations for delete to authenticated
  using (project_id in (select private.editable_project_ids()));

-- collaborators: members see the list, the invitee sees their invitation, admins manage it, and a
-- collaborator may leave. Accepting goes through accept_invitation() (006).
create policy collaborators_select on public.collaborators for select to authenticated
  using (project_id in (select private.readable_project_ids())
         or user_id = (select auth.uid())
         or lower(invited_email) = (select private.current_user_email()));
create policy collaborators_insert on public.collaborators for insert to authenticated
  with check (project_id in (select private.admin_project_ids())
              and invited_by = (select auth.uid())
              and user_id is distinct from (select auth.uid())
              and lower(invited_email) is distinct from (select private.current_user_email())
              and accepted_at is null);
create policy collaborators_update on public.collaborators for update to authenticated
  using (project_id in (select private.admin_project_ids()))
  with check (project_id in (select private.admin_project_ids()));
create policy collaborators_delete on public.collaborators for delete to authenticated
  using (project_id in (select private.admin_project_ids()) or user_id = (select auth.uid()));

create policy vpb_audio_select on storage.objects for select to authenticated
  using (bucket_id = 'audio-recordings'
         and private.audio_path_project(name) in (select private.readable_project_ids()));
create policy vpb_audio_insert on storage.objects for insert to authenticated
  with check (bucket_id = 'audio-recordings'
              and private.audio_path_user(name) = (select auth.uid())
              and private.audio_path_project(name) in (select private.editable_project_ids()));
create policy vpb_audio_update on storage.objects for update to authenticated
  using (bucket_id = 'audio-recordings' and private.audio_path_user(name) = (select auth.uid()))
  with check (bucket_id = 'audio-recordings'
              and private.audio_path_user(name) = (select auth.uid())
              and private.audio_path_project(name) in (select private.editable_project_ids()));
create policy vpb_audio_delete on storage.objects for delete to authenticated
  using (bucket_id = 'audio-recordings'
         and (private.audio_path_user(name) = (select auth.uid())
              or private.audio_path_project(name) in (select private.owned_project_ids())));

drop trigger projects_owner_to_content on public.projects;
drop trigger project_components_owner on public.project_components;
drop trigger audio_recordings_owner on public.audio_recordings;
drop trigger prompt_generations_owner on public.prompt_generations;
drop function private.content_owner(), private.projects_owner_to_content();
alter table public.project_components drop column owner_id;
alter table public.audio_recordings drop column owner_id;
alter table public.prompt_generations drop column owner_id;
drop function private.shared_project_ids(text[]), private.own_project_ids();
