-- Rollback of 001_auth_tables: drops the four auth tables (their indexes and constraints go with them).
drop table public.verification_tokens;
drop table public.sessions;
drop table public.accounts;
drop table public.users;
