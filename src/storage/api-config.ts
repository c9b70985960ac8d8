import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import path from "node:path";
import { hasRole, signApiKey } from "./auth.ts";

/** `api.json` in the data folder: what an app needs to reach the service, as supabase-js takes it. */
export interface ApiConfig {
  /** The project URL: `createClient(url, anonKey)` finds Storage at `${url}/storage/v1`. */
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  /** Signs and verifies every JWT (HS256): whoever holds it can act as any user. */
  jwtSecret: string;
  /** Where `start` or `vpb-db dashboard` last served the dashboard. */
  dashboardUrl?: string;
}

export const API_FILE = "api.json";

/**
 * Reads `api.json` from the data folder, or makes it: a random JWT secret (256 bits) and the anon and
 * service_role keys signed with it. An existing secret is kept (the keys apps hold stay valid); keys
 * that do not verify with it are made again. Written aside and renamed over, mode 0600: it holds
 * the secret. `url` undefined keeps the file's; `dashboardUrl` is kept unless one is given;
 * `rotate` makes a new secret.
 */
export async function ensureApiConfig(
  dataDir: string,
  url: string | undefined,
  update: { dashboardUrl?: string; rotate?: boolean } = {},
): Promise<ApiConfig> {
  const file = path.join(dataDir, API_FILE);
  // `storage serve` or `dashboard` beside an external DATABASE_URL may be the first to use the folder.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const existing = (await readApiConfig(dataDir)) ?? {};
  // Rotating makes a new secret: every key and user token signed with the old one stops working.
  const jwtSecret =
    !update.rotate && typeof existing.jwtSecret === "string" && existing.jwtSecret.length >= 32
      ? existing.jwtSecret
      : randomBytes(32).toString("base64url");
  const keyFor = (role: "anon" | "service_role", held: unknown) =>
    typeof held === "string" && hasRole(held, jwtSecret, role) ? held : signApiKey(role, jwtSecret);
  const config: ApiConfig = {
    url: url ?? (typeof existing.url === "string" ? existing.url : ""),
    anonKey: keyFor("anon", existing.anonKey),
    serviceRoleKey: keyFor("service_role", existing.serviceRoleKey),
    jwtSecret,
  };
  const dashboardUrl = update.dashboardUrl ?? existing.dashboardUrl;
  if (typeof dashboardUrl === "string") config.dashboardUrl = dashboardUrl;
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
  return config;
}

/** What `api.json` holds now (fields unchecked), or undefined when there is none or it is damaged. */
export async function readApiConfig(dataDir: string): Promise<Partial<ApiConfig> | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dataDir, API_FILE), "utf8")) as Partial<ApiConfig>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/**
 * When a server that wrote its URL into api.json stops: puts back the URL it replaced if that server
 * still answers (a second `start` stopping while the first runs), or empties it, so that apps reading
 * api.json are never sent to a port nobody serves. A URL another process wrote since is left alone.
 */
export async function releaseApiUrl(
  dataDir: string,
  field: "url" | "dashboardUrl",
  ours: string,
  replaced: string | undefined,
): Promise<void> {
  const current = await readApiConfig(dataDir);
  if (current === undefined || current[field] !== ours) return;
  const back = replaced && replaced !== ours && (await answers(replaced)) ? replaced : "";
  const file = path.join(dataDir, API_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ ...current, [field]: back }, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

/** Whether something accepts connections at the URL's host and port (within half a second). */
function answers(url: string): Promise<boolean> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = tcpConnect({
      host: target.hostname.replace(/^\[|\]$/g, ""),
      port: Number(target.port || (target.protocol === "https:" ? 443 : 80)),
    });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
