-- Supabase compatibility for plain PostgreSQL: the API roles, auth.uid()/role()/jwt()/email() and the
-- storage schema, defined as Supabase defines them, so that the numbered migrations run unchanged on both.
--
-- vpb-db applies this file only where Supabase itself is absent (see src/bootstrap.ts), under the
-- migration lock. Every statement checks before it creates, so a second run changes nothing, and
-- anything a database already has (its own roles, its own auth.uid()) is kept as it is.

DO $roles$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  -- The role PostgREST logs in as; it switches to one of the three above per request.
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
    CREATE ROLE authenticator LOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (
    SELECT FROM pg_auth_members m
    JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
    WHERE r.rolname = 'service_role' AND u.rolname = 'authenticator'
  ) THEN
    GRANT anon, authenticated, service_role TO authenticator;
  END IF;
  -- Supabase's role timeouts (anon 3 s, authenticated 8 s), kept where a role already has its own.
  -- A role's settings apply when a session logs in as it; PostgREST (11.1+) logs in as authenticator,
  -- so it reads these settings from pg_db_role_setting and applies them with set_config(..., true) in
  -- every request's transaction after SET ROLE, as database/README.md describes.
  IF NOT EXISTS (SELECT FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
                  WHERE r.rolname = 'anon' AND s.setdatabase = 0
                    AND EXISTS (SELECT FROM unnest(s.setconfig) c WHERE c LIKE 'statement_timeout=%')) THEN
    ALTER ROLE anon SET statement_timeout = '3s';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
                  WHERE r.rolname = 'authenticated' AND s.setdatabase = 0
                    AND EXISTS (SELECT FROM unnest(s.setconfig) c WHERE c LIKE 'statement_timeout=%')) THEN
    ALTER ROLE authenticated SET statement_timeout = '8s';
  END IF;
END
$roles$;

CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS storage;

GRANT USAGE ON SCHEMA public, auth, storage TO anon, authenticated, service_role;

-- Supabase grants the API roles everything new in public and lets RLS decide; so do we, so that
-- migrations written for Supabase (which must revoke what they do not want) behave the same here.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;

-- The claims come from request.jwt.claims (PostgREST 9+) or, for older clients, request.jwt.claim.*,
-- exactly as Supabase's own definitions read them.
DO $auth$
BEGIN
  IF to_regprocedure('auth.uid()') IS NULL THEN
    CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $fn$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $fn$;
  END IF;
  IF to_regprocedure('auth.role()') IS NULL THEN
    CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $fn$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text
    $fn$;
  END IF;
  IF to_regprocedure('auth.email()') IS NULL THEN
    CREATE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS $fn$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
      )::text
    $fn$;
  END IF;
  IF to_regprocedure('auth.jwt()') IS NULL THEN
    CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $fn$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $fn$;
  END IF;
END
$auth$;

GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.email(), auth.jwt()
  TO anon, authenticated, service_role;

-- Storage API metadata, with the columns and meaning of Supabase Storage's tables. file_size_limit is
-- in bytes; allowed_mime_types NULL means any type.
CREATE TABLE IF NOT EXISTS storage.buckets (
  id text PRIMARY KEY,
  name text NOT NULL,
  owner uuid,
  owner_id text,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  public boolean DEFAULT false,
  avif_autodetection boolean DEFAULT false,
  file_size_limit bigint,
  allowed_mime_types text[]
);
CREATE UNIQUE INDEX IF NOT EXISTS bname ON storage.buckets USING btree (name);

CREATE TABLE IF NOT EXISTS storage.objects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  bucket_id text REFERENCES storage.buckets (id),
  name text,
  owner uuid,
  owner_id text,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  last_accessed_at timestamptz DEFAULT now(),
  metadata jsonb,
  path_tokens text[] GENERATED ALWAYS AS (string_to_array(name, '/')) STORED,
  version text,
  user_metadata jsonb
);
CREATE UNIQUE INDEX IF NOT EXISTS bucketid_objname ON storage.objects USING btree (bucket_id, name);
CREATE INDEX IF NOT EXISTS name_prefix_search ON storage.objects USING btree (name text_pattern_ops);

ALTER TABLE storage.buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;
-- Supabase Storage grants ALL on both tables to the API roles; the API roles get here only what RLS
-- governs: TRUNCATE ignores RLS (an API user could empty every bucket), TRIGGER and REFERENCES let a
-- user attach code or locks to the tables, and MAINTAIN (PostgreSQL 17) takes any lock on them. A
-- database made by an older bootstrap, which granted ALL, loses the rest too.
GRANT ALL ON storage.buckets, storage.objects TO service_role;
REVOKE ALL ON storage.buckets, storage.objects FROM anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON storage.buckets, storage.objects TO anon, authenticated;

-- Path helpers, same results as Supabase's: 'a/b/c.mp3' -> {a,b}, 'c.mp3', 'mp3'.
DO $helpers$
BEGIN
  IF to_regprocedure('storage.foldername(text)') IS NULL THEN
    CREATE FUNCTION storage.foldername(name text) RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $fn$
    DECLARE
      _parts text[] := string_to_array(name, '/');
    BEGIN
      RETURN _parts[1:array_length(_parts, 1) - 1];
    END
    $fn$;
  END IF;
  IF to_regprocedure('storage.filename(text)') IS NULL THEN
    CREATE FUNCTION storage.filename(name text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
    DECLARE
      _parts text[] := string_to_array(name, '/');
    BEGIN
      RETURN _parts[array_length(_parts, 1)];
    END
    $fn$;
  END IF;
  IF to_regprocedure('storage.extension(text)') IS NULL THEN
    CREATE FUNCTION storage.extension(name text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
    DECLARE
      _parts text[] := string_to_array(name, '/');
      _filename text := _parts[array_length(_parts, 1)];
    BEGIN
      RETURN reverse(split_part(reverse(_filename), '.', 1));
    END
    $fn$;
  END IF;
END
$helpers$;

-- Supabase Storage refuses a DELETE on its two tables unless the transaction has set
-- storage.allow_delete_query to 'true' (its API does so for every request): a row deleted by plain
-- SQL would leave its stored file behind. Same statement-level triggers, same SQLSTATE and message,
-- so that a migration or rollback that forgets the setting fails here as it would on Supabase.
DO $protect$
BEGIN
  IF to_regprocedure('storage.protect_delete()') IS NULL THEN
    CREATE FUNCTION storage.protect_delete() RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $fn$
    BEGIN
      IF current_setting('storage.allow_delete_query', true) IS DISTINCT FROM 'true' THEN
        RAISE EXCEPTION 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
          USING ERRCODE = '42501', HINT = 'This prevents accidental data loss from orphaned objects.';
      END IF;
      RETURN NULL;
    END
    $fn$;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_trigger
                  WHERE tgrelid = 'storage.buckets'::regclass AND tgname = 'protect_buckets_delete') THEN
    CREATE TRIGGER protect_buckets_delete BEFORE DELETE ON storage.buckets
      FOR EACH STATEMENT EXECUTE FUNCTION storage.protect_delete();
  END IF;
  IF NOT EXISTS (SELECT FROM pg_trigger
                  WHERE tgrelid = 'storage.objects'::regclass AND tgname = 'protect_objects_delete') THEN
    CREATE TRIGGER protect_objects_delete BEFORE DELETE ON storage.objects
      FOR EACH STATEMENT EXECUTE FUNCTION storage.protect_delete();
  END IF;
END
$protect$;
