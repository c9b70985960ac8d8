import type { Command } from "commander";
import { VpbError } from "../../errors.ts";
import { readApiConfig } from "../../storage/api-config.ts";
import { signAccessToken } from "../../storage/auth.ts";
import { loadConfig } from "../context.ts";
import { printText } from "../report.ts";

export function register(keys: Command): void {
  keys
    .command("token")
    .description("print a signed-in user's access token for the storage API (as Supabase Auth issues them)")
    .argument("<user-id>", "the user's id (public.users.id)")
    .option("--email <email>", "the email claim")
    .option("--expires-in <seconds>", "lifetime in seconds, at most a week", "3600")
    .action(async (userId: string, flags: { email?: string; expiresIn: string }) => {
      const api = await readApiConfig(loadConfig().dataDir);
      if (typeof api?.jwtSecret !== "string") {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "there is no JWT secret in the data folder's api.json",
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
      try {
        printText(
          await signAccessToken({
            jwtSecret: api.jwtSecret,
            userId,
            email: flags.email,
            expiresIn: Number(flags.expiresIn),
          }),
        );
      } catch (e) {
        // A bad argument is a usage error of this command (exit 2), whatever the SDK calls it.
        if (e instanceof VpbError && e.code === "INVALID_INPUT") {
          throw new VpbError("INVALID_ARGUMENT", e.message, e.remedy);
        }
        throw e;
      }
    });
}
