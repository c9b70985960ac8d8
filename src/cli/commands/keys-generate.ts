import type { Command } from "commander";
import { generateKey } from "../../auth/token-cipher.ts";

export function register(keys: Command): void {
  keys
    .command("generate")
    .description("print a new token key line (id:base64) to put first in VPB_TOKEN_KEYS")
    .action(() => {
      process.stdout.write(`${generateKey()}\n`);
    });
}
