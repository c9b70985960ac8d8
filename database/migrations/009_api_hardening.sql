-- 009_api_hardening: what a hostile signed-in user could do through the API (issue 11), closed.
-- - API roles choose no ids (but a component's: the canvas names new components so that one change
--   can link children to parents), versions, trash dates or timestamps: column-level INSERT grants.
-- - Deleting a project or a user (DELETE, purge, account deletion) removes the storage rows of its
--   audio files and queues the files for the storage sweep (private.storage_deletions): a project
--   created later with the same id finds nothing.
-- - Transfers are offers the recipient accepts (offer_project_transfer, accept_project_transfer),
--   the quota checked then; API roles cannot write owner_id or deleted_at, a project in the trash
--   is read-only, and soft_delete_project / restore_project are the only ways in and out of it.
-- - The quota trigger answers another owner's insert with the RLS refusal, before counting anything.
-- - Component trees: cycles are checked on INSERT and UPDATE, after the statement's rows are all
--   there, under a per-project lock; nesting is at most 100 deep and a project holds at most 10,000
--   components, so no single call does unbounded work.
-- - References: audio_recordings.component_id must name a component of the same project (composite
--   key); activity and usage rows may name only projects (and own generations) the user can read.
-- - Monitoring: record_metric records the caller; API callers of log_error and record_metric get no
--   'critical' severity, smaller payloads, a tagged request id and 60 calls a minute each.
-- - Invitations expire after 14 days, are withdrawn when their inviter stops being an admin of the
--   project, and one addressed by email is accepted only by a verified address.
-- - Email addresses are ASCII: lower() then folds nothing but A-Z, so no look-alike (U+0130 'İ',
--   U+212A KELVIN SIGN) reaches the same account or invitation as another address.

-- Whether the statement runs for an API request: the caller's role, which SECURITY DEFINER does not
-- change (the role setting of SET ROLE, as PostgREST and the SDK set it), or the current user.
create function private.is_api_call() returns boolean
  language sql stable set search_path = '' as $$
  select current_user in ('anon', 'authenticated')
      or coalesce(current_setting('role', true), '') in ('anon', 'authenticated')
$$;
revoke all on function private.is_api_call() from public;
grant execute on function private.is_api_call() to service_role;

-- Email addresses: ASCII only (see above). Validated here, in this transaction: no deployed
-- database yet, and the runner's lock_timeout makes a busy table fail the migration fast.
alter table public.users add constraint users_email_ascii check (email !~ '[^\x21-\x7e]') not valid;
alter table public.collaborators add constraint collaborators_invited_email_ascii
  check (invited_email !~ '[^\x21-\x7e]') not valid;
-- squawk-ignore constraint-missing-not-valid
alter table public.users validate constraint users_email_ascii;
-- squawk-ignore constraint-missing-not-valid
alter table public.collaborators validate constraint collaborators_invited_email_ascii;

-- ---------------------------------------------------------------------------------------------
-- Storage of deleted projects and users.

-- Files whose storage rows went with their project or uploader; the storage service deletes the
-- files and then the queue rows. Nobody else reads or writes it.
create table private.storage_deletions (
  bucket_id text not null,
  name text not null,
  queued_at timestamptz not null default now(),
  constraint storage_deletions_pkey primary key (bucket_id, name)
);
alter table private.storage_deletions enable row level security, force row level security;
revoke all on private.storage_deletions from public, anon, authenticated;
grant all on private.storage_deletions to service_role;
comment on table private.storage_deletions is
  'Audio files whose project or uploader was deleted: the storage service deletes each file, then its row.';

-- Removes the storage rows of audio files under the given projects or uploaders and queues their
-- files. Storage refuses a DELETE unless the transaction allows it (as its API does): allowed for
-- this statement, the previous value restored after it.
create function private.forget_audio_objects(p_project_ids uuid[], p_user_ids uuid[]) returns void
  language plpgsql security definer set search_path = '' as $$
declare
  previous text := current_setting('storage.allow_delete_query', true);
begin
  perform set_config('storage.allow_delete_query', 'true', true);
  with gone as (
    delete from storage.objects o
     where o.bucket_id = 'audio-recordings'
       and (private.audio_path_project(o.name) = any (p_project_ids)
            or private.audio_path_user(o.name) = any (p_user_ids))
    returning o.bucket_id, o.name
  )
  insert into private.storage_deletions (bucket_id, name)
  select gone.bucket_id, gone.name from gone
  on conflict do nothing;
  perform set_config('storage.allow_delete_query', coalesce(previous, ''), true);
