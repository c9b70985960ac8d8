import fs from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { VpbError } from "../errors.ts";
import type { StorageDriver } from "../storage/drivers/driver.ts";
import { backupPaths } from "./backup-layout.ts";
import { writeAtomically } from "./base-backup.ts";
import type { TableDigest } from "./consistent-point.ts";
import { digestQuery, listTables, pinSession } from "./export-format.ts";
import { ignoreProgress, type OnProgress } from "./progress.ts";
import { chooseBackup, restoreBackup } from "./restore.ts";
import { ownerWhenRoot } from "./wal-archive.ts";

export interface VerifyOptions {
  backupDir: string;
  binDir: string;
  /** The major of those binaries. */
  major: number;
  /** Which base backup; the newest by default. */
  backupId?: string;
  urlFor: (port: number) => string;
  /** Where the storage objects' files live; without it the storage check is skipped. */
  storage?: StorageDriver;
  onProgress?: OnProgress;
}

export interface VerifyResult {
  backupId: string;
  ok: boolean;
  /** When the check ended. */
  at: string;
  restoreMs: number;
  /** Row count of every table in the restored copy, by `database:schema.table`. */
  tables: Record<string, number>;
  /**
   * Tables whose row count and digest were compared with the backup's manifest (at its consistent
   * point), by `database:schema.table`; empty for a backup that records none (an older vpb-db's).
   */
  digestsCompared: string[];
  indexesChecked: number;
  /** The two users whose isolation was checked, per database; empty when no two users own projects. */
  rlsUsers: Record<string, [string, string]>;
  /** storage.objects rows whose file was checked; undefined when no storage driver was given. */
  storageObjects: number | undefined;
  /** Every mismatch found, each naming what is wrong; empty when ok. */
  problems: string[];
}

/** Where a verification's result is kept: beside the backup it verified (retention reads it). */
export const VERIFICATION = "verification.json";

export async function readVerification(backupDir: string, id: string): Promise<VerifyResult | undefined> {
  try {
    const file = path.join(backupPaths(backupDir).base, id, VERIFICATION);
    return JSON.parse(await fs.readFile(file, "utf8")) as VerifyResult;
  } catch {
    return undefined;
  }
}

/**
 * Proves a base backup restorable: restores it (every file checked against its sha256, the archived
 * WAL from its start to its consistent point checked for gaps) into a scratch folder on a free port,
 * recovering to that named restore point, then checks the copy: every app table's row count and
 * digest against those the manifest recorded there, amcheck's bt_index_check on every
 * B-tree index, RLS enabled and forced on every table of the public schema, two users who own
 * projects each seeing their own and not the other's, and every storage.objects row's file present
 * with its size. Every table's rows are counted. The result (mismatches included) and the restore's
 * duration are written to `base/<id>/verification.json`; any mismatch then fails with VERIFY_FAILED
 * naming all of them. The scratch server and folder are removed whatever happens.
 */
