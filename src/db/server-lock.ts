import fs from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { VpbError } from "../errors.ts";
import { currentProcess, type ProcessId, stillRuns } from "./process-identity.ts";

/**
 * Who starts and who stops the embedded server of a data folder when several vpb-db commands use it
 * at once (an `npm start`, a `migrate status` in another terminal, five scripts at the same moment):
 *
 * - `start.lock`, created exclusively, is held while a command looks for a running server and starts
 *   one, and while one stops it: two commands never initdb, start or stop the same folder together.
 * - `leases/<pid>.json`: one per command using the server, removed when it ends (or found dead).
 * - `owner.json`: the command that started the server. Ending while other commands still hold leases,
 *   it hands the server to one of them instead of stopping it, so the server stops with the last of
 *   them. A command that attached to a server none of ours started (an orphan of a killed process, or
 *   one started by hand) never stops it.
 */

const LOCK = "start.lock";
const OWNER = "owner.json";
const LEASES = "leases";

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temporary, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  await fs.rename(temporary, file);
}

/**
 * Runs `fn` holding the data folder's start lock. A lock left by a process that died is taken over;
 * one held by a live process is waited for, up to `waitMs`.
 */
export async function withStartLock<T>(
  dataDir: string,
  fn: () => Promise<T>,
  options: { waitMs?: number; onWait?: (line: string) => void } = {},
): Promise<T> {
  const file = path.join(dataDir, LOCK);
  const me = await currentProcess();
  const deadline = Date.now() + (options.waitMs ?? 120_000);
  let told = false;
  for (;;) {
    try {
      await fs.writeFile(file, JSON.stringify(me), { flag: "wx", mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const seen = await fs.stat(file).catch(() => undefined);
    const holder = await readJson<ProcessId>(file);
    // A file still being written (no JSON yet) is young; a holder that died (kill -9) left it behind.
    const young = seen !== undefined && Date.now() - seen.mtimeMs < 2000;
    if (seen && (holder ? !(await stillRuns(holder)) : !young)) {
      // Removed only if it is still the file judged stale, not a new holder's.
      const now = await fs.stat(file).catch(() => undefined);
      if (now && now.ino === seen.ino && now.mtimeMs === seen.mtimeMs) await fs.rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new VpbError(
        "EMBEDDED_BUSY",
        `vpb-db process ${holder?.pid ?? "?"} has been starting or stopping PostgreSQL in ${dataDir} for too long.`,
        `Wait for it to finish, or stop it; if it is gone, remove ${file}.`,
      );
    }
    if (!told && holder) {
      options.onWait?.(`waiting for vpb-db process ${holder.pid}, which is starting or stopping PostgreSQL…`);
      told = true;
    }
    await sleep(100);
  }
  try {
    return await fn();
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** The live leases of the folder; those of dead processes are removed on the way. */
export async function liveLeases(dataDir: string): Promise<ProcessId[]> {
  const dir = path.join(dataDir, LEASES);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const live: ProcessId[] = [];
  for (const name of names) {
    const lease = await readJson<ProcessId>(path.join(dir, name));
    if (lease && (await stillRuns(lease))) live.push(lease);
    else await fs.rm(path.join(dir, name), { force: true });
  }
  return live;
}

export async function takeLease(dataDir: string, me: ProcessId): Promise<void> {
  await fs.mkdir(path.join(dataDir, LEASES), { recursive: true, mode: 0o700 });
  await writeJson(path.join(dataDir, LEASES, `${me.pid}.json`), me);
}

export async function dropLease(dataDir: string, me: ProcessId): Promise<void> {
  await fs.rm(path.join(dataDir, LEASES, `${me.pid}.json`), { force: true });
}

export interface Ownership {
  owner: ProcessId;
}

export async function readOwner(dataDir: string): Promise<Ownership | undefined> {
  return readJson<Ownership>(path.join(dataDir, OWNER));
}

export async function writeOwner(dataDir: string, ownership: Ownership): Promise<void> {
  await writeJson(path.join(dataDir, OWNER), ownership);
}

export async function clearOwner(dataDir: string): Promise<void> {
  await fs.rm(path.join(dataDir, OWNER), { force: true });
}

/** Whether `me` is the process that must stop the server. */
export function owns(ownership: Ownership | undefined, me: ProcessId): boolean {
  return ownership?.owner.pid === me.pid && ownership.owner.startedAt === me.startedAt;
}
