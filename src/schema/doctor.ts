import type pg from "pg";

/** What `vpb-db doctor` looks for; each finding names one object and what to do about it. */
export type CheckName =
  | "rls_disabled"
  | "rls_not_forced"
  | "auth_call_per_row"
  | "fk_without_index"
  | "definer_without_search_path"
  | "anon_can_execute";

export interface Finding {
  check: CheckName;
  object: string;
  detail: string;
  remedy: string;
}

/** The schemas the application owns; Supabase's own (auth, storage tables, ...) are not ours to judge. */
export const DEFAULT_SCHEMAS = ["public", "private"];

/** A function may be callable by anon on purpose: say so in its comment. */
export const ANON_ALLOWED_MARKER = "@anon-allowed";

const RLS = `
  select format('%I.%I', n.nspname, c.relname) as object, c.relrowsecurity as enabled, c.relforcerowsecurity as forced
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = any($1) and c.relkind in ('r', 'p') and not (c.relrowsecurity and c.relforcerowsecurity)
   order by 1`;

// Policies of the schemas' tables and those on storage.objects (the app's bucket policies live there).
const POLICIES = `
  select format('%I.%I: policy %I', schemaname, tablename, policyname) as object,
         coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr
    from pg_policies
   where schemaname = any($1) or (schemaname = 'storage' and tablename = 'objects')
   order by 1`;

const FK_WITHOUT_INDEX = `
  select format('%I.%I: %s', n.nspname, cl.relname, pg_get_constraintdef(co.oid)) as object
    from pg_constraint co
    join pg_class cl on cl.oid = co.conrelid join pg_namespace n on n.oid = cl.relnamespace
   where co.contype = 'f' and n.nspname = any($1) and not cl.relispartition
     and not exists (
       select from pg_index i
        where i.indrelid = co.conrelid
          and (i.indkey::int2[])[0:cardinality(co.conkey) - 1] operator(pg_catalog.@>) co.conkey
          and (i.indkey::int2[])[0:cardinality(co.conkey) - 1] operator(pg_catalog.<@) co.conkey)
     -- A key that refines another key to the same table (say (project_id, owner_id) beside
     -- project_id) is served by that key's index: it finds every row the refined key can.
     and not exists (
       select from pg_constraint x join pg_index i on i.indrelid = x.conrelid
        where x.contype = 'f' and x.oid <> co.oid and x.conrelid = co.conrelid and x.confrelid = co.confrelid
          and x.conkey operator(pg_catalog.<@) co.conkey
          and (i.indkey::int2[])[0:cardinality(x.conkey) - 1] operator(pg_catalog.@>) x.conkey
          and (i.indkey::int2[])[0:cardinality(x.conkey) - 1] operator(pg_catalog.<@) x.conkey)
   order by 1`;

const DEFINER = `
  select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as object
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname = any($1) and p.prosecdef
     and not exists (select from unnest(coalesce(p.proconfig, '{}')) s where s like 'search_path=%')
   order by 1`;

const ANON_EXECUTE = `
  select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as object,
         p.prosecdef as definer
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname = any($1)
     and exists (select from pg_roles where rolname = 'anon')
     and has_function_privilege('anon', p.oid, 'EXECUTE')
     and coalesce(obj_description(p.oid, 'pg_proc'), '') not like '%' || $2 || '%'
   order by 1`;

// (select auth.uid()) deparses as "( SELECT auth.uid() AS uid)": evaluated once per statement.
const WRAPPED = /\(\s*SELECT\s+auth\.(uid|jwt|role|email)\(\)\s+AS\s+\w+\)/gi;
const BARE = /auth\.(uid|jwt|role|email)\(\)|current_setting\('request\.jwt/i;

/**
 * Inspects a database for the security and performance mistakes a Supabase schema most often has.
 * Reads only. @example const findings = await runDoctor(client);
 */
export async function runDoctor(client: pg.Client, schemas: string[] = DEFAULT_SCHEMAS): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const r of (await client.query<{ object: string; enabled: boolean; forced: boolean }>(RLS, [schemas]))
    .rows) {
    findings.push(
      r.enabled
        ? {
            check: "rls_not_forced",
            object: r.object,
            detail: "row level security is enabled but not forced: the table's owner skips the policies",
            remedy: `alter table ${r.object} force row level security;`,
          }
        : {
            check: "rls_disabled",
            object: r.object,
            detail: "row level security is off: every role with a grant reads and writes every row",
            remedy: `alter table ${r.object} enable row level security, force row level security; then add policies`,
          },
    );
  }
  for (const r of (await client.query<{ object: string; expr: string }>(POLICIES, [schemas])).rows) {
    if (BARE.test(r.expr.replace(WRAPPED, ""))) {
      findings.push({
        check: "auth_call_per_row",
        object: r.object,
        detail: "the policy calls auth.uid() (or another auth/JWT function) once per row",
        remedy: "wrap the call in a sub-select, (select auth.uid()), so it runs once per statement",
      });
    }
  }
  for (const r of (await client.query<{ object: string }>(FK_WITHOUT_INDEX, [schemas])).rows) {
    findings.push({
      check: "fk_without_index",
      object: r.object,
      detail: "no index leads with the foreign key's columns: deletes of the parent scan this table",
      remedy: "create an index whose first columns are the foreign key's",
    });
  }
  for (const r of (await client.query<{ object: string }>(DEFINER, [schemas])).rows) {
    findings.push({
      check: "definer_without_search_path",
      object: r.object,
      detail:
        "a SECURITY DEFINER function without a pinned search_path can be hijacked by the caller's objects",
      remedy: `alter function ${r.object} set search_path = '';`,
    });
  }
  for (const r of (
    await client.query<{ object: string; definer: boolean }>(ANON_EXECUTE, [schemas, ANON_ALLOWED_MARKER])
  ).rows) {
    findings.push({
      check: "anon_can_execute",
      object: r.object,
      detail: `signed-out visitors (anon) may call this${r.definer ? " SECURITY DEFINER" : ""} function`,
      remedy: `revoke execute on function ${r.object} from public, anon; or mark it ${ANON_ALLOWED_MARKER} in its comment if meant`,
    });
  }
  return findings;
}
