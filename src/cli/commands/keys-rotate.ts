import type { Command } from "commander";
import { rotateTokenKeys } from "../../auth/token-rotation.ts";
import { connect } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { loadConfig, progressLine, withTarget } from "../context.ts";
import { toJson } from "../report.ts";

export function register(keys: Command): void {
  keys
    .command("rotate")
    .description("re-encrypt every stored OAuth token under the first key of VPB_TOKEN_KEYS")
    .option("--batch-size <n>", "accounts per transaction", "500")
    .option("--json", "print the result as JSON")
    .action(async (flags: { batchSize: string; json?: boolean }) => {
      const config = loadConfig();
      if (!config.tokenKeys) {
        throw new VpbError(
          "TOKEN_KEYS_MISSING",
          "VPB_TOKEN_KEYS is not set: there is no key to rotate to.",
          "Run `vpb-db keys generate`, put its line first in VPB_TOKEN_KEYS and keep the old keys after it.",
        );
      }
      if (!/^[1-9]\d{0,5}$/.test(flags.batchSize)) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          `--batch-size must be 1 to 999999, got "${flags.batchSize}".`,
          "Pass e.g. --batch-size 500.",
        );
      }
      const ring = config.tokenKeys;
      const result = await withTarget(config, async (target) => {
        const client = await connect(target.url, "vpb-db keys rotate");
        try {
          return await rotateTokenKeys(client, ring, {
            batchSize: Number(flags.batchSize),
            onProgress: (done) => progressLine(`${done} accounts re-encrypted…`),
          });
        } finally {
          await client.end();
        }
      });
      process.stdout.write(
        flags.json
          ? `${toJson(result)}\n`
          : `Re-encrypted ${result.tokensRewritten} tokens of ${result.accountsRewritten} accounts under key "${ring.current}".\n`,
      );
      if (result.failures.length > 0) {
        // Account ids and error codes only: never a token, never a key.
        const accounts = [...new Set(result.failures.map((f) => f.accountId))];
        throw new VpbError(
          "TOKEN_ROTATION_INCOMPLETE",
          `${result.failures.length} tokens of ${accounts.length} accounts could not be re-encrypted and were left as they were:\n` +
            result.failures.map((f) => `  - account ${f.accountId} ${f.column}: ${f.code}`).join("\n"),
          "TOKEN_KEY_UNKNOWN: put the missing key back in VPB_TOKEN_KEYS (after the current one) and rotate again. " +
            "TOKEN_DECRYPT_FAILED: those tokens are lost; unlink the accounts (the adapter's unlinkAccount needs no key) and the users sign in again. " +
            "Keep the old keys until a rotation ends without this error.",
        );
      }
    });
}
