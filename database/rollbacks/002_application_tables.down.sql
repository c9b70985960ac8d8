-- Rollback of 002_application_tables: drops the application tables, dependents first.
drop table public.collaborators;
drop table public.prompt_generations;
drop table public.audio_recordings;
drop table public.project_components;
drop function public.project_components_prevent_cycle();
drop table public.projects;
