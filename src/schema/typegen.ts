import pg from "pg";

/** Where `vpb-db gen types` writes, relative to the project. */
export const TYPES_FILE = "database/types/database.types.ts";

/**
 * The `Database` type of the API schema, produced by Supabase's own generator (the engine behind
 * `supabase gen types typescript`) used as a library, so it plugs into `createClient<Database>()`.
 * One deliberate difference: the monthly partitions of the analytics tables are left out. They are
 * reached through their parent table, and listing them would change the file every month.
 */
export async function generateTypes(url: string, schemas: string[] = ["public"]): Promise<string> {
  // Loaded on use: the generator and its formatter would add ~0.2 s to the start of every CLI command.
  const { generateTypescript, sortGeneratorMetadata } = await import(
    "@supabase/postgrest-typegen/generation"
  );
  const { introspect } = await import("@supabase/postgrest-typegen/introspection");
  // A pool: the introspector runs its queries concurrently.
  const pool = new pg.Pool({ connectionString: url, max: 4, application_name: "vpb-db gen types" });
  pool.on("error", () => {}); // an idle client's error: the running query reports it
  try {
    const metadata = await introspect(pool, { includedSchemas: schemas });
    const { rows } = await pool.query<{ name: string }>(
      "select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relispartition and n.nspname = any($1)",
      [schemas],
    );
    const partitions = new Set(rows.map((r) => r.name));
    const ids = new Set(metadata.tables.filter((t) => partitions.has(t.name)).map((t) => t.id));
    const filtered = {
      ...metadata,
      tables: metadata.tables.filter((t) => !ids.has(t.id)),
      columns: metadata.columns.filter((c) => !ids.has(c.table_id)),
      primaryKeys: metadata.primaryKeys.filter((k) => !ids.has(k.table_id)),
      relationships: metadata.relationships.filter(
        (r) => !partitions.has(r.relation) && !partitions.has(r.referenced_relation),
      ),
    };
    return await generateTypescript(sortGeneratorMetadata(filtered), { postgrestVersion: "12" });
  } finally {
    await pool.end();
  }
}