export async function verifyBackup(options: VerifyOptions): Promise<VerifyResult> {
  const progress = options.onProgress ?? ignoreProgress;
  const chosen = await chooseBackup(options.backupDir, { immediate: true }, options.backupId);
  const result: VerifyResult = {
    backupId: chosen.id,
    ok: false,
    at: "",
    restoreMs: 0,
    tables: {},
    digestsCompared: [],
    indexesChecked: 0,
    rlsUsers: {},
    storageObjects: options.storage ? 0 : undefined,
    problems: [],
  };
  const record = async () => {
    result.at = new Date().toISOString();
    result.ok = result.problems.length === 0;
    await writeAtomically(
      path.join(backupPaths(options.backupDir).base, chosen.id, VERIFICATION),
      `${JSON.stringify(result, null, 1)}\n`,
    );
  };
  const scratch = await fs.mkdtemp(path.join(options.backupDir, ".verify-"));
  const pgData = path.join(scratch, "data");
  // As root the restored server runs as the archive's owner, which must be able to enter the folder.
  const owner = await ownerWhenRoot(backupPaths(options.backupDir).wal);
  if (owner) await fs.chown(scratch, owner.uid, owner.gid);
  try {
    let restored: Awaited<ReturnType<typeof restoreBackup>>;
    try {
      restored = await restoreBackup({
        backupDir: options.backupDir,
        pgData,
        logFile: path.join(scratch, "postgres.log"),
        binDir: options.binDir,
        major: options.major,
        // The consistent point, where the manifest's digests hold; an older backup's own end.
        target: chosen.consistentPoint ? { consistentPoint: true } : { immediate: true },
        // The copy is thrown away: durability would only slow the check.
        settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
        backupId: chosen.id,
        urlFor: options.urlFor,
        onProgress: progress,
      });
    } catch (e) {
      result.problems.push(e instanceof Error ? e.message : String(e));
      await record();
      throw e;
    }
    try {
      result.restoreMs = Math.round(restored.copyMs + restored.recoveryMs);
      const { rows: dbs } = await withClient(restored.url, (c) =>
        c.query<{ datname: string }>("select datname from pg_database where datallowconn order by datname"),
      );
      for (const { datname } of dbs) {
        const url = new URL(restored.url);
        url.pathname = `/${encodeURIComponent(datname)}`;
        await withClient(url.toString(), async (c) => {
          await checkDatabase(c, datname, result, options.storage);
          if (chosen.consistentPoint?.database === datname)
            await compareDigests(c, datname, chosen.consistentPoint.tables, result);
        });
      }
    } finally {
      restored.stop();
    }
    await record();
    if (!result.ok) {
      throw new VpbError(
        "VERIFY_FAILED",
        `Backup ${chosen.id} failed verification: ${result.problems.join("; ")}`,
        "Do not rely on this backup: restore from an older one and take a new base backup; the details are in its verification.json.",
      );
    }
    progress({ kind: "note", text: `backup ${chosen.id} passed every check` });
    return result;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

async function checkDatabase(
  c: pg.Client,
  datname: string,
  result: VerifyResult,
  storage: StorageDriver | undefined,
): Promise<void> {
  await c.query("create extension if not exists amcheck");
  const { rows: indexes } = await c.query<{ oid: number; name: string }>(
    // relkind 'i': a partitioned table's index ('I') has no storage; its partitions' indexes are checked.
    `select i.indexrelid::int as oid, i.indexrelid::regclass::text as name
       from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am a on a.oid = c.relam
      where a.amname = 'btree' and c.relkind = 'i' and i.indisvalid and c.relpersistence <> 't'`,
  );
  for (const index of indexes) {
    try {
      await c.query("select bt_index_check($1::regclass, true)", [index.oid]);
    } catch (cause) {
      result.problems.push(
        `index ${index.name} in database ${datname} fails amcheck: ${(cause as Error).message}`,
      );
    }
    result.indexesChecked++;
  }
  const { rows: rels } = await c.query<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and c.relpersistence = 'p'
      order by 1`,
  );
  for (const rel of rels) {
    const { rows } = await c.query<{ n: number }>(`select count(*)::int as n from ${rel.name}`);
    result.tables[`${datname}:${rel.name}`] = rows[0]?.n ?? 0;
  }
  const { rows: app } = await c.query<{ ok: boolean }>(
    "select to_regclass('public.projects') is not null and to_regrole('authenticated') is not null as ok",
  );
  if (!app[0]?.ok) return; // not a vpb-db database (postgres' own, an app's other one)

  const { rows: open } = await c.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
        and not (c.relrowsecurity and c.relforcerowsecurity) order by 1`,
  );
  for (const t of open)
    result.problems.push(`table public.${t.name} in database ${datname} lacks forced RLS`);
  await checkIsolation(c, datname, result);
  if (storage) await checkStorage(c, datname, result, storage);
}

/**
 * Every table the manifest has a digest of must hold, in the copy recovered to the consistent point,
 * the same row count and digest (computed by the export's SQL, in a session pinned as the backup's was).
 */
async function compareDigests(
  c: pg.Client,
  datname: string,
  expected: Record<string, TableDigest>,
  result: VerifyResult,
): Promise<void> {
  await pinSession(c);
  const present = new Map((await listTables(c)).map((t) => [t.name, t]));
  for (const [name, want] of Object.entries(expected)) {
    const table = present.get(name);
    if (!table) {
      result.problems.push(`table ${name} in database ${datname} is missing from the restored copy`);
      continue;
    }
    const { rows } = await c.query<{ rows: string; digest: string }>(digestQuery(table));
    const got = { rows: Number(rows[0]?.rows), digest: rows[0]?.digest ?? "" };
    if (got.rows !== want.rows)
      result.problems.push(
        `table ${name} in database ${datname} has ${got.rows} rows where the backup recorded ${want.rows}`,
      );
    else if (got.digest !== want.digest)
      result.problems.push(
        `table ${name} in database ${datname}: its rows' digest differs from the one the backup recorded`,
      );
    result.digestsCompared.push(`${datname}:${name}`);
  }
}

/**
 * Two users who own projects, neither a collaborator on the other's: each, acting as PostgREST would
 * for them, must see their own projects and none of the other's.
 */
async function checkIsolation(c: pg.Client, datname: string, result: VerifyResult): Promise<void> {
  const { rows: pair } = await c.query<{ a: string; b: string }>(
    `with owners as (select owner_id, count(*) from public.projects group by owner_id order by 2 desc, 1 limit 50)
     select a.owner_id::text as a, b.owner_id::text as b from owners a join owners b on a.owner_id < b.owner_id
      where not exists (select 1 from public.collaborators k join public.projects p on p.id = k.project_id
                         where (k.user_id = a.owner_id and p.owner_id = b.owner_id)
                            or (k.user_id = b.owner_id and p.owner_id = a.owner_id))
      limit 1`,
  );
  const users = pair[0];
  if (!users) return;
  result.rlsUsers[datname] = [users.a, users.b];
  for (const [me, other] of [
    [users.a, users.b],
    [users.b, users.a],
  ] as const) {
    await c.query("begin");
    try {
      await c.query("select set_config('request.jwt.claims', $1, true)", [
        JSON.stringify({ sub: me, role: "authenticated" }),
      ]);
      await c.query("set local role authenticated");
      const { rows } = await c.query<{ mine: number; theirs: number }>(
        `select count(*) filter (where owner_id = $1)::int as mine, count(*) filter (where owner_id = $2)::int as theirs
           from public.projects`,
        [me, other],
      );
      if ((rows[0]?.mine ?? 0) === 0)
        result.problems.push(`RLS in database ${datname}: user ${me} does not see their own projects`);
      if ((rows[0]?.theirs ?? 0) > 0)
        result.problems.push(
          `RLS in database ${datname}: user ${me} sees ${rows[0]?.theirs} project(s) of user ${other}`,
        );
    } finally {
      await c.query("rollback");
    }
  }
}

/** Every storage.objects row's file must exist in the storage folder, with the size the row records. */
async function checkStorage(
  c: pg.Client,
  datname: string,
  result: VerifyResult,
  storage: StorageDriver,
): Promise<void> {
  const { rows } = await c.query<{ key: string; size: string | null }>(
    `select bucket_id || '/' || version as key, metadata->>'size' as size from storage.objects
      where version is not null order by 1`,
  );
  const missing: string[] = [];
  const wrongSize: string[] = [];
  for (const row of rows) {
    const head = await storage.head(row.key);
    if (!head) missing.push(row.key);
    else if (row.size !== null && Number(row.size) !== head.size) wrongSize.push(row.key);
  }
  result.storageObjects = (result.storageObjects ?? 0) + rows.length;
  const list = (keys: string[]) => `${keys.slice(0, 10).join(", ")}${keys.length > 10 ? ", …" : ""}`;
  if (missing.length)
    result.problems.push(
      `storage in database ${datname}: ${missing.length} file(s) missing: ${list(missing)}`,
    );
  if (wrongSize.length)
    result.problems.push(
      `storage in database ${datname}: ${wrongSize.length} file(s) of another size than their row: ${list(wrongSize)}`,
    );
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "vpb-db backup verify" });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
