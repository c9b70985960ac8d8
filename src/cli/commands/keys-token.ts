import type { Command } from "commander";
import type { Config } from "../../config.ts";
import { hasDatabase, openTarget } from "../../db/target.ts";
import { isVpbError, VpbError } from "../../errors.ts";
import { createDb } from "../../sdk/index.ts";
import { readApiConfig } from "../../storage/api-config.ts";
import { signAccessToken } from "../../storage/auth.ts";
import { loadConfig, progressLine } from "../context.ts";
import { printText } from "../report.ts";

/**
 * Whether the configured database has the user: true or false, or undefined when no database is set up
 * (DATABASE_URL unset and no embedded one in the data folder), where there is nothing to ask. Asked as
 * the service role, as an app's server would: the connecting role may not bypass RLS (Supabase's
 * `postgres` need not), and the users table's policies would then hide every row.
 */
async function userKnown(config: Config, userId: string): Promise<boolean | undefined> {
  if (!config.databaseUrl && !hasDatabase(config.dataDir)) return undefined;
  const target = await openTarget(config, undefined, { existing: true });
  const db = createDb({ connectionString: target.url, max: 1, applicationName: "vpb-db keys token" });
  try {
    await db.asService().users.get(userId);
    return true;
  } catch (e) {
    if (isVpbError(e, "NOT_FOUND")) return false;
    throw e;
  } finally {
    await db.close();
    await target.close();
  }
}

export function register(keys: Command): void {
  keys
    .command("token")
    .description("print a signed-in user's access token for the storage API (as Supabase Auth issues them)")
    .argument("<user-id>", "the user's id (public.users.id)")
    .option("--email <email>", "the email claim")
    .option("--expires-in <seconds>", "lifetime in seconds, at most a week", "3600")
    .option("--no-check", "sign without asking the database whether the user exists")
    .action(async (userId: string, flags: { email?: string; expiresIn: string; check: boolean }) => {
      const config = loadConfig();
      const api = await readApiConfig(config.dataDir);
      if (typeof api?.jwtSecret !== "string") {
        throw new VpbError(
          "INVALID_ARGUMENT",
          `there is no api.json with a JWT secret in the data folder (${config.dataDir})`,
          "Run `vpb-db keys api` (or `npm start`) first: it makes one.",
        );
      }
      if (!/^\d+$/.test(flags.expiresIn)) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "--expires-in must be a number of seconds",
          "Pass --expires-in 3600.",
        );
      }
      let token: string;
      try {
        token = await signAccessToken({
          jwtSecret: api.jwtSecret,
          userId,
          email: flags.email,
          expiresIn: Number(flags.expiresIn),
        });
      } catch (e) {
        // A bad argument is a usage error of this command (exit 2), whatever the SDK calls it.
        if (e instanceof VpbError && e.code === "INVALID_INPUT") {
          throw new VpbError("INVALID_ARGUMENT", e.message, e.remedy);
        }
        throw e;
      }
      // Supabase Auth signs only for users it has; a token for an id the database lacks would pass
      // every check and see nothing, which looks like a bug in the app rather than a typo here.
      if (flags.check) {
        const known = await userKnown(config, userId);
        if (known === false) {
          throw new VpbError(
            "INVALID_ARGUMENT",
            `the database has no user ${userId} (public.users)`,
            "Check the id (`select id, email from users`), or pass --no-check to sign for it anyway.",
          );
        }
        if (known === undefined)
          progressLine("note: not checked that the user exists: no database is set up");
      }
      printText(token);
    });
}
