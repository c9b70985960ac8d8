import type pg from "pg";

/**
 * A text snapshot of the schema objects in the given schemas, free of OIDs, so two databases (or one
 * database before and after a round trip) can be compared line by line.
 */
const SNAPSHOT = `
with ns as (select oid, nspname from pg_namespace where nspname = any($1::text[]))
select line from (
  select 'schema ' || n.nspname || ' owner=' || pg_get_userbyid(n.nspowner) || ' acl=' || coalesce((select string_agg(x::text, ',' order by x::text) from unnest(n.nspacl) x), '') as line
    from pg_namespace n where n.nspname = any($1::text[])
  union all
  select format('rel %s.%s kind=%s rls=%s force=%s persistence=%s partkey=%s acl=%s', ns.nspname, c.relname,
                c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relpersistence,
                coalesce(pg_get_partkeydef(c.oid), ''), coalesce((select string_agg(x::text, ',' order by x::text) from unnest(c.relacl) x), ''))
    from pg_class c join ns on ns.oid = c.relnamespace where c.relkind <> 'i' and c.relkind <> 'I'
  union all
  select format('part %s.%s of %s bound %s', ns.nspname, c.relname, i.inhparent::regclass, pg_get_expr(c.relpartbound, c.oid))
    from pg_class c join ns on ns.oid = c.relnamespace join pg_inherits i on i.inhrelid = c.oid
  union all
  select format('col %s.%s.%s %s notnull=%s default=%s generated=%s identity=%s collation=%s acl=%s', ns.nspname, c.relname,
                a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attgenerated, a.attidentity,
                coalesce(co.collname, ''), coalesce((select string_agg(x::text, ',' order by x::text) from unnest(a.attacl) x), ''))
    from pg_attribute a join pg_class c on c.oid = a.attrelid join ns on ns.oid = c.relnamespace
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    left join pg_collation co on co.oid = a.attcollation and a.attcollation <> 100
   where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
  union all
  select format('con %s.%s %s %s', ns.nspname, coalesce(c.relname, t.typname), co.conname, pg_get_constraintdef(co.oid))
    from pg_constraint co join ns on ns.oid = co.connamespace
    left join pg_class c on c.oid = co.conrelid left join pg_type t on t.oid = co.contypid
  union all
  select format('idx %s.%s %s', ns.nspname, c.relname, pg_get_indexdef(c.oid))
    from pg_class c join ns on ns.oid = c.relnamespace where c.relkind in ('i', 'I')
  union all
  select format('fn %s.%s(%s) %s acl=%s', ns.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
                md5(case when p.prokind in ('a', 'w') then p.proname else pg_get_functiondef(p.oid) end),
                coalesce((select string_agg(x::text, ',' order by x::text) from unnest(p.proacl) x), ''))
    from pg_proc p join ns on ns.oid = p.pronamespace
  union all
  select format('trg %s.%s %s', ns.nspname, c.relname, pg_get_triggerdef(t.oid))
    from pg_trigger t join pg_class c on c.oid = t.tgrelid join ns on ns.oid = c.relnamespace where not t.tgisinternal
  union all
  select format('pol %s.%s %s %s %s roles=%s using=%s check=%s', p.schemaname, p.tablename, p.policyname,
                p.permissive, p.cmd, p.roles::text, coalesce(p.qual, ''), coalesce(p.with_check, ''))
    from pg_policies p where p.schemaname = any($1::text[])
  union all
  select format('type %s.%s %s %s', ns.nspname, t.typname, t.typtype,
                coalesce((select string_agg(e.enumlabel, ',' order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid), ''))
    from pg_type t join ns on ns.oid = t.typnamespace
   where t.typtype in ('e', 'd', 'c') and not exists (select from pg_class c where c.oid = t.typrelid and c.relkind <> 'c')
  union all
  select format('seq %s.%s %s %s %s %s', ns.nspname, c.relname, s.seqtypid::regtype, s.seqincrement, s.seqmin, s.seqmax)
    from pg_sequence s join pg_class c on c.oid = s.seqrelid join ns on ns.oid = c.relnamespace
  union all
  select format('comment %s %s', d.classoid::regclass, coalesce(d.description, ''))
    from pg_description d join pg_class c on c.oid = d.objoid join ns on ns.oid = c.relnamespace
  union all
  select format('ext %s %s schema=%s', e.extname, e.extversion, e.extnamespace::regnamespace)
    from pg_extension e
  union all
  select format('defacl %s %s %s %s', pg_get_userbyid(d.defaclrole), coalesce(d.defaclnamespace::regnamespace::text, '-'),
                d.defaclobjtype, coalesce((select string_agg(x::text, ',' order by x::text) from unnest(d.defaclacl) x), ''))
    from pg_default_acl d
  union all
  select format('role %s login=%s bypassrls=%s inherit=%s member_of=%s', r.rolname, r.rolcanlogin, r.rolbypassrls, r.rolinherit,
                coalesce((select string_agg(g.rolname, ',' order by g.rolname) from pg_auth_members m
                          join pg_roles g on g.oid = m.roleid where m.member = r.oid), ''))
    from pg_roles r where r.rolname in ('anon', 'authenticated', 'service_role', 'authenticator')
) lines order by line`;

/** Application schemas by default: everything the migrations and the bootstrap own. */
export const APP_SCHEMAS = ["public", "auth", "storage"];

export async function catalogSnapshot(client: pg.Client, schemas: string[] = APP_SCHEMAS): Promise<string[]> {
  const { rows } = await client.query<{ line: string }>(SNAPSHOT, [schemas]);
  return rows.map((r) => r.line);
}
