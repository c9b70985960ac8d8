import path from "node:path";
import type { Command } from "commander";
import { VpbError } from "../../errors.ts";
import { ensureApiConfig, readApiConfig } from "../../storage/api-config.ts";
import { loadConfig } from "../context.ts";
import { printText, toJson } from "../report.ts";

export function register(keys: Command): void {
  keys
    .command("api")
    .description(
      "print the storage API's URL and its anon and service keys (api.json in the data folder, made " +
        "when missing); --rotate makes a new JWT secret",
    )
    .option("--json", "print url, anonKey, serviceRoleKey and jwtSecret as JSON")
    .option("--rotate", "make a new JWT secret and keys: every key and token signed before stops working")
    .option("--yes", "confirm --rotate")
    .action(async (flags: { json?: boolean; rotate?: boolean; yes?: boolean }) => {
      if (flags.rotate && !flags.yes) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "--rotate invalidates the anon and service keys every app holds, and every user token",
          "Run it again with --yes, then give apps the new keys and restart the storage service.",
        );
      }
      const config = loadConfig();
      const held = await readApiConfig(config.dataDir);
      const url =
        typeof held?.url === "string" && held.url ? held.url : `http://127.0.0.1:${config.storagePort}`;
      const api = await ensureApiConfig(config.dataDir, url, { rotate: flags.rotate === true });
      if (flags.json) {
        printText(toJson(api));
        return;
      }
      const file = path.relative(process.cwd(), path.join(config.dataDir, "api.json"));
      printText(
        [
          `url: ${api.url}`,
          `anon key: ${api.anonKey}`,
          `service key: ${api.serviceRoleKey}`,
          `JWT secret: in ${file} (signs every key and user token: keep it on the server)`,
          ...(flags.rotate ? ["new secret: restart the storage service and give apps the new keys"] : []),
        ].join("\n"),
      );
    });
}
