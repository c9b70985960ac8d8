import type { Tables } from "../../database/types/database.types.ts";
import { dataError } from "../errors.ts";
import { decodeCursor, keysetArgs, type Page, page } from "./cursor.ts";
import { type Actor, inTransaction, type Runner, requireUser } from "./db.ts";
import {
  PROJECT_COLUMNS as COLUMNS,
  PROJECT_WITH_COMPONENTS,
  PROJECTS_PAGE,
  SHARED_PROJECTS_PAGE,
} from "./queries.ts";
import * as v from "./validate.ts";

export type Project = Tables<"projects">;
export type Component = Tables<"project_components">;
export type ProjectStats = {
  active_projects: number;
  deleted_projects: number;
  components: number;
  audio_recordings: number;
  prompt_generations: number;
  total_cost_usd: string;
  last_project_update: string | null;
};

export interface NewProject {
  name: string;
  description?: string | null;
  layout?: Record<string, unknown>;
  settings?: Record<string, unknown>;
}

export type ProjectPatch = Partial<NewProject>;

/** A project someone shared with the user, with the user's role in it. */
export type SharedProject = Project & { role: "viewer" | "editor" | "admin" };

/** timestamptz as ISO text, keeping microseconds. */
const iso = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export function projects(runner: Runner, actor: Actor) {
  return {
    /** Creates a project owned by the user; quota_exceeded past the plan's limit. */
    async create(input: NewProject): Promise<Project> {
      const op = "projects.create";
      const owner = requireUser(actor, op);
      const name = v.text(op, "name", input.name, 200);
      const layout = input.layout === undefined ? {} : v.object(op, "layout", input.layout);
      const settings = input.settings === undefined ? {} : v.object(op, "settings", input.settings);
      const description =
        input.description == null ? null : v.text(op, "description", input.description, 5000, 0);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<Project>(
          `insert into public.projects (owner_id, name, description, layout, settings) values ($1, $2, $3, $4, $5) returning ${COLUMNS}`,
          [owner, name, description, layout, settings],
        );
        return rows[0] as Project;
      });
    },

    /** The user's own projects, most recently updated first, `limit` per page (keyset cursor). */
    async list(options: { limit?: number; cursor?: string } = {}): Promise<Page<Project>> {
      const op = "projects.list";
      const owner = requireUser(actor, op);
      const limit = v.limit(op, options.limit);
      const after = decodeCursor(op, options.cursor);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<Project & { cursor_at: string }>(
          ...keysetArgs(PROJECTS_PAGE, owner, after, limit),
        );
        return page(rows, limit);
      });
    },

    /**
     * Projects shared with the user (accepted invitations; never the user's own), most recently
     * updated first, `limit` per page (keyset cursor), each with the user's role.
     */
    async sharedWithMe(options: { limit?: number; cursor?: string } = {}): Promise<Page<SharedProject>> {
      const op = "projects.sharedWithMe";
      const user = requireUser(actor, op);
      const limit = v.limit(op, options.limit);
      const after = decodeCursor(op, options.cursor);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<SharedProject & { cursor_at: string }>(
          ...keysetArgs(SHARED_PROJECTS_PAGE, user, after, limit),
        );
        return page(rows, limit);
      });
    },

    /** A project with its components in stacking order; not_found when missing or not readable. */
    async get(id: string): Promise<Project & { components: Component[] }> {
      const op = "projects.get";
      v.uuid(op, "id", id);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<Project & { components: Component[] }>(PROJECT_WITH_COMPONENTS, [id]);
        if (!rows[0]) throw dataError("NOT_FOUND", `${op}: not found`);
        return rows[0];
      });
    },

    /**
     * Updates name, description, layout or settings if the project is still at `expectedVersion`:
     * conflict when someone changed it meanwhile, forbidden for a viewer, not_found when missing.
     */
    async update(id: string, expectedVersion: number, patch: ProjectPatch): Promise<Project> {
      const op = "projects.update";
      v.uuid(op, "id", id);
      v.int(op, "expectedVersion", expectedVersion, 1, 2_147_483_647);
      const values: unknown[] = [id, expectedVersion];
      const sets: string[] = [];
      if (patch.name !== undefined) sets.push(`name = $${values.push(v.text(op, "name", patch.name, 200))}`);
      if (patch.description !== undefined) {
        sets.push(
          `description = $${values.push(patch.description === null ? null : v.text(op, "description", patch.description, 5000, 0))}`,
        );
      }
      if (patch.layout !== undefined)
        sets.push(`layout = $${values.push(v.object(op, "layout", patch.layout))}`);
      if (patch.settings !== undefined)
        sets.push(`settings = $${values.push(v.object(op, "settings", patch.settings))}`);
      if (sets.length === 0) throw dataError("INVALID_INPUT", `${op}: nothing to change`);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<Project>(
          `update public.projects set ${sets.join(", ")} where id = $1 and version = $2 returning ${COLUMNS}`,
          values,
        );
        if (rows[0]) return rows[0];
        const seen = await tx.query<{ version: number }>(
          "select version from public.projects where id = $1",
          [id],
        );
        if (!seen.rows[0]) throw dataError("NOT_FOUND", `${op}: not found`);
        if (seen.rows[0].version !== expectedVersion) {
          throw dataError(
            "CONFLICT",
            `${op}: the project changed since version ${expectedVersion}; reload it`,
          );
        }
        throw dataError("FORBIDDEN", `${op}: not allowed for this user`);
      });
    },

    /** Moves the project to the trash (owner only); returns when. */
    async softDelete(id: string): Promise<string> {
      const op = "projects.softDelete";
      const user = requireUser(actor, op);
      v.uuid(op, "id", id);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<{ at: string }>(
          `select ${iso("public.soft_delete_project($1, $2)")} as at`,
          [id, user],
        );
        return (rows[0] as { at: string }).at;
      });
    },

    /** Takes the project out of the trash (owner only); quota_exceeded if the plan is full. */
    async restore(id: string): Promise<Project> {
      const op = "projects.restore";
      const user = requireUser(actor, op);
      v.uuid(op, "id", id);
      return inTransaction(runner, actor, op, async (tx) => {
        // API roles cannot write deleted_at: restore_project checks the owner and the quota.
        const { rows } = await tx.query<Project>(
          `select ${COLUMNS} from public.projects where id = $1 and owner_id = $2 and deleted_at is not null`,
          [id, user],
        );
        if (!rows[0]) throw dataError("NOT_FOUND", `${op}: no such project in the trash`);
        await tx.query("select public.restore_project($1)", [id]);
        const restored = await tx.query<Project>(`select ${COLUMNS} from public.projects where id = $1`, [
          id,
        ]);
        return restored.rows[0] as Project;
      });
    },

    /** Copies a readable project and all its components into a new project of the user. */
    async duplicate(id: string, name?: string): Promise<string> {
      const op = "projects.duplicate";
      const user = requireUser(actor, op);
      v.uuid(op, "id", id);
      const newName = name === undefined ? null : v.text(op, "name", name, 200);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<{ id: string }>("select public.duplicate_project($1, $2, $3) as id", [
          id,
          user,
          newName,
        ]);
        return (rows[0] as { id: string }).id;
      });
    },

    /** Dashboard counts of the user's projects, contents and API cost. */
    async stats(): Promise<ProjectStats> {
      const op = "projects.stats";
      const user = requireUser(actor, op);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query(
          `select active_projects::int, deleted_projects::int, components::int, audio_recordings::int,
                  prompt_generations::int, total_cost_usd::text, ${iso("last_project_update")} as last_project_update
             from public.get_user_project_stats($1)`,
          [user],
        );
        return rows[0] as ProjectStats;
      });
    },
  };
}
