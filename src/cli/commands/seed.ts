import type { Command } from "commander";
import pg from "pg";
import { connect } from "../../db/target.ts";
import { seed, seedState } from "../../dev/seed.ts";
import { VpbError } from "../../errors.ts";
import { migrateUp } from "../../migrations/migrator.ts";
import { loadConfig, migratorOptions, progressLine, withTarget } from "../context.ts";

export function register(program: Command): void {
  program
    .command("seed")
    .description(
      "fill the database with reproducible generated data (scale 1: 10k users, 100k projects, 2M components, 5M activity rows)",
    )
    .option("--scale <n>", "size multiplier, e.g. 0.1 or 2", "1")
    .option("--force", "seed a database that is not on this machine, or that already has users")
    .action(async (flags: { scale: string; force?: boolean }) => {
      const scale = Number(flags.scale);
      if (!Number.isFinite(scale) || scale <= 0 || scale > 100) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          `--scale must be a number above 0 and at most 100, got "${flags.scale}".`,
          "Pass e.g. --scale 0.1.",
        );
      }
      const config = loadConfig();
      await withTarget(config, async (target) => {
        if (!target.local && !flags.force) {
          throw new VpbError(
            "INVALID_ARGUMENT",
            "seed writes millions of rows, and this database is not on this machine.",
            "Pass --force if you mean it.",
          );
        }
        const up = await migrateUp(migratorOptions(config, target, {}));
        if (up.error) throw up.error;
        const client = await connect(target.url, "vpb-db seed");
        try {
          const { rows } = await client.query<{ n: number }>("select count(*)::int as n from public.users");
          const earlier = await seedState(client);
          if (earlier && !earlier.finished && earlier.scale === scale) {
            progressLine(`resuming the seed at scale ${scale} that an earlier run left unfinished`);
          } else if (!earlier && (rows[0]?.n ?? 0) > 0 && !flags.force) {
            throw new VpbError(
              "INVALID_ARGUMENT",
              "the database already has users; seeding would mix generated data with them.",
              "Use an empty database, or pass --force.",
            );
          }
          const started = performance.now();
          const pool = new pg.Pool({ connectionString: target.url, max: 2, application_name: "vpb-db seed" });
          pool.on("error", () => {}); // an idle client's error: the running query reports it
          // The pool closes before the server stops (withTarget), whatever the seed did.
          const counts = await seed(pool, {
            scale,
            onProgress: (step, ms) => progressLine(`  ${step}: ${(ms / 1000).toFixed(1)} s`),
          }).finally(() => pool.end());
          process.stdout.write(
            `seeded scale ${scale} in ${((performance.now() - started) / 1000).toFixed(1)} s: ${counts.users} users, ${counts.projects} projects, ` +
              `${counts.components} components, ${counts.activity} activity rows\n`,
          );
        } finally {
          await client.end();
        }
      });
    });
}
