import { dataError } from "../errors.ts";
import { type Actor, inTransaction, type Runner } from "./db.ts";
import * as v from "./validate.ts";

export const COMPONENT_TYPES = [
  "text",
  "prompt",
  "variable",
  "image",
  "audio",
  "container",
  "note",
  "divider",
] as const;

export interface ComponentInput {
  /** The component's id: new ids create components, known ids update them. */
  id: string;
  parent_id?: string | null;
  type: (typeof COMPONENT_TYPES)[number];
  position_x?: number;
  position_y?: number;
  width?: number;
  height?: number;
  z_index?: number;
  content?: Record<string, unknown>;
}

export interface LayoutChange {
  /** Compare-and-set on the project's version; omit to apply whatever the version. */
  expectedVersion?: number;
  /** The canvas itself (viewport, zoom...), replacing the stored one. */
  layout?: Record<string, unknown>;
  upsert?: ComponentInput[];
  delete?: string[];
}

export interface LayoutResult {
  version: number;
  upserted: number;
  deleted: number;
}

/**
 * One statement applies a whole canvas change: the project's layout and version, every created or
 * moved component, every deleted one. Either all of it lands or none does.
 */
export function components(runner: Runner, actor: Actor) {
  return {
    async applyLayout(projectId: string, change: LayoutChange): Promise<LayoutResult> {
      const op = "components.applyLayout";
      v.uuid(op, "projectId", projectId);
      if (change.expectedVersion !== undefined)
        v.int(op, "expectedVersion", change.expectedVersion, 1, 2_147_483_647);
      const layout = change.layout === undefined ? null : v.object(op, "layout", change.layout);
      const upserts = (change.upsert ?? []).map((c, i) => {
        v.uuid(op, `upsert[${i}].id`, c.id);
        if (c.parent_id != null) v.uuid(op, `upsert[${i}].parent_id`, c.parent_id);
        v.oneOf(op, `upsert[${i}].type`, c.type, COMPONENT_TYPES);
        for (const key of ["position_x", "position_y", "width", "height"] as const) {
          if (c[key] != null) v.finite(op, `upsert[${i}].${key}`, c[key]);
        }
        if (c.z_index != null) v.int(op, `upsert[${i}].z_index`, c.z_index, -100_000, 100_000);
        if (c.content !== undefined) v.object(op, `upsert[${i}].content`, c.content);
        return c;
      });
      const deletes = (change.delete ?? []).map((id, i) => v.uuid(op, `delete[${i}]`, id));
      if (deletes.some((id) => upserts.some((c) => c.id === id))) {
        throw dataError("INVALID_INPUT", `${op}: a component cannot be both upserted and deleted`);
      }
      if (upserts.length + deletes.length > 5000)
        throw dataError("INVALID_INPUT", `${op}: at most 5000 changes at once`);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<{ version: number | null; upserted: number; deleted: number }>(
          `with p as (
             update public.projects set layout = coalesce($2::jsonb, layout)
              where id = $1 and ($3::int is null or version = $3) and deleted_at is null
             returning id, version
           ),
           del as (
             delete from public.project_components c using p
              where c.project_id = p.id and c.id = any($4::uuid[]) returning c.id
           ),
           up as (
             insert into public.project_components
               (id, project_id, parent_id, type, position_x, position_y, width, height, z_index, content)
             select r.id, p.id, r.parent_id, r.type, coalesce(r.position_x, 0), coalesce(r.position_y, 0),
                    coalesce(r.width, 200), coalesce(r.height, 100), coalesce(r.z_index, 0), coalesce(r.content, '{}')
               from p, jsonb_to_recordset($5::jsonb) as r(id uuid, parent_id uuid, type text, position_x float8,
                    position_y float8, width float8, height float8, z_index int, content jsonb)
             on conflict (id) do update set parent_id = excluded.parent_id, type = excluded.type,
                    position_x = excluded.position_x, position_y = excluded.position_y, width = excluded.width,
                    height = excluded.height, z_index = excluded.z_index, content = excluded.content
              where project_components.project_id = excluded.project_id
             returning project_components.id
           )
           select (select version from p) as version, (select count(*)::int from up) as upserted,
                  (select count(*)::int from del) as deleted`,
          [projectId, layout, change.expectedVersion ?? null, deletes, JSON.stringify(upserts)],
        );
        const r = rows[0] as { version: number | null; upserted: number; deleted: number };
        if (r.version !== null) {
          if (r.upserted !== upserts.length) {
            throw dataError("CONFLICT", `${op}: a component id belongs to another project`);
          }
          return { version: r.version, upserted: r.upserted, deleted: r.deleted };
        }
        const seen = await tx.query<{ version: number; deleted: boolean }>(
          "select version, deleted_at is not null as deleted from public.projects where id = $1",
          [projectId],
        );
        const project = seen.rows[0];
        if (!project || project.deleted) throw dataError("NOT_FOUND", `${op}: not found`);
        if (change.expectedVersion !== undefined && project.version !== change.expectedVersion) {
          throw dataError(
            "CONFLICT",
            `${op}: the project changed since version ${change.expectedVersion}; reload it`,
          );
        }
        throw dataError("FORBIDDEN", `${op}: not allowed for this user`);
      });
    },
  };
}
