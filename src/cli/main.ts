#!/usr/bin/env node
import { CommanderError } from "commander";
import { isVpbError } from "../errors.ts";
import { buildProgram } from "./program.ts";
import { formatError } from "./report.ts";

/** Exit codes: 0 success, 1 error, 2 usage; `migrate status` adds 3 (pending) and 4 (drift). */
async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were already printed.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isVpbError(e)) {
      process.stderr.write(`${formatError(e)}\n`);
      // A wrong argument is a usage error, like the ones commander reports itself.
      return e.code === "INVALID_ARGUMENT" ? 2 : 1;
    }
    process.stderr.write(`unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

// Exit explicitly: a pg pool or server handle left open must not keep the CLI alive.
process.exit(await main(process.argv));