end
$$;
create function private.projects_forget_audio() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  perform private.forget_audio_objects(array(select gone.id from gone), '{}');
  return null;
end
$$;
create function private.users_forget_audio() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  perform private.forget_audio_objects('{}', array(select gone.id from gone));
  return null;
end
$$;
revoke all on function private.forget_audio_objects(uuid[], uuid[]), private.projects_forget_audio(),
  private.users_forget_audio() from public;
create trigger projects_forget_audio after delete on public.projects
  referencing old table as gone for each statement execute function private.projects_forget_audio();
create trigger users_forget_audio after delete on public.users
  referencing old table as gone for each statement execute function private.users_forget_audio();

-- ---------------------------------------------------------------------------------------------
-- Projects: owner first, trash read-only, quota on every way in.

-- API roles: an insert names the caller as owner, refused exactly as RLS refuses it but before the
-- quota trigger could count another user's projects. Named to fire before projects_enforce_quota
-- (triggers go by name).
create function private.projects_api_rules() returns trigger
  language plpgsql set search_path = '' as $$
begin
  -- current_user: the functions that may do more (soft_delete_project, restore_project,
  -- accept_project_transfer) run as the owner.
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  if new.owner_id is distinct from (select auth.uid()) then
    raise exception 'new row violates row-level security policy for table "projects"' using errcode = '42501';
  end if;
  return new;
end
$$;
revoke all on function private.projects_api_rules() from public;
create trigger projects_api_rules before insert on public.projects
  for each row execute function private.projects_api_rules();

-- The projects of the caller in the trash: their content is read-only (the policies below).
create function private.own_trashed_project_ids() returns setof uuid
  rows 10
  language plpgsql stable security definer set search_path = '' as $$
begin
  return query select p.id from public.projects p where p.owner_id = auth.uid() and p.deleted_at is not null;
end
$$;
revoke all on function private.own_trashed_project_ids() from public;
grant execute on function private.own_trashed_project_ids() to authenticated, service_role;

-- The quota now also holds when a project changes owner (a transfer): the new owner's count.
-- Otherwise as in 006.
create or replace function public.enforce_project_quota() returns trigger
  language plpgsql security definer set search_path = '' as $$
declare
  max_projects integer;
  active bigint;
begin
  if tg_op = 'UPDATE' and not (
       (old.deleted_at is not null and new.deleted_at is null)
       or (new.owner_id is distinct from old.owner_id and new.deleted_at is null)) then
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
drop trigger projects_enforce_quota on public.projects;
create trigger projects_enforce_quota before insert or update of deleted_at, owner_id on public.projects
  for each row execute function public.enforce_project_quota();

-- Moves the caller's project to the trash (now), as in 006; runs as the owner because API roles may
-- no longer write deleted_at themselves. An API caller acts for itself only.
create or replace function public.soft_delete_project(p_project_id uuid, p_user_id uuid) returns timestamptz
  language plpgsql security definer set search_path = '' as $$
declare
  deleted timestamptz;
begin
  if p_user_id is null then
    raise exception 'a user id is required' using errcode = '22004';
  end if;
  if private.is_api_call() and p_user_id is distinct from auth.uid() then
    raise exception 'cannot act for another user' using errcode = '42501',
      hint = 'Pass your own user id (auth.uid()).';
  end if;
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

-- Takes the caller's project out of the trash; the plan's quota applies (quota_exceeded).
create function public.restore_project(p_project_id uuid) returns void
  language plpgsql security definer set search_path = '' as $$
begin
  if auth.uid() is null then
    raise exception 'restoring a project needs a signed-in user' using errcode = '42501';
  end if;
  update public.projects set deleted_at = null
   where id = p_project_id and owner_id = auth.uid() and deleted_at is not null;
  if not found then
    raise exception 'project not found in the trash' using errcode = 'P0002',
      hint = 'Check the project id; only the owner can restore a project.';
  end if;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Transfers: an offer to an address, accepted by the account with that (verified) address.

