/**
 * The source server of the backup tests: the major under test (embedded 17 or Debian's 15), archiving
 * WAL into a backup folder, and killable with -9.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { type EmbeddedServer, startEmbedded } from "../../src/db/embedded-server.ts";
import { isAlive } from "../../src/db/process-identity.ts";
import { backupPaths } from "../../src/ops/backup-layout.ts";
import { archiveSettings, ownerWhenRoot, prepareArchiveDir } from "../../src/ops/wal-archive.ts";
import { binDirFor, startSystemServer } from "./debian-server.ts";
import { MAJOR } from "./harness.ts";

/** A throwaway server needs no durability. */
export const FAST = { fsync: "off", synchronous_commit: "off", full_page_writes: "off" };

/** A server of the major under test that archives WAL into `backupDir`, which can be killed with -9. */
export interface Source {
  url: string;
  pgData: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function postmasterPid(pgData: string): Promise<number> {
  return Number((await readFile(path.join(pgData, "postmaster.pid"), "utf8")).split("\n")[0]);
}

async function killNine(pid: number): Promise<void> {
  process.kill(pid, "SIGKILL");
  for (let waited = 0; isAlive(pid) && waited < 10_000; waited += 50)
    await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Retries a start while the killed server's backends still hold its shared memory. */
async function retry<T>(fn: () => Promise<T> | T): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= 20) throw e;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

export async function startSource(root: string, backupDir: string): Promise<Source> {
  const wal = backupPaths(backupDir).wal;
  const port = 26000 + Math.floor(Math.random() * 3000);
  if (MAJOR === 17) {
    const options = { dataDir: path.join(root, "vpb"), port, archiveDir: wal, settings: FAST };
    const servers: EmbeddedServer[] = [await startEmbedded(options)];
    const first = servers[0] as EmbeddedServer;
    return {
      url: first.url,
      pgData: first.pgDataDir,
      kill: async () => killNine(await postmasterPid(first.pgDataDir)),
      restart: async () => {
        servers.push(await retry(() => startEmbedded({ ...options, port: servers.at(-1)?.port ?? port })));
      },
      stop: async () => {
        for (const s of servers.reverse()) await s.stop();
      },
    };
  }
  const dataRoot = path.join(root, "system");
  const binDir = await binDirFor(MAJOR);
  const pgData = path.join(dataRoot, `pg${MAJOR}`);
  const server = startSystemServer(binDir, dataRoot, port, MAJOR, false, {
    ...archiveSettings(wal),
    ...FAST,
  });
  await prepareArchiveDir(wal, await ownerWhenRoot(pgData));
  return {
    url: server.url,
    pgData,
    kill: async () => killNine(await postmasterPid(pgData)),
    restart: async () => retry(() => server.start()),
    stop: async () => server.stop(),
  };
}

export async function connected(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => {});
  await c.connect();
  return c;
}
