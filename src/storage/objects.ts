/**
 * The storage service's SQL on storage.buckets and storage.objects: the one place it is written. Every
 * statement runs in a transaction as the caller (role and claims set), so migration 005's policies
 * decide what a caller sees and changes; a row the caller may not see is simply not there.
 */
import { type Actor, claimsOf, oneStatement, type Runner, type Tx } from "../sdk/db.ts";

export interface BucketRow {
  id: string;
  name: string;
  owner: string | null;
  public: boolean;
  file_size_limit: string | null;
  allowed_mime_types: string[] | null;
  created_at: Date;
  updated_at: Date;
}

export interface ObjectRow {
  id: string;
  bucket_id: string;
  name: string;
  owner: string | null;
  version: string | null;
  metadata: ObjectMetadata | null;
  user_metadata: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
  last_accessed_at: Date;
}

/** storage.objects.metadata, with Supabase's keys. */
export interface ObjectMetadata {
  eTag: string;
  size: number;
  mimetype: string;
  cacheControl: string;
  lastModified: string;
  contentLength: number;
  httpStatusCode: number;
}

const BUCKET_COLUMNS = "id, name, owner, public, file_size_limit, allowed_mime_types, created_at, updated_at";
const OBJECT_COLUMNS =
  "id, bucket_id, name, owner, version, metadata, user_metadata, created_at, updated_at, last_accessed_at";

export async function findBucket(tx: Tx, id: string): Promise<BucketRow | undefined> {
  const { rows } = await tx.query<BucketRow>(`select ${BUCKET_COLUMNS} from storage.buckets where id = $1`, [
    id,
  ]);
  return rows[0];
}

export async function listBuckets(tx: Tx): Promise<BucketRow[]> {
  return (await tx.query<BucketRow>(`select ${BUCKET_COLUMNS} from storage.buckets order by name`)).rows;
}

export async function findObject(tx: Tx, bucket: string, name: string): Promise<ObjectRow | undefined> {
  const { rows } = await tx.query<ObjectRow>(
    `select ${OBJECT_COLUMNS} from storage.objects where bucket_id = $1 and name = $2`,
    [bucket, name],
  );
  return rows[0];
}

/**
 * findObject as `actor` in one round trip (migration 017's private.storage_object_as): the function
 * sets the role and claims for that statement only, so the same policies decide as in a transaction.
 */
export async function findObjectAs(
  runner: Runner,
  actor: Actor,
  operation: string,
  bucket: string,
  name: string,
): Promise<ObjectRow | undefined> {
  const { rows } = await oneStatement<ObjectRow>(
    runner,
    operation,
    "select * from private.storage_object_as($1, $2, $3, $4, $5)",
    [actor.role, claimsOf(actor), Math.trunc(runner.statementTimeoutMs), bucket, name],
  );
  return rows[0];
}

/** The names among `names` that exist and the caller may see. */
export async function visibleNames(tx: Tx, bucket: string, names: readonly string[]): Promise<Set<string>> {
  const { rows } = await tx.query<{ name: string }>(
    "select name from storage.objects where bucket_id = $1 and name = any($2::text[])",
    [bucket, names],
  );
  return new Set(rows.map((r) => r.name));
}

/** Locks the object for a replacement and returns its current version (undefined: no row visible). */
export async function lockVersion(
  tx: Tx,
  bucket: string,
  name: string,
): Promise<{ version: string | null } | undefined> {
  const { rows } = await tx.query<{ version: string | null }>(
    "select version from storage.objects where bucket_id = $1 and name = $2 for update",
    [bucket, name],
  );
  return rows[0];
}

export interface NewObject {
  bucket: string;
  name: string;
  owner: string | undefined;
  version: string;
  metadata: ObjectMetadata;
  userMetadata: Record<string, unknown> | null;
}

/** Inserts the row; with `upsert`, an existing row of that name takes the new version instead. */
export async function insertObject(tx: Tx, o: NewObject, upsert: boolean): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(
    `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata, user_metadata)
     values ($1, $2, $3::uuid, $3::text, $4, $5, $6)
     ${
       upsert
         ? `on conflict (bucket_id, name) do update set owner = excluded.owner, owner_id = excluded.owner_id,
              version = excluded.version, metadata = excluded.metadata, user_metadata = excluded.user_metadata,
              updated_at = now(), last_accessed_at = now()`
         : ""
     }
     returning id`,
    [
      o.bucket,
      o.name,
      o.owner ?? null,
      o.version,
      JSON.stringify(o.metadata),
      o.userMetadata && JSON.stringify(o.userMetadata),
    ],
  );
  return (rows[0] as { id: string }).id;
}

