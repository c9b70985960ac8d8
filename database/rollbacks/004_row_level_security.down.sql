-- Rollback of 004_row_level_security: drops the policies and helpers and gives back the grants the
-- tables and functions had before (Supabase's defaults, which the bootstrap reproduces).
alter default privileges grant execute on functions to public;
alter default privileges in schema public grant all on functions to anon, authenticated;
alter default privileges in schema public grant all on tables to anon, authenticated;
alter default privileges in schema public grant all on sequences to anon, authenticated;

drop policy api_usage_insert_own on public.api_usage;
drop policy api_usage_select_own on public.api_usage;
drop policy user_activity_insert_own on public.user_activity;
drop policy user_activity_select_own on public.user_activity;
drop policy collaborators_delete on public.collaborators;
drop policy collaborators_update on public.collaborators;
drop policy collaborators_insert on public.collaborators;
drop policy collaborators_select on public.collaborators;
drop policy prompt_generations_delete on public.prompt_generations;
drop policy prompt_generations_update on public.prompt_generations;
drop policy prompt_generations_insert on public.prompt_generations;
drop policy prompt_generations_select on public.prompt_generations;
drop policy audio_recordings_delete on public.audio_recordings;
drop policy audio_recordings_update on public.audio_recordings;
drop policy audio_recordings_insert on public.audio_recordings;
drop policy audio_recordings_select on public.audio_recordings;
drop policy project_components_delete on public.project_components;
drop policy project_components_update on public.project_components;
drop policy project_components_insert on public.project_components;
drop policy project_components_select on public.project_components;
drop policy projects_delete_own on public.projects;
drop policy projects_update on public.projects;
drop policy projects_insert_own on public.projects;
drop policy projects_select on public.projects;
drop policy users_update_own on public.users;
drop policy users_select_own on public.users;

drop trigger projects_owner_columns on public.projects;
drop index public.collaborators_invited_email_idx;
alter table public.accounts drop constraint accounts_tokens_encrypted;
drop schema private cascade;

revoke all on public.users, public.projects, public.project_components, public.audio_recordings,
  public.prompt_generations, public.collaborators, public.user_activity, public.api_usage
  from authenticated;
grant all on public.users, public.accounts, public.sessions, public.verification_tokens, public.projects,
  public.project_components, public.audio_recordings, public.prompt_generations, public.collaborators,
  public.user_activity, public.api_usage, public.error_logs, public.performance_metrics
  to anon, authenticated;
grant execute on all functions in schema public to public, anon, authenticated;
revoke all on function public.create_monthly_partitions(text, integer, date), public.drop_old_partitions(text, interval)
  from public, anon, authenticated;
