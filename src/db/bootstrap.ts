import { readFile } from "node:fs/promises";
import path from "node:path";
import type pg from "pg";
import { VpbError } from "../errors.ts";
import { withTransaction } from "../migrations/transaction.ts";
import { PACKAGE_ROOT } from "../package-root.ts";

const BOOTSTRAP_FILE = path.join(PACKAGE_ROOT, "database/bootstrap/supabase-compat.sql");

export type BootstrapResult =
  /** A real Supabase database: nothing was read or changed. */
  | { kind: "supabase" }
  /** Everything was already there: nothing ran. */
  | { kind: "present" }
  /** The file ran; `missing` lists what was absent before. */
  | { kind: "applied"; missing: string[] };

// Supabase's own admin role and its storage service's migration table exist on Supabase only.
const IS_SUPABASE = `
  select exists (select from pg_roles where rolname = 'supabase_admin')
      or to_regclass('storage.migrations') is not null as supabase`;

/** Whether the role has a cluster-wide statement_timeout of its own (the bootstrap sets Supabase's). */
function roleTimeout(role: "anon" | "authenticated"): string {
  return `select from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
       where r.rolname = '${role}' and s.setdatabase = 0
         and exists (select from unnest(s.setconfig) c where c like 'statement_timeout=%')`;
}

const MISSING = `
  select item from (values
    ('role anon', exists (select from pg_roles where rolname = 'anon')),
    ('role authenticated', exists (select from pg_roles where rolname = 'authenticated')),
    ('role service_role', exists (select from pg_roles where rolname = 'service_role')),
    ('role authenticator', exists (select from pg_roles where rolname = 'authenticator')),
    ('schema auth', exists (select from pg_namespace where nspname = 'auth')),
    ('schema storage', exists (select from pg_namespace where nspname = 'storage')),
    ('function auth.uid()', to_regprocedure('auth.uid()') is not null),
    ('function auth.role()', to_regprocedure('auth.role()') is not null),
    ('function auth.email()', to_regprocedure('auth.email()') is not null),
    ('function auth.jwt()', to_regprocedure('auth.jwt()') is not null),
    ('table storage.buckets', to_regclass('storage.buckets') is not null),
    ('table storage.objects', to_regclass('storage.objects') is not null),
    ('function storage.foldername(text)', to_regprocedure('storage.foldername(text)') is not null),
    ('function storage.filename(text)', to_regprocedure('storage.filename(text)') is not null),
    ('function storage.extension(text)', to_regprocedure('storage.extension(text)') is not null),
    ('function storage.protect_delete()', to_regprocedure('storage.protect_delete()') is not null),
    ('trigger protect_buckets_delete', exists (select from pg_trigger
       where tgrelid = to_regclass('storage.buckets') and tgname = 'protect_buckets_delete')),
    ('trigger protect_objects_delete', exists (select from pg_trigger
       where tgrelid = to_regclass('storage.objects') and tgname = 'protect_objects_delete')),
    ('setting anon statement_timeout', exists (${roleTimeout("anon")})),
    ('setting authenticated statement_timeout', exists (${roleTimeout("authenticated")})),
    ('storage grants of the API roles limited to select, insert, update, delete', not exists (
       select from pg_class t, aclexplode(t.relacl) a join pg_roles r on r.oid = a.grantee
        where t.oid in (to_regclass('storage.buckets'), to_regclass('storage.objects'))
          and r.rolname in ('anon', 'authenticated')
          and a.privilege_type not in ('SELECT', 'INSERT', 'UPDATE', 'DELETE')))
  ) as t(item, present)
  where not present`;

/**
 * Gives a plain PostgreSQL what Supabase provides (roles, auth helpers, storage schema), in one
 * transaction. Never touches a real Supabase database; runs nothing when all is present.
 * The caller holds the migration lock, so concurrent runs do not race on CREATE ROLE.
 */
export async function applyBootstrap(client: pg.Client): Promise<BootstrapResult> {
  const { rows } = await client.query<{ supabase: boolean }>(IS_SUPABASE);
  if (rows[0]?.supabase) return { kind: "supabase" };
  const missing = (await client.query<{ item: string }>(MISSING)).rows.map((r) => r.item);
  if (missing.length === 0) return { kind: "present" };
  const sql = await readFile(BOOTSTRAP_FILE, "utf8");
  try {
    await withTransaction(client, () => client.query(sql));
  } catch (cause) {
    throw new VpbError(
      "BOOTSTRAP_FAILED",
      `The Supabase compatibility bootstrap failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      "The connecting role needs CREATEROLE and BYPASSRLS rights (a superuser has both) the first time.",
      { cause },
    );
  }
  return { kind: "applied", missing };
}
