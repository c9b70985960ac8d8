/**
 * The typed data API: every call is one transaction run as a user (the `authenticated` role with
 * the JWT claims Supabase would set, so RLS decides) or as the service. No session state outlives a
 * transaction, so it works behind a transaction-mode pooler.
 *
 * @example
 * const db = createDb({ connectionString: process.env.DATABASE_URL! });
 * const me = db.asUser(userId);
 * const project = await me.projects.create({ name: "Storyboard" });
 * const page = await me.projects.list({ limit: 20 });
 * await db.close();
 */
import { activity, costs } from "./analytics.ts";
import { audio } from "./audio.ts";
import { collaborators } from "./collaborators.ts";
import { components } from "./components.ts";
import { type Actor, createRunner, type DbOptions, inTransaction, type Tx } from "./db.ts";
import { monitoring } from "./monitoring.ts";
import { projects } from "./projects.ts";
import { prompts } from "./prompts.ts";
import { type SdkStorage, sdkStorage } from "./storage-config.ts";
import { serviceUsers, users } from "./users.ts";
import * as v from "./validate.ts";

export {
  type DataErrorCode,
  type ErrorCode,
  isVpbError,
  RetryableError,
  VpbError,
} from "../errors.ts";
export { DiskDriver } from "../storage/drivers/disk.ts";
export type { StorageDriver } from "../storage/drivers/driver.ts";
export type { ActivityDay, ActivityEvent, MonthlyCost } from "./analytics.ts";
export type { AudioFile, AudioRecording, AudioUploadOptions, NewRecording } from "./audio.ts";
export type { Collaborator, Role } from "./collaborators.ts";
export type { ComponentInput, LayoutChange, LayoutResult } from "./components.ts";
export type { Page } from "./cursor.ts";
export type { DbOptions, Tx } from "./db.ts";
export type { ErrorReport, Metric } from "./monitoring.ts";
export type { NewProject, Project, ProjectPatch, ProjectStats, SharedProject } from "./projects.ts";
export type { NewGeneration, PromptGeneration } from "./prompts.ts";
export type { StorageOptions } from "./storage-config.ts";
export type { NewUser, ProfilePatch, UserProfile } from "./users.ts";

function scope(runner: ReturnType<typeof createRunner>, actor: Actor, storage: SdkStorage | undefined) {
  return {
    users: users(runner, actor),
    projects: projects(runner, actor),
    components: components(runner, actor),
    audio: audio(runner, actor, storage),
    prompts: prompts(runner, actor),
    collaborators: collaborators(runner, actor),
    activity: activity(runner, actor),
    costs: costs(runner, actor),
    monitoring: monitoring(runner, actor),
  };
}

export type UserScope = ReturnType<typeof scope>;

export interface ServiceScope {
  /** Creating users and reading any user's profile. */
  users: ReturnType<typeof serviceUsers>;
  /** The error log and metrics, recorded without a user. */
  monitoring: ReturnType<typeof monitoring>;
  /** Runs `fn` in one transaction as service_role (bypasses RLS): for trusted jobs only. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The scheduled upkeep: partitions ahead, expired auth rows, old trash, old partitions. */
  maintenance(): Promise<{
    partitionsCreated: string[];
    sessionsRemoved: number;
    tokensRemoved: number;
    projectsPurged: number;
    partitionsDropped: string[];
  }>;
}

export function createDb(options: DbOptions) {
  const runner = createRunner(options);
  const storage = options.storage ? sdkStorage(runner, options.storage) : undefined;
  return {
    /** Calls made as this user, through RLS. */
    asUser(userId: string): UserScope {
      v.uuid("asUser", "userId", userId);
      return scope(runner, { role: "authenticated", userId }, storage);
    },
    /** Trusted calls as service_role. */
    asService(): ServiceScope {
      const actor: Actor = { role: "service_role", userId: undefined };
      return {
        users: serviceUsers(runner, actor),
        monitoring: monitoring(runner, actor),
        transaction: (fn) => inTransaction(runner, actor, "service.transaction", fn, false),
        maintenance: () =>
          inTransaction(runner, actor, "service.maintenance", async (tx) => {
            const created = await tx.query<{ p: string }>(
              "select public.create_monthly_partitions(t) as p from unnest(public.analytics_partitioned_tables()) t",
            );
            const auth = await tx.query<{ s: number; v: number }>(
              "select sessions_removed::int as s, verification_tokens_removed::int as v from public.cleanup_expired_auth()",
            );
            const purged = await tx.query("select public.purge_deleted_projects()");
            const dropped = await tx.query<{ p: string }>(
              "select p from public.cleanup_analytics_partitions() p",
            );
            return {
              partitionsCreated: created.rows.map((r) => r.p),
              sessionsRemoved: auth.rows[0]?.s ?? 0,
              tokensRemoved: auth.rows[0]?.v ?? 0,
              projectsPurged: purged.rowCount ?? 0,
              partitionsDropped: dropped.rows.map((r) => r.p),
            };
          }),
      };
    },
    /** Closes the pool; pending calls finish first. */
    close: () => runner.pool.end(),
  };
}

export type Db = ReturnType<typeof createDb>;
