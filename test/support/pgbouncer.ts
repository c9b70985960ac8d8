import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmod, chown, mkdtemp, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const PGBOUNCER = "/usr/sbin/pgbouncer";

export interface Bouncer {
  /** A URL for `database` through the pooler. */
  url(database: string): string;
  stop(): Promise<void>;
}

/** Starts Debian's PgBouncer in front of the server of `serverUrl`, in the given pool mode. */
export async function startPgBouncer(serverUrl: string, mode: "transaction" | "session"): Promise<Bouncer> {
  const server = new URL(serverUrl);
  const dir = await mkdtemp(path.join(os.tmpdir(), "vpb-bouncer-"));
  // PgBouncer refuses to run as root; then it runs as postgres and must own this folder.
  await chmod(dir, 0o755);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    await chown(dir, id("-u"), id("-g"));
  }
  // Below Linux's ephemeral range (32768+), so that no client socket holds the port.
  const port = 25000 + Math.floor(Math.random() * 3000);
  const password = decodeURIComponent(server.password);
  const ini = `[databases]
* = host=${server.hostname} port=${server.port} user=${decodeURIComponent(server.username)}${password ? ` password=${password}` : ""}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${path.join(dir, "users.txt")}
pool_mode = ${mode}
default_pool_size = 4
max_client_conn = 100
logfile = ${path.join(dir, "pgbouncer.log")}
`;
  await writeFile(path.join(dir, "pgbouncer.ini"), ini, { mode: 0o644 });
  await writeFile(path.join(dir, "users.txt"), `"${decodeURIComponent(server.username)}" ""\n`, {
    mode: 0o644,
  });
  const args = asRoot ? ["-u", "postgres", "pgbouncer.ini"] : ["pgbouncer.ini"];
  const child: ChildProcess = spawn(PGBOUNCER, args, { cwd: dir, stdio: "ignore" });
  await waitForPort(port);
  return {
    url: (database) => `postgres://${server.username}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      child.kill("SIGINT");
      await new Promise((resolve) => child.once("close", resolve));
    },
  };
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: "127.0.0.1" }, () => {
        s.end();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`PgBouncer did not listen on ${port}`);
}
