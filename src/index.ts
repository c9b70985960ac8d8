/** vpb-db's programmatic API: the migration runner, the doctor, the embedded server, the type generator. */

export { type Config, parseConfig, redactUrl, type Settings } from "./config.ts";
export { applyBootstrap, type BootstrapResult } from "./db/bootstrap.ts";
export { type EmbeddedOptions, type EmbeddedServer, startEmbedded } from "./db/embedded-server.ts";
export {
  type DataErrorCode,
  ERROR_CODES,
  type ErrorCode,
  isVpbError,
  type PgErrorFields,
  RetryableError,
  VpbError,
} from "./errors.ts";
export { type JobRun, type JobStatus, jobStatuses, recentRuns, runJobNow } from "./jobs/history.ts";
export { installPgCron, uninstallPgCron } from "./jobs/pg-cron.ts";
export {
  JOBS,
  type JobContext,
  type JobDefinition,
  type JobEnvironment,
  job,
  type RetryPolicy,
} from "./jobs/registry.ts";
export { parseSchedule, type Schedule } from "./jobs/schedule.ts";
export {
  resolveJobs,
  type ScheduledJob,
  type Scheduler,
  type SchedulerOptions,
  startScheduler,
} from "./jobs/scheduler.ts";
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
export { type Finding, runDoctor } from "./schema/doctor.ts";
export { generateTypes } from "./schema/typegen.ts";
export { type ApiConfig, readApiConfig } from "./storage/api-config.ts";
export { type AccessTokenOptions, signAccessToken } from "./storage/auth.ts";
