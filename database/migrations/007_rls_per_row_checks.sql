-- 007_rls_per_row_checks: the same access model as 004 and 005 (database/policies/access-matrix.json
-- is unchanged), checked on the rows a statement reads instead of against every project the caller
-- may reach.
--
-- Why: 004's policies asked a SECURITY DEFINER helper for every project the caller may read or edit,
-- owned ones included, and PostgreSQL builds that set whole before checking a row. Cheap for a user
-- with 15 projects; a user with 25,000 paid 13 ms on every statement touching components, prompts,
-- audio or collaborators, whatever the statement returned. Now:
-- - projects: the owner test comes first and needs nothing else; the set of projects shared with the
--   caller (their collaborations: few, whatever the size of their own account) is built only when a
--   row is not theirs;
-- - components, audio recordings and prompts carry their project's owner (owner_id, kept equal to
--   projects.owner_id by triggers), so they pass the same owner test on their own columns, with no
--   lookup of the project; shared projects go through the same small set;
-- - collaborators and stored audio objects are checked through their project's row
--   (`exists (select from projects ...)`: projects' own policy decides).
-- The helpers are SECURITY DEFINER with a pinned search_path: projects' policy cannot read
-- collaborators directly, since collaborators' policies read projects and RLS would recurse.

-- Accepted collaborations of the caller in projects outside the trash, with one of these roles.
create function private.shared_project_ids(p_roles text[]) returns setof uuid
  rows 10
  language plpgsql stable security definer set search_path = '' as $$
begin
  return query
  select c.project_id from public.collaborators c join public.projects p on p.id = c.project_id
   where c.user_id = auth.uid() and c.accepted_at is not null and c.role = any (p_roles)
     and p.deleted_at is null;
end
$$;

-- The caller's own projects as the statement found them, the trash included. PostgreSQL checks the
-- new row of an UPDATE against the SELECT policy too, and after a transfer that row is already the
-- new owner's. Asked last, so only rows failing the other tests pay for it, once per statement.
create function private.own_project_ids() returns setof uuid
  rows 20
  language plpgsql stable security definer set search_path = '' as $$
begin
  return query select p.id from public.projects p where p.owner_id = auth.uid();
end
$$;

revoke all on function private.shared_project_ids(text[]), private.own_project_ids() from public;
grant execute on function private.shared_project_ids(text[]), private.own_project_ids()
  to authenticated, service_role;

drop policy projects_select on public.projects;
create policy projects_select on public.projects for select to authenticated
  using (owner_id = (select auth.uid())
         or id in (select private.shared_project_ids('{viewer,editor,admin}'))
         or id in (select private.own_project_ids()));
drop policy projects_update on public.projects;
create policy projects_update on public.projects for update to authenticated
  using (owner_id = (select auth.uid()) or id in (select private.shared_project_ids('{editor,admin}')))
  with check (owner_id = (select auth.uid())
              or id in (select private.shared_project_ids('{editor,admin}'))
              or id in (select private.own_project_ids()));

-- A project's content carries the project's owner. Whatever an insert says, owner_id is the
-- project's (so nobody passes the owner test by naming themself), it moves with a transfer, and it is
-- NULL only while the row is refused anyway (no such project: the foreign key on project_id fails).
create function private.content_owner() returns trigger
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
revoke all on function private.content_owner(), private.projects_owner_to_content() from public;

-- Existing rows are filled in without touching their updated_at.
alter table public.project_components add column owner_id uuid;
alter table public.audio_recordings add column owner_id uuid;
alter table public.prompt_generations add column owner_id uuid;
alter table public.project_components disable trigger project_components_set_updated_at;
alter table public.audio_recordings disable trigger audio_recordings_set_updated_at;
update public.project_components c set owner_id = p.owner_id from public.projects p where p.id = c.project_id;
update public.audio_recordings a set owner_id = p.owner_id from public.projects p where p.id = a.project_id;
update public.prompt_generations g set owner_id = p.owner_id from public.projects p where p.id = g.project_id;
alter table public.project_components enable trigger project_components_set_updated_at;
alter table public.audio_recordings enable trigger audio_recordings_set_updated_at;
comment on column public.project_components.owner_id is
  'The project''s owner, kept by triggers (for row level security).';
comment on column public.audio_recordings.owner_id is
  'The project''s owner, kept by triggers (for row level security).';
comment on column public.prompt_generations.owner_id is
  'The project''s owner, kept by triggers (for row level security).';

create trigger project_components_owner
  before insert or update of project_id, owner_id on public.project_components
  for each row execute function private.content_owner();
create trigger audio_recordings_owner
  before insert or update of project_id, owner_id on public.audio_recordings
  for each row execute function private.content_owner();
create trigger prompt_generations_owner
  before insert or update of project_id, owner_id on public.prompt_generations
  for each row execute function private.content_owner();
create trigger projects_owner_to_content after update of owner_id on public.projects
  for each row when (new.owner_id is distinct from old.owner_id)
  execute function private.projects_owner_to_content();

-- Readable by the project's readers, written by its owner, editors and admins.
drop policy project_components_select on public.project_components;
create policy project_components_select on public.project_components for select to authenticated
  using (owner_id = (select auth.uid())
         or project_id in (select private.shared_project_ids('{viewer,editor,admin}')));
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

drop policy audio_recordings_select on public.audio_recordings;
create policy audio_recordings_select on public.audio_recordings for select to authenticated
  using (owner_id = (select auth.uid())
         or project_id in (select private.shared_project_ids('{viewer,editor,admin}')));
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

drop policy prompt_generations_select on public.prompt_generations;
create policy prompt_generations_select on public.prompt_generations for select to authenticated
  using (owner_id = (select auth.uid())
         or project_id in (select private.shared_project_ids('{viewer,editor,admin}')));
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

-- collaborators: members see the list, the invitee sees their invitation, admins (and the owner,
-- outside the trash) manage it, a collaborator may leave.
drop policy collaborators_select on public.collaborators;
create policy collaborators_select on public.collaborators for select to authenticated
  using (user_id = (select auth.uid())
         or exists (select from public.projects p where p.id = collaborators.project_id)
         or lower(invited_email) = (select private.current_user_email()));
drop policy collaborators_insert on public.collaborators;
create policy collaborators_insert on public.collaborators for insert to authenticated
  with check (invited_by = (select auth.uid())
              and user_id is distinct from (select auth.uid())
              and lower(invited_email) is distinct from (select private.current_user_email())
              and accepted_at is null
              and exists (select from public.projects p
                           where p.id = collaborators.project_id and p.deleted_at is null
                             and (p.owner_id = (select auth.uid())
                                  or p.id in (select private.shared_project_ids('{admin}')))));
drop policy collaborators_update on public.collaborators;
create policy collaborators_update on public.collaborators for update to authenticated
  using (exists (select from public.projects p
                  where p.id = collaborators.project_id and p.deleted_at is null
                    and (p.owner_id = (select auth.uid())
                         or p.id in (select private.shared_project_ids('{admin}')))))
  with check (exists (select from public.projects p
                       where p.id = collaborators.project_id and p.deleted_at is null
                         and (p.owner_id = (select auth.uid())
                              or p.id in (select private.shared_project_ids('{admin}')))));
drop policy collaborators_delete on public.collaborators;
create policy collaborators_delete on public.collaborators for delete to authenticated
  using (user_id = (select auth.uid())
         or exists (select from public.projects p
                     where p.id = collaborators.project_id and p.deleted_at is null
                       and (p.owner_id = (select auth.uid())
                            or p.id in (select private.shared_project_ids('{admin}')))));

-- Stored audio: the project named in the object's path, checked through its row the same way.
drop policy vpb_audio_select on storage.objects;
create policy vpb_audio_select on storage.objects for select to authenticated
  using (bucket_id = 'audio-recordings'
         and exists (select from public.projects p where p.id = private.audio_path_project(objects.name)));
drop policy vpb_audio_insert on storage.objects;
create policy vpb_audio_insert on storage.objects for insert to authenticated
  with check (bucket_id = 'audio-recordings'
              and private.audio_path_user(name) = (select auth.uid())
              and exists (select from public.projects p
                           where p.id = private.audio_path_project(objects.name)
                             and (p.owner_id = (select auth.uid())
                                  or p.id in (select private.shared_project_ids('{editor,admin}')))));
drop policy vpb_audio_update on storage.objects;
create policy vpb_audio_update on storage.objects for update to authenticated
  using (bucket_id = 'audio-recordings' and private.audio_path_user(name) = (select auth.uid()))
  with check (bucket_id = 'audio-recordings'
              and private.audio_path_user(name) = (select auth.uid())
              and exists (select from public.projects p
                           where p.id = private.audio_path_project(objects.name)
                             and (p.owner_id = (select auth.uid())
                                  or p.id in (select private.shared_project_ids('{editor,admin}')))));
drop policy vpb_audio_delete on storage.objects;
create policy vpb_audio_delete on storage.objects for delete to authenticated
  using (bucket_id = 'audio-recordings'
         and (private.audio_path_user(name) = (select auth.uid())
              or exists (select from public.projects p
                          where p.id = private.audio_path_project(objects.name)
                            and p.owner_id = (select auth.uid()) and p.deleted_at is null)));

drop function private.readable_project_ids(), private.editable_project_ids(), private.admin_project_ids(),
  private.owned_project_ids();