/** Points an existing row at a new version; undefined when no row is visible to update. */
export async function replaceObject(tx: Tx, o: NewObject): Promise<string | undefined> {
  const { rows } = await tx.query<{ id: string }>(
    `update storage.objects set version = $3, metadata = $4, user_metadata = coalesce($5, user_metadata),
       updated_at = now(), last_accessed_at = now()
     where bucket_id = $1 and name = $2 returning id`,
    [
      o.bucket,
      o.name,
      o.version,
      JSON.stringify(o.metadata),
      o.userMetadata && JSON.stringify(o.userMetadata),
    ],
  );
  return rows[0]?.id;
}

/**
 * Deletes the rows the caller may delete among `names` and returns them. Supabase's storage schema
 * refuses a DELETE unless storage.allow_delete_query is 'true' in the transaction (so that plain SQL
 * cannot orphan files); the service, which removes the files after the commit, is the one place that
 * sets it, locally.
 */
export async function deleteObjects(tx: Tx, bucket: string, names: readonly string[]): Promise<ObjectRow[]> {
  await tx.query("select set_config('storage.allow_delete_query', 'true', true)");
  const { rows } = await tx.query<ObjectRow>(
    `delete from storage.objects where bucket_id = $1 and name = any($2::text[]) returning ${OBJECT_COLUMNS}`,
    [bucket, names],
  );
  return rows;
}

/** Renames the row (the bytes stay where they are: files are named by version); undefined when not visible. */
export async function renameObject(
  tx: Tx,
  bucket: string,
  from: string,
  toBucket: string,
  to: string,
): Promise<string | undefined> {
  const { rows } = await tx.query<{ id: string }>(
    `update storage.objects set bucket_id = $3, name = $4, updated_at = now()
     where bucket_id = $1 and name = $2 returning id`,
    [bucket, from, toBucket, to],
  );
  return rows[0]?.id;
}

export interface ListOptions {
  prefix: string;
  limit: number;
  offset: number;
  search: string;
  sortColumn: "name" | "updated_at" | "created_at" | "last_accessed_at";
  sortOrder: "asc" | "desc";
}

export interface ListEntry {
  name: string;
  id: string | null;
  updated_at: Date | null;
  created_at: Date | null;
  last_accessed_at: Date | null;
  metadata: ObjectMetadata | null;
}

/**
 * One level of the bucket under `prefix` (a folder path, '' for the top), as Supabase's
 * storage.search lists it: each object directly in it, and each sub-folder once (name only, id
 * NULL). `search` keeps the entries whose name starts with it (case-insensitive).
 */
export async function listLevel(tx: Tx, bucket: string, o: ListOptions): Promise<ListEntry[]> {
  const folder = o.prefix === "" || o.prefix.endsWith("/") ? o.prefix : `${o.prefix}/`;
  const level = folder === "" ? 1 : folder.split("/").length;
  const like = (s: string) => s.replace(/[\\%_]/g, "\\$&");
  // The sort column is one of four fixed names (checked by the route), never caller text.
  const { rows } = await tx.query<ListEntry>(
    `with under as (
       select path_tokens[$3] as entry, array_length(path_tokens, 1) > $3 as is_folder, o.*
       from storage.objects o
       where bucket_id = $1 and name like $2 || '%' and array_length(path_tokens, 1) >= $3
     ), entries as (
       select entry as name, null::uuid as id, null::timestamptz as updated_at, null::timestamptz as created_at,
              null::timestamptz as last_accessed_at, null::jsonb as metadata
       from under where is_folder group by entry
       union all
       select entry, id, updated_at, created_at, last_accessed_at, metadata from under where not is_folder
     )
     select * from entries where name ilike $4 || '%'
     order by ${o.sortColumn} ${o.sortOrder} nulls last, name collate "C" ${o.sortOrder}
     limit $5 offset $6`,
    [bucket, like(folder), level, like(o.search), o.limit, o.offset],
  );
  return rows;
}
