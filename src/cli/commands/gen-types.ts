import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { VpbError } from "../../errors.ts";
import { migrateUp } from "../../migrations/migrator.ts";
import { generateTypes, TYPES_FILE } from "../../schema/typegen.ts";
import { loadConfig, migratorOptions, withTarget } from "../context.ts";

export function register(gen: Command): void {
  gen
    .command("types")
    .description(
      "write the TypeScript Database type of the public schema (Supabase's generator), after migrating",
    )
    .option("--output <file>", "where to write it", TYPES_FILE)
    .option("--check", "write nothing; exit 1 when the file differs from what the database gives")
    .action(async (flags: { output: string; check?: boolean }) => {
      const config = loadConfig();
      const types = await withTarget(config, async (target) => {
        const up = await migrateUp(migratorOptions(config, target, {}));
        if (up.error) throw up.error;
        return generateTypes(target.url);
      });
      const file = path.resolve(flags.output);
      if (flags.check) {
        const current = await readFile(file, "utf8").catch(() => "");
        if (current !== types) {
          throw new VpbError(
            "TYPES_STALE",
            `${path.relative(process.cwd(), file)} does not match the schema.`,
            "Run `vpb-db gen types` and commit the file.",
          );
        }
        process.stdout.write(`${path.relative(process.cwd(), file)} is up to date.\n`);
        return;
      }
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, types);
      process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
    });
}