create table public.project_transfers (
  id uuid primary key default gen_random_uuid(),
  -- One pending offer per project.
  project_id uuid not null references public.projects (id) on delete cascade
    constraint project_transfers_project_id_key unique,
  offered_by uuid not null references public.users (id) on delete cascade,
  recipient_email text not null
    constraint project_transfers_recipient_email_format
    check (recipient_email ~ '^[^@[:space:]]+@[^@[:space:]]+$' and length(recipient_email) <= 320
           and recipient_email !~ '[^\x21-\x7e]'),
  offered_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '7 days'
);
create index project_transfers_offered_by_idx on public.project_transfers (offered_by);
create index project_transfers_recipient_email_idx on public.project_transfers (lower(recipient_email));
alter table public.project_transfers enable row level security, force row level security;
comment on table public.project_transfers is
  'A pending offer of a project to another user, by email: accepted by them (accept_project_transfer), withdrawn or declined by deleting it.';

-- The owner offers their project (outside the trash) to an address; a new offer replaces the old.
-- Returns when the offer expires. Whether an account has that address is not revealed.
create function public.offer_project_transfer(p_project_id uuid, p_recipient_email text) returns timestamptz
  language plpgsql security definer set search_path = '' as $$
declare
  me uuid := auth.uid();
  expires timestamptz;
begin
  if me is null then
    raise exception 'offering a project needs a signed-in user' using errcode = '42501';
  end if;
  if p_recipient_email is null or lower(p_recipient_email) = (select lower(u.email) from public.users u where u.id = me) then
    raise exception 'offer_project_transfer: the recipient must be another address' using errcode = '22023';
  end if;
  perform from public.projects p where p.id = p_project_id and p.owner_id = me and p.deleted_at is null for update;
  if not found then
    raise exception 'project not found' using errcode = 'P0002',
      hint = 'Check the project id; only the owner can transfer a project, and not from the trash.';
  end if;
  insert into public.project_transfers (project_id, offered_by, recipient_email)
  values (p_project_id, me, p_recipient_email)
  on conflict (project_id) do update set offered_by = excluded.offered_by, recipient_email = excluded.recipient_email,
    offered_at = excluded.offered_at, expires_at = excluded.expires_at
  returning expires_at into expires;
  return expires;
end
$$;

-- The recipient accepts: the project becomes theirs if the offerer still owns it, it is outside the
-- trash, the offer has not expired and the recipient's address is verified; their plan's quota
-- applies. The project changes hands alone: its collaborators and pending invitations are removed
-- (the new owner shares it anew), so nobody the old owner chose keeps a way in.
create function public.accept_project_transfer(p_project_id uuid) returns void
  language plpgsql security definer set search_path = '' as $$
declare
  me uuid := auth.uid();
begin
  if me is null then
    raise exception 'accepting a transfer needs a signed-in user' using errcode = '42501';
  end if;
  perform from public.project_transfers t
    join public.projects p on p.id = t.project_id and p.owner_id = t.offered_by and p.deleted_at is null
    join public.users u on u.id = me and u.email_verified is not null and lower(u.email) = lower(t.recipient_email)
   where t.project_id = p_project_id and t.expires_at > now()
     for update of p, t;
  if not found then
    raise exception 'transfer offer not found' using errcode = 'P0002',
      hint = 'The offer may have expired, been withdrawn, or be addressed to another (or an unverified) email.';
  end if;
  delete from public.collaborators c where c.project_id = p_project_id;
  delete from public.project_transfers t where t.project_id = p_project_id;
  update public.projects set owner_id = me where id = p_project_id;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Component trees: no cycles, bounded depth and size.

-- After the statement's rows are all in (one INSERT of two rows naming each other is seen whole),
-- under a per-project lock (two concurrent moves queue, and the second sees the first): a component
-- may not be its own ancestor, nor sit under more than 100 ancestors, which also bounds this walk.
create or replace function public.project_components_prevent_cycle() returns trigger
  language plpgsql set search_path = '' as $$
declare
  v_looped boolean;
  v_depth integer;
begin
  if new.parent_id is null then
    return null;
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('vpb.component_tree:' || new.project_id::text, 0));
  with recursive up (id, parent_id, depth) as (
    select c.id, c.parent_id, 1 from public.project_components c where c.id = new.parent_id
    union all
    select c.id, c.parent_id, up.depth + 1 from public.project_components c join up on c.id = up.parent_id
     where up.id <> new.id and up.depth <= 100
  )
  select coalesce(bool_or(up.id = new.id), false), coalesce(max(up.depth), 0) into v_looped, v_depth from up;
  if v_looped then
    raise exception 'component % cannot be nested inside its own descendant %', new.id, new.parent_id
      using errcode = '23514', constraint = 'project_components_no_cycle',
            hint = 'Move the component under a container that is not inside it.';
  end if;
  if v_depth > 100 then
    raise exception 'components nest at most 100 deep' using errcode = '23514',
      constraint = 'project_components_nesting_depth', hint = 'Attach the component closer to the root.';
  end if;
  return null;
