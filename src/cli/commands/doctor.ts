import type { Command } from "commander";
import { connect } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { DEFAULT_SCHEMAS, runDoctor } from "../../schema/doctor.ts";
import { loadConfig, withTarget } from "../context.ts";
import { toJson } from "../report.ts";

/** Exit code when the doctor has findings (0 when it has none). */
export const DOCTOR_FINDINGS_EXIT = 5;

export function register(program: Command): void {
  program
    .command("doctor")
    .description(
      "inspect a database for tables without (forced) RLS, policies calling auth.uid() per row, foreign keys " +
        `without an index, SECURITY DEFINER functions without a pinned search_path and functions anon may call; exit 0 clean, ${DOCTOR_FINDINGS_EXIT} findings`,
    )
    .option("--schema <names>", "comma-separated schemas to inspect", DEFAULT_SCHEMAS.join(","))
    .option("--json", "print the findings as JSON")
    .action(async (flags: { schema: string; json?: boolean }) => {
      const config = loadConfig();
      const schemas = flags.schema
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const findings = await withTarget(
        config,
        async (target) => {
          const client = await connect(target.url, "vpb-db doctor");
          try {
            // A misspelt schema would otherwise pass as "no findings".
            const { rows } = await client.query<{ name: string }>(
              "select s as name from unnest($1::text[]) s where to_regnamespace(quote_ident(s)) is null",
              [schemas],
            );
            if (rows.length > 0 || schemas.length === 0) {
              throw new VpbError(
                "INVALID_ARGUMENT",
                `--schema names no schema of this database: ${rows.map((r) => r.name).join(", ") || "(empty)"}.`,
                `Name existing schemas, e.g. --schema ${DEFAULT_SCHEMAS.join(",")}.`,
              );
            }
            return await runDoctor(client, schemas);
          } finally {
            await client.end();
          }
        },
        { existing: true },
      );
      if (flags.json) process.stdout.write(`${toJson(findings)}\n`);
      else if (findings.length === 0) process.stdout.write(`No findings in ${schemas.join(", ")}.\n`);
      else {
        for (const f of findings)
          process.stdout.write(`[${f.check}] ${f.object}\n  ${f.detail}\n  fix: ${f.remedy}\n`);
        process.stdout.write(`${findings.length} finding${findings.length > 1 ? "s" : ""}.\n`);
      }
      if (findings.length > 0) process.exitCode = DOCTOR_FINDINGS_EXIT;
    });
}
