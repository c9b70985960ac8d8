-- 002_application_tables: projects, their canvas components, audio recordings, prompt history and
-- collaborators. Deleting a user or a project removes everything that depends on it (cascades);
-- every foreign key has an index leading with its columns, so those deletes never scan a table.

create table public.projects (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references public.users (id) on delete cascade,
  name text not null constraint projects_name_check check (length(name) between 1 and 200 and btrim(name) <> ''),
  description text constraint projects_description_length check (length(description) <= 5000),
  -- The canvas: viewport, zoom, grid and connections between components.
  layout jsonb not null default '{}' constraint projects_layout_object check (jsonb_typeof(layout) = 'object'),
  settings jsonb not null default '{}' constraint projects_settings_object check (jsonb_typeof(settings) = 'object'),
  -- Optimistic concurrency: an update names the version it read and bumps it.
  version integer not null default 1 constraint projects_version_positive check (version >= 1),
  -- Soft delete: the project sits in its owner's trash until the cleanup's grace period ends.
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- A user's projects by last update, keyset-paginated on (updated_at, id).
create index projects_owner_id_updated_at_idx on public.projects (owner_id, updated_at desc, id desc);
-- The cleanup finds projects whose grace period has passed.
create index projects_deleted_at_idx on public.projects (deleted_at) where deleted_at is not null;
comment on table public.projects is 'A canvas of prompt components owned by one user, shareable with collaborators.';

create table public.project_components (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  -- Nesting: a component inside a container of the same project (enforced by the composite key).
  parent_id uuid,
  type text not null constraint project_components_type_check
    check (type in ('text', 'prompt', 'variable', 'image', 'audio', 'container', 'note', 'divider')),
  position_x double precision not null default 0 constraint project_components_position_x_range check (position_x between -1e6 and 1e6),
  position_y double precision not null default 0 constraint project_components_position_y_range check (position_y between -1e6 and 1e6),
  width double precision not null default 200 constraint project_components_width_range check (width > 0 and width <= 1e5),
  height double precision not null default 100 constraint project_components_height_range check (height > 0 and height <= 1e5),
  z_index integer not null default 0 constraint project_components_z_index_range check (z_index between -100000 and 100000),
  content jsonb not null default '{}' constraint project_components_content_object check (jsonb_typeof(content) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint project_components_project_id_id_key unique (project_id, id),
  constraint project_components_parent_fkey foreign key (project_id, parent_id)
    references public.project_components (project_id, id) on delete cascade,
  constraint project_components_not_own_parent check (parent_id <> id)
);
-- A project's components in stacking order; also the index of the project_id foreign key.
create index project_components_project_id_z_index_idx on public.project_components (project_id, z_index, id);
create index project_components_project_id_parent_id_idx on public.project_components (project_id, parent_id);
comment on table public.project_components is 'Draggable components on a project''s canvas: type, geometry, stacking, nesting, content.';

-- A component may not become its own ancestor.
create function public.project_components_prevent_cycle() returns trigger
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

create table public.audio_recordings (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  user_id uuid not null references public.users (id) on delete cascade,
  component_id uuid references public.project_components (id) on delete set null,
  bucket_id text not null default 'audio-recordings' constraint audio_recordings_bucket_length check (length(bucket_id) between 1 and 100),
  -- {user_id}/{project_id}/{timestamp}_{filename} in the storage bucket.
  storage_path text not null
    constraint audio_recordings_storage_path_format
    check (storage_path ~ '^[0-9a-f-]{36}/[0-9a-f-]{36}/[0-9]{10,16}_[^/]{1,200}$'
           and starts_with(storage_path, user_id::text || '/' || project_id::text || '/')),
  mime_type text not null constraint audio_recordings_mime_type_check check (mime_type in (
    'audio/mpeg', 'audio/mp3', 'audio/wav', 'audio/x-wav', 'audio/wave', 'audio/webm', 'audio/ogg',
    'audio/mp4', 'audio/x-m4a', 'audio/m4a', 'audio/aac', 'audio/x-aac')),
  size_bytes bigint not null constraint audio_recordings_size_range check (size_bytes between 1 and 52428800),
  duration_ms integer constraint audio_recordings_duration_range check (duration_ms between 0 and 14400000),
  sample_rate_hz integer constraint audio_recordings_sample_rate_range check (sample_rate_hz between 8000 and 192000),
  transcript text constraint audio_recordings_transcript_length check (length(transcript) <= 100000),
  transcript_status text not null default 'none'
    constraint audio_recordings_transcript_status_check check (transcript_status in ('none', 'pending', 'completed', 'failed')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint audio_recordings_bucket_path_key unique (bucket_id, storage_path)
);
create index audio_recordings_project_id_created_at_idx on public.audio_recordings (project_id, created_at desc, id desc);
create index audio_recordings_user_id_created_at_idx on public.audio_recordings (user_id, created_at desc);
create index audio_recordings_component_id_idx on public.audio_recordings (component_id);
comment on table public.audio_recordings is 'Metadata of an audio file stored in the audio-recordings bucket.';

create table public.prompt_generations (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  user_id uuid not null references public.users (id) on delete cascade,
  -- The components and variables the prompt was generated from, as they were.
  input_snapshot jsonb not null constraint prompt_generations_input_object check (jsonb_typeof(input_snapshot) = 'object'),
  output text constraint prompt_generations_output_length check (length(output) <= 200000),
  model text not null constraint prompt_generations_model_length check (length(model) between 1 and 100),
  status text not null default 'pending'
    constraint prompt_generations_status_check check (status in ('pending', 'completed', 'failed', 'cancelled')),
  input_tokens integer not null default 0 constraint prompt_generations_input_tokens_check check (input_tokens >= 0),
  output_tokens integer not null default 0 constraint prompt_generations_output_tokens_check check (output_tokens >= 0),
  cost_usd numeric(12, 6) not null default 0 constraint prompt_generations_cost_check check (cost_usd >= 0),
  latency_ms integer constraint prompt_generations_latency_check check (latency_ms >= 0),
  error_message text constraint prompt_generations_error_length check (length(error_message) <= 2000),
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  constraint prompt_generations_completed_has_output check (status <> 'completed' or output is not null),
  constraint prompt_generations_failed_has_error check (status <> 'failed' or error_message is not null)
);
-- A project's prompt history, newest first, keyset-paginated on (created_at, id).
create index prompt_generations_project_id_created_at_idx on public.prompt_generations (project_id, created_at desc, id desc);
create index prompt_generations_user_id_created_at_idx on public.prompt_generations (user_id, created_at desc);
comment on table public.prompt_generations is 'AI prompt history: input snapshot, output, model, tokens, cost, latency, status.';

create table public.collaborators (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  -- Set at invitation when the address belongs to a user, or at acceptance.
  user_id uuid references public.users (id) on delete cascade,
  invited_email text not null
    constraint collaborators_invited_email_format check (invited_email ~ '^[^@[:space:]]+@[^@[:space:]]+$' and length(invited_email) <= 320),
  role text not null default 'viewer' constraint collaborators_role_check check (role in ('viewer', 'editor', 'admin')),
  invited_by uuid references public.users (id) on delete set null,
  invited_at timestamptz not null default now(),
  accepted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint collaborators_accepted_has_user check (accepted_at is null or user_id is not null),
  constraint collaborators_project_user_key unique (project_id, user_id)
);
create unique index collaborators_project_email_key on public.collaborators (project_id, lower(invited_email));
-- "Projects shared with me" and the membership check of the policies.
create index collaborators_user_id_project_id_idx on public.collaborators (user_id, project_id);
create index collaborators_invited_by_idx on public.collaborators (invited_by);
comment on table public.collaborators is 'Project sharing: an invitation by email with a role, and its acceptance.';

alter table public.projects enable row level security, force row level security;
alter table public.project_components enable row level security, force row level security;
alter table public.audio_recordings enable row level security, force row level security;
alter table public.prompt_generations enable row level security, force row level security;
alter table public.collaborators enable row level security, force row level security;