end
$$;
drop trigger project_components_prevent_cycle on public.project_components;
create trigger project_components_prevent_cycle after insert or update of parent_id on public.project_components
  for each row execute function public.project_components_prevent_cycle();

-- At most 10,000 components per project (database/README.md): checked once per statement for each
-- project it added to, under the same per-project lock, so that concurrent inserts cannot both pass.
create function private.component_count_cap() returns trigger
  language plpgsql security definer set search_path = '' as $$
declare
  pid uuid;
begin
  for pid in select distinct added.project_id from added order by 1 loop
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('vpb.component_tree:' || pid::text, 0));
    if (select count(*) from public.project_components c where c.project_id = pid) > 10000 then
      raise exception 'a project holds at most 10000 components' using errcode = '23514',
        constraint = 'project_components_per_project', hint = 'Delete components, or split the canvas into projects.';
    end if;
  end loop;
  return null;
end
$$;
revoke all on function private.component_count_cap() from public;
create trigger project_components_count_cap after insert on public.project_components
  referencing new table as added for each statement execute function private.component_count_cap();

-- ---------------------------------------------------------------------------------------------
-- References into other users' data.

-- An audio recording's component belongs to the recording's project. The single-column key goes;
-- this one takes its place (and its index: a component's deletion finds its recordings by both).
-- Validated in this transaction, and the index built plainly: no deployed database yet, and the
-- runner's lock_timeout makes a busy table fail the migration fast.
-- squawk-ignore require-concurrent-index-creation
create index audio_recordings_project_id_component_id_idx on public.audio_recordings (project_id, component_id);
alter table public.audio_recordings drop constraint audio_recordings_component_id_fkey;
-- squawk-ignore require-concurrent-index-deletion
drop index public.audio_recordings_component_id_idx;
alter table public.audio_recordings add constraint audio_recordings_component_fkey
  foreign key (project_id, component_id) references public.project_components (project_id, id)
  on delete set null (component_id) not valid;
-- squawk-ignore constraint-missing-not-valid
alter table public.audio_recordings validate constraint audio_recordings_component_fkey;

-- ---------------------------------------------------------------------------------------------
-- Monitoring: the caller recorded, payloads bounded, a rate per user.

alter table public.performance_metrics add column user_id uuid;
comment on column public.performance_metrics.user_id is
  'Who recorded it (auth.uid() through record_metric); no foreign key: metrics outlive accounts.';

-- Calls per user and kind in the current minute.
create table private.api_rate_limits (
  user_id uuid not null,
  kind text not null,
  window_start timestamptz not null,
  calls bigint not null,
  constraint api_rate_limits_pkey primary key (user_id, kind)
);
alter table private.api_rate_limits enable row level security, force row level security;
revoke all on private.api_rate_limits from public, anon, authenticated;
comment on table private.api_rate_limits is 'Per-user call counts of the current minute (log_error, record_metric).';

-- Counts one call of p_kind for the caller and refuses it past p_per_minute in the current minute.
create function private.take_rate(p_kind text, p_per_minute integer) returns void
  language plpgsql security definer set search_path = '' as $$
declare
  n bigint;
begin
  insert into private.api_rate_limits as r (user_id, kind, window_start, calls)
  values (coalesce(auth.uid(), '00000000-0000-0000-0000-000000000000'), p_kind, date_trunc('minute', now()), 1)
  on conflict (user_id, kind) do update
    set calls = case when r.window_start = excluded.window_start then r.calls + 1 else 1 end,
        window_start = excluded.window_start
  returning calls into n;
  if n > p_per_minute then
    raise exception '% is limited to % calls a minute', p_kind, p_per_minute using errcode = '54000',
      hint = 'Batch or sample what you report.';
  end if;
end
$$;
revoke all on function private.take_rate(text, integer) from public;

-- As in 006; API callers: no 'critical' (kept for the server), message 2000 characters, stack 8000,
-- context 4 kB, request id 100 characters stored as 'client:<id>' (never taken for a server's),
-- 60 calls a minute.
create or replace function public.log_error(
  p_severity text, p_source text, p_message text, p_error_code text default null,
  p_stack text default null, p_context jsonb default '{}', p_request_id text default null
) returns uuid language plpgsql security definer set search_path = '' as $$
declare
  new_id uuid;
  request_id text := p_request_id;
begin
  if private.is_api_call() then
    if p_severity is null or p_severity not in ('debug', 'info', 'warning', 'error') then
      raise exception 'log_error: severity must be debug, info, warning or error' using errcode = '22023';
    end if;
    if length(p_message) > 2000 or length(p_stack) > 8000 or octet_length(p_context::text) > 4096
       or length(p_request_id) > 92 then
      raise exception 'log_error: message, stack, context or request id too large' using errcode = '22023',
        hint = 'At most 2000 characters of message, 8000 of stack, 4 kB of context, 92 of request id.';
    end if;
    perform private.take_rate('log_error', 60);
    request_id := 'client:' || p_request_id;
  end if;
  insert into public.error_logs (user_id, severity, source, message, error_code, stack, context, request_id)
  values (auth.uid(), p_severity, p_source, p_message, p_error_code, p_stack, coalesce(p_context, '{}'), request_id)
  returning id into new_id;
  return new_id;
end
$$;

-- As in 006, with the caller recorded; API callers: tags 1 kB, 60 calls a minute.
create or replace function public.record_metric(p_metric text, p_value double precision, p_unit text, p_tags jsonb default '{}')
  returns uuid language plpgsql security definer set search_path = '' as $$
declare
  new_id uuid;
begin
  if private.is_api_call() then
    if octet_length(p_tags::text) > 1024 then
      raise exception 'record_metric: tags too large' using errcode = '22023', hint = 'At most 1 kB of tags.';
    end if;
    perform private.take_rate('record_metric', 60);
  end if;
  insert into public.performance_metrics (metric, value, unit, tags, user_id)
  values (p_metric, p_value, p_unit, coalesce(p_tags, '{}'), auth.uid())
  returning id into new_id;
  return new_id;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Invitations: expiry, withdrawal with the inviter's admin role, verified addresses.

-- As in 006, but an invitation expires 14 days after it was sent, and one found by email needs a
-- verified address (an unverified account with that address is not its owner yet).
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
   where c.project_id = p_project_id and c.accepted_at is null and c.invited_at > now() - interval '14 days'
     and (c.user_id = me
          or (c.user_id is null and lower(c.invited_email) = (
                select lower(u.email) from public.users u where u.id = me and u.email_verified is not null)))
  returning c.id into accepted;
  if accepted is null then
    raise exception 'invitation not found' using errcode = 'P0002',
      hint = 'The invitation may have expired (14 days), been accepted or withdrawn, or be addressed to another or an unverified email.';
  end if;
  return accepted;
end
$$;

-- An admin who leaves, is removed or demoted takes their pending invitations in that project along.
create function private.collaborators_withdraw_invitations() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  delete from public.collaborators c
   where c.project_id = old.project_id and c.invited_by = old.user_id and c.accepted_at is null;
  return null;
end
$$;
revoke all on function private.collaborators_withdraw_invitations() from public;
create trigger collaborators_withdraw_invitations after delete or update of role on public.collaborators
  for each row when (old.role = 'admin' and old.accepted_at is not null and old.user_id is not null)
  execute function private.collaborators_withdraw_invitations();

-- ---------------------------------------------------------------------------------------------
-- Grants: the columns API roles may write (ids, versions, trash dates, timestamps, owners of
-- existing projects and bucket names are not among them).

revoke insert, update on public.projects from authenticated;
grant insert (owner_id, name, description, layout, settings) on public.projects to authenticated;
grant update (name, description, layout, settings) on public.projects to authenticated;

revoke insert on public.project_components from authenticated;
grant insert (id, project_id, parent_id, type, position_x, position_y, width, height, z_index, content)
  on public.project_components to authenticated;

revoke insert on public.audio_recordings from authenticated;
grant insert (project_id, user_id, component_id, storage_path, mime_type, size_bytes, duration_ms, sample_rate_hz,
  transcript, transcript_status) on public.audio_recordings to authenticated;

revoke insert on public.prompt_generations from authenticated;
grant insert (project_id, user_id, input_snapshot, output, model, status, input_tokens, output_tokens, cost_usd,
  latency_ms, error_message, completed_at) on public.prompt_generations to authenticated;

revoke insert on public.collaborators from authenticated;
grant insert (project_id, user_id, invited_email, role, invited_by) on public.collaborators to authenticated;

revoke insert on public.user_activity from authenticated;
grant insert (user_id, project_id, action, metadata, occurred_at) on public.user_activity to authenticated;

revoke insert on public.api_usage from authenticated;
grant insert (user_id, project_id, generation_id, provider, model, endpoint, input_tokens, output_tokens, cost_usd,
  latency_ms, status_code, occurred_at) on public.api_usage to authenticated;

grant select, delete on public.project_transfers to authenticated;
grant all on public.project_transfers to service_role;

revoke execute on function public.restore_project(uuid), public.offer_project_transfer(uuid, text),
  public.accept_project_transfer(uuid) from public, anon;
grant execute on function public.restore_project(uuid), public.offer_project_transfer(uuid, text),
  public.accept_project_transfer(uuid) to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- Policies (last).

-- The offerer and the recipient see an offer and may delete it (withdraw, decline).
create policy project_transfers_select on public.project_transfers for select to authenticated
  using (offered_by = (select auth.uid()) or lower(recipient_email) = (select private.current_user_email()));
create policy project_transfers_delete on public.project_transfers for delete to authenticated
  using (offered_by = (select auth.uid()) or lower(recipient_email) = (select private.current_user_email()));

-- Activity and usage name only projects the user can read (projects' own policy decides), usage
-- only the user's own generations of that project.
drop policy user_activity_insert_own on public.user_activity;
create policy user_activity_insert_own on public.user_activity for insert to authenticated
  with check (user_id = (select auth.uid())
              and (project_id is null or exists (select from public.projects p where p.id = user_activity.project_id)));
drop policy api_usage_insert_own on public.api_usage;
create policy api_usage_insert_own on public.api_usage for insert to authenticated
  with check (user_id = (select auth.uid())
              and (project_id is null or exists (select from public.projects p where p.id = api_usage.project_id))
              and (generation_id is null
                   or exists (select from public.prompt_generations g
                               where g.id = api_usage.generation_id and g.project_id = api_usage.project_id
                                 and g.user_id = (select auth.uid()))));

-- A project in the trash is read-only: its owner's updates pass it by, as do writes to its content
-- (restore_project takes it out).
drop policy projects_update on public.projects;
create policy projects_update on public.projects for update to authenticated
  using ((owner_id = (select auth.uid()) and deleted_at is null)
         or id in (select private.shared_project_ids('{editor,admin}')))
  with check (owner_id = (select auth.uid())
              or id in (select private.shared_project_ids('{editor,admin}'))
              or id in (select private.own_project_ids()));
drop policy project_components_insert on public.project_components;
create policy project_components_insert on public.project_components for insert to authenticated
  with check ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
              or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy project_components_update on public.project_components;
create policy project_components_update on public.project_components for update to authenticated
  using ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
         or project_id in (select private.shared_project_ids('{editor,admin}')))
  with check ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
              or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy project_components_delete on public.project_components;
create policy project_components_delete on public.project_components for delete to authenticated
  using ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
         or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy audio_recordings_insert on public.audio_recordings;
create policy audio_recordings_insert on public.audio_recordings for insert to authenticated
  with check (user_id = (select auth.uid())
              and ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
                   or project_id in (select private.shared_project_ids('{editor,admin}'))));
drop policy audio_recordings_update on public.audio_recordings;
create policy audio_recordings_update on public.audio_recordings for update to authenticated
  using ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
         or project_id in (select private.shared_project_ids('{editor,admin}')))
  with check ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
              or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy audio_recordings_delete on public.audio_recordings;
create policy audio_recordings_delete on public.audio_recordings for delete to authenticated
  using ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
         or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy prompt_generations_insert on public.prompt_generations;
create policy prompt_generations_insert on public.prompt_generations for insert to authenticated
  with check (user_id = (select auth.uid())
              and ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
                   or project_id in (select private.shared_project_ids('{editor,admin}'))));
drop policy prompt_generations_update on public.prompt_generations;
create policy prompt_generations_update on public.prompt_generations for update to authenticated
  using ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
         or project_id in (select private.shared_project_ids('{editor,admin}')))
  with check ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
              or project_id in (select private.shared_project_ids('{editor,admin}')));
drop policy prompt_generations_delete on public.prompt_generations;
create policy prompt_generations_delete on public.prompt_generations for delete to authenticated
  using ((owner_id = (select auth.uid()) and project_id not in (select private.own_trashed_project_ids()))
         or project_id in (select private.shared_project_ids('{editor,admin}')));
