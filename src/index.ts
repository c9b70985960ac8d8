/** vpb-db's programmatic API: the migration runner, the doctor, the embedded server, the type generator. */
export { applyBootstrap, type BootstrapResult } from "./bootstrap.ts";
export { type Config, parseConfig, redactUrl, type Settings } from "./config.ts";
export { type Finding, runDoctor } from "./doctor.ts";
export { type EmbeddedOptions, type EmbeddedServer, startEmbedded } from "./embedded-server.ts";
export { ERROR_CODES, type ErrorCode, isVpbError, VpbError } from "./errors.ts";
export {
  baseline,
  type MigrationResult,
  type MigratorOptions,
  migrateDown,
  migrateUp,
  migrationPlan,
  migrationStatus,
  type RunResult,
  repair,
  reset,
  type StatusResult,
} from "./migrations/migrator.ts";
export { generateTypes } from "./typegen.ts";
