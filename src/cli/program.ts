import { Command } from "commander";
import { register as registerAlerts } from "./commands/alerts.ts";
import { register as registerBackup } from "./commands/backup.ts";
import { register as registerBackupPrune } from "./commands/backup-prune.ts";
import { register as registerBackupVerify } from "./commands/backup-verify.ts";
import { register as registerDashboard } from "./commands/dashboard.ts";
import { register as registerDoctor } from "./commands/doctor.ts";
import { register as registerExport } from "./commands/export.ts";
import { register as registerGenTypes } from "./commands/gen-types.ts";
import { register as registerImport } from "./commands/import.ts";
import { register as registerInspect } from "./commands/inspect.ts";
import { register as registerJobs } from "./commands/jobs.ts";
import { register as registerKeysApi } from "./commands/keys-api.ts";
import { register as registerKeysGenerate } from "./commands/keys-generate.ts";
import { register as registerKeysRotate } from "./commands/keys-rotate.ts";
import { register as registerKeysToken } from "./commands/keys-token.ts";
import { register as registerBaseline } from "./commands/migrate-baseline.ts";
import { register as registerDown } from "./commands/migrate-down.ts";
import { register as registerNew } from "./commands/migrate-new.ts";
import { register as registerPlan } from "./commands/migrate-plan.ts";
import { register as registerRepair } from "./commands/migrate-repair.ts";
import { register as registerReset } from "./commands/migrate-reset.ts";
import { register as registerStatus } from "./commands/migrate-status.ts";
import { register as registerUp } from "./commands/migrate-up.ts";
import { register as registerRestore } from "./commands/restore.ts";
import { register as registerSchedule } from "./commands/schedule-pg-cron.ts";
import { register as registerSeed } from "./commands/seed.ts";
import { register as registerStart } from "./commands/start.ts";
import { register as registerStorageServe } from "./commands/storage-serve.ts";
import { register as registerStorageSweep } from "./commands/storage-sweep.ts";
import { register as registerWorker } from "./commands/worker.ts";

/** Exit codes: 0 success, 1 error, 2 usage; `migrate status` adds 3 (pending) and 4 (drift). */
export function buildProgram(): Command {
  const program = new Command("vpb-db")
    .description("The Visual Prompt Builder database: embedded PostgreSQL, migrations and operations.")
    .version("0.1.0")
    .showHelpAfterError()
    // A fixed width keeps --help identical everywhere, so the README's copy can be checked.
    .configureHelp({ helpWidth: 100 });
  registerStart(program);
  registerDoctor(program);
  registerInspect(program);
  registerDashboard(program);
  registerSeed(program);
  const backup = registerBackup(program);
  registerBackupVerify(backup);
  registerBackupPrune(backup);
  registerRestore(program);
  registerAlerts(program);
  registerExport(program);
  registerImport(program);
  registerJobs(program);
  registerWorker(program);
  registerSchedule(program);
  const gen = program.command("gen").description("generate code from the schema");
  registerGenTypes(gen);
  const keys = program
    .command("keys")
    .description("the storage API's keys and user tokens, and the keys that encrypt the stored OAuth tokens");
  registerKeysApi(keys);
  registerKeysToken(keys);
  registerKeysGenerate(keys);
  registerKeysRotate(keys);
  const storage = program.command("storage").description("the storage service (Supabase Storage's API)");
  registerStorageServe(storage);
  registerStorageSweep(storage);
  const migrate = program
    .command("migrate")
    .description("apply, roll back and inspect the numbered migrations");
  for (const register of [
    registerUp,
    registerDown,
    registerStatus,
    registerPlan,
    registerNew,
    registerBaseline,
    registerRepair,
    registerReset,
  ]) {
    register(migrate);
  }
  for (const cmd of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) {
    cmd.exitOverride();
  }
  return program;
}

/** Every command, parents first: the README's CLI reference is made from their --help. */
export function allCommands(program: Command): Command[] {
  return [program, ...program.commands.flatMap((c) => allCommands(c))];
}
