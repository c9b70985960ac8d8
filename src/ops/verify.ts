import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { VpbError } from "../errors.ts";
import type { StorageDriver } from "../storage/drivers/driver.ts";
import { backupPaths } from "./backup-layout.ts";
import { writeAtomically } from "./base-backup.ts";
import { markConsistentPoint, type TableDigest, verifyPointName } from "./consistent-point.ts";
import { listTables, pinSession } from "./export-format.ts";
import { ignoreProgress, type OnProgress } from "./progress.ts";
import { chooseBackup, type RecoveryTarget, restoreBackup } from "./restore.ts";
import { digestTables } from "./table-digests.ts";
import { ownerWhenRoot } from "./wal-archive.ts";

export interface VerifyOptions {
  backupDir: string;
  binDir: string;
  /** The major of those binaries. */
  major: number;
  /** Which base backup; the newest by default. */
  backupId?: string;
  urlFor: (port: number) => string;
  /**
   * A superuser connection to the database the backup is of, on its server (archiving into this
   * backup folder). Verify marks a new consistent point there, recovers the copy to it (the base
   * backup and every archived segment since) and compares every table with the live database's rows
   * at that point. Without it, a backup whose manifest records digests (taken by vpb-db before
   * verify marked its own point) is compared with those, and any other is recovered to its end only.
   */
  live?: pg.Client;
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
   * Tables whose row count and digest were compared, by `database:schema.table`: with the live
   * database's at the consistent point verify marked, or with those an older backup's manifest records;
   * empty when neither was there to compare with.
   */
  digestsCompared: string[];
  /** What the digests were compared with, and the restore point the copy was recovered to. */
  comparedWith?: "live" | "manifest";
  restorePoint?: string;
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
 * Proves a base backup restorable: marks a consistent point on the live database (`options.live`),
 * restores the backup (every file checked against its checksum, the archived WAL from its start to
 * that point checked for gaps) into a scratch folder on a free port, recovering to that named restore
 * point, then checks the copy: every app table's row count and digest against the live snapshot's
 * (or, without a live connection, those an older manifest recorded), amcheck's bt_index_check on every
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
  // The live side's digests run while the copy is restored, on half the cores; the copy's after.
  const cores = Math.min(Math.max(os.availableParallelism(), 2), 8);
  let expected: { database: string; tables: Promise<Record<string, TableDigest>> } | undefined;
  try {
    let restored: Awaited<ReturnType<typeof restoreBackup>>;
    try {
      // Where to recover to and what the copy must hold there: a point marked now on the live
      // database, or (none given) the point an older backup's manifest records, or its own end.
      let target: RecoveryTarget = { immediate: true };
      if (options.live) {
        const marked = await markConsistentPoint(
          options.live,
          verifyPointName(chosen.id, new Date()),
          Math.max(1, Math.floor(cores / 2)),
        );
        expected = { database: marked.point.database, tables: marked.digests };
        result.comparedWith = "live";
        result.restorePoint = marked.point.name;
        const timeline = Number.parseInt(marked.point.wal.slice(0, 8), 16);
        if (timeline !== chosen.timeline) {
          throw new VpbError(
            "VERIFY_FAILED",
            `Backup ${chosen.id} is of timeline ${chosen.timeline}, the live server is on timeline ${timeline} since a restore replaced it: this backup cannot reach today's database.`,
            "Take a new base backup (`vpb-db backup`) and verify that one.",
          );
        }
        target = { restorePoint: marked.point };
      } else if (chosen.consistentPoint) {
        expected = {
          database: chosen.consistentPoint.database,
          tables: Promise.resolve(chosen.consistentPoint.tables),
        };
        result.comparedWith = "manifest";
        result.restorePoint = chosen.consistentPoint.name;
        target = { restorePoint: chosen.consistentPoint };
      }
      restored = await restoreBackup({
        backupDir: options.backupDir,
        pgData,
        logFile: path.join(scratch, "postgres.log"),
        binDir: options.binDir,
        major: options.major,
        target,
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
        await withClient(url.toString(), (c) => checkDatabase(c, datname, result, options.storage));
        if (expected?.database === datname) {
          const source = result.comparedWith === "live" ? "the live database had" : "the backup recorded";
          let want: Record<string, TableDigest>;
          try {
            want = await expected.tables;
          } catch (e) {
            result.problems.push(
              `the live database's digests could not be computed: ${e instanceof Error ? e.message : String(e)}`,
            );
            continue;
          }
          await compareDigests(url.toString(), datname, want, source, cores, result);
        }
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
    // The live snapshot's connections end with its digests, whatever happened meanwhile.
    await expected?.tables.catch(() => {});
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
 * Every table in `expected` (the live database's at the point, or an older manifest's) must hold, in
 * the copy recovered to that point, the same row count and digest, computed by the same SQL on
 * `connections` connections pinned as the live ones were; a table only the copy has is named too.
 */
async function compareDigests(
  url: string,
  datname: string,
  expected: Record<string, TableDigest>,
  source: string,
  connections: number,
  result: VerifyResult,
): Promise<void> {
  const clients: pg.Client[] = [];
  try {
    for (let i = 0; i < connections; i++) {
      const c = new pg.Client({ connectionString: url, application_name: "vpb-db backup verify" });
      c.on("error", () => {});
      clients.push(c);
      await c.connect();
      await pinSession(c);
      await c.query("set max_parallel_workers_per_gather = 0");
    }
    const present = await listTables(clients[0] as pg.Client);
    const names = new Set(present.map((t) => t.name));
    let got: Record<string, TableDigest>;
    try {
      got = await digestTables(
        clients,
        present.filter((t) => t.name in expected),
      );
    } catch (e) {
      result.problems.push(
        `the tables of database ${datname} could not be read in the restored copy: ${e instanceof Error ? e.message : String(e)}`,
      );
      return;
    }
    for (const [name, want] of Object.entries(expected)) {
      const have = got[name];
      if (!names.has(name) || !have) {
        result.problems.push(`table ${name} in database ${datname} is missing from the restored copy`);
        continue;
      }
      if (have.rows !== want.rows)
        result.problems.push(
          `table ${name} in database ${datname} has ${have.rows} rows where ${source} ${want.rows}`,
        );
      else if (have.digest !== want.digest)
        result.problems.push(
          `table ${name} in database ${datname}: its rows' digest differs from the one ${source}`,
        );
      result.digestsCompared.push(`${datname}:${name}`);
    }
    for (const name of names)
      if (!(name in expected))
        result.problems.push(`table ${name} in database ${datname} is in the restored copy only`);
  } finally {
    for (const c of clients) await c.end().catch(() => {});
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
