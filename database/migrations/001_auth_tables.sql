-- 001_auth_tables: users and the Auth.js tables (accounts, sessions, verification tokens).
--
-- Shaped for an Auth.js adapter. Session and verification tokens are stored as sha256 digests only,
-- so a leaked table holds no live credential; OAuth tokens are stored encrypted by the application
-- (see database/README.md). Every table is born with row level security enabled and forced: until
-- 004 adds policies, only roles that bypass RLS see any row.

create table public.users (
  id uuid primary key default gen_random_uuid(),
  email text not null
    constraint users_email_format check (email ~ '^[^@[:space:]]+@[^@[:space:]]+$' and length(email) <= 320),
  email_verified timestamptz,
  name text constraint users_name_length check (length(name) <= 200),
  image text constraint users_image_length check (length(image) <= 2048),
  display_name text constraint users_display_name_length check (length(display_name) between 1 and 100),
  plan text not null default 'free' constraint users_plan_check check (plan in ('free', 'pro', 'team', 'enterprise')),
  settings jsonb not null default '{}' constraint users_settings_object check (jsonb_typeof(settings) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_seen_at timestamptz
);
-- One account per address whatever its case: Alice@x.org and alice@x.org are the same person.
create unique index users_email_lower_key on public.users (lower(email));
comment on table public.users is 'People who use the app: profile, plan and settings (Auth.js users).';

create table public.accounts (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  type text not null constraint accounts_type_check check (type in ('oauth', 'oidc', 'email', 'webauthn')),
  provider text not null constraint accounts_provider_length check (length(provider) between 1 and 100),
  provider_account_id text not null
    constraint accounts_provider_account_id_length check (length(provider_account_id) between 1 and 255),
  -- Encrypted by the application before they reach the database (AES-256-GCM envelopes).
  refresh_token text,
  access_token text,
  id_token text,
  expires_at bigint constraint accounts_expires_at_check check (expires_at >= 0),
  token_type text constraint accounts_token_type_length check (length(token_type) <= 50),
  scope text constraint accounts_scope_length check (length(scope) <= 2048),
  session_state text constraint accounts_session_state_length check (length(session_state) <= 2048),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint accounts_provider_account_key unique (provider, provider_account_id)
);
create index accounts_user_id_idx on public.accounts (user_id);
comment on table public.accounts is 'OAuth and other provider connections of a user (Auth.js accounts).';

create table public.sessions (
  id uuid primary key default gen_random_uuid(),
  -- sha256 of the session cookie's token: the token itself is never stored.
  session_token_hash bytea not null constraint sessions_token_hash_length check (octet_length(session_token_hash) = 32),
  user_id uuid not null references public.users (id) on delete cascade,
  expires timestamptz not null,
  created_at timestamptz not null default now(),
  constraint sessions_session_token_hash_key unique (session_token_hash)
);
create index sessions_user_id_idx on public.sessions (user_id);
create index sessions_expires_idx on public.sessions (expires);
comment on table public.sessions is 'Database sessions (Auth.js); tokens stored as sha256 digests.';

create table public.verification_tokens (
  id uuid primary key default gen_random_uuid(),
  identifier text not null constraint verification_tokens_identifier_length check (length(identifier) between 1 and 320),
  -- sha256 of the emailed token: the token itself is never stored.
  token_hash bytea not null constraint verification_tokens_token_hash_length check (octet_length(token_hash) = 32),
  expires timestamptz not null,
  created_at timestamptz not null default now(),
  constraint verification_tokens_identifier_token_key unique (identifier, token_hash)
);
create index verification_tokens_expires_idx on public.verification_tokens (expires);
comment on table public.verification_tokens is 'One-time email sign-in tokens (Auth.js); stored as sha256 digests.';

alter table public.users enable row level security, force row level security;
alter table public.accounts enable row level security, force row level security;
alter table public.sessions enable row level security, force row level security;
alter table public.verification_tokens enable row level security, force row level security;
