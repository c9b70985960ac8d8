import type { Tables } from "../../database/types/database.types.ts";
import { dataError } from "../errors.ts";
import { type Actor, inTransaction, type Runner, requireUser } from "./db.ts";
import * as v from "./validate.ts";

export type Collaborator = Tables<"collaborators">;
export const ROLES = ["viewer", "editor", "admin"] as const;
export type Role = (typeof ROLES)[number];

const COLUMNS =
  "id, project_id, user_id, invited_email, role, invited_by, invited_at, accepted_at, created_at, updated_at";

export function collaborators(runner: Runner, actor: Actor) {
  const one = async (op: string, sql: string, params: unknown[]) =>
    inTransaction(runner, actor, op, async (tx) => {
      const { rows } = await tx.query<Collaborator>(sql, params);
      if (!rows[0]) throw dataError("NOT_FOUND", `${op}: not found, or not yours to manage`);
      return rows[0];
    });
  return {
    /** Invites an address to the project with a role (owner or admin only). */
    async invite(projectId: string, email: string, role: Role): Promise<Collaborator> {
      const op = "collaborators.invite";
      const me = requireUser(actor, op);
      v.uuid(op, "projectId", projectId);
      v.text(op, "email", email, 320);
      if (!/^[^@\s]+@[^@\s]+$/.test(email))
        throw dataError("INVALID_INPUT", `${op}: email is not an address`);
      v.oneOf(op, "role", role, ROLES);
      return one(
        op,
        `insert into public.collaborators (project_id, invited_email, role, invited_by) values ($1, $2, $3, $4) returning ${COLUMNS}`,
        [projectId, email, role, me],
      );
    },

    /** The signed-in invitee accepts the invitation to the project; returns the membership id. */
    async accept(projectId: string): Promise<string> {
      const op = "collaborators.accept";
      requireUser(actor, op);
      v.uuid(op, "projectId", projectId);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<{ id: string }>("select public.accept_invitation($1) as id", [
          projectId,
        ]);
        return (rows[0] as { id: string }).id;
      });
    },

    async changeRole(collaboratorId: string, role: Role): Promise<Collaborator> {
      const op = "collaborators.changeRole";
      v.uuid(op, "collaboratorId", collaboratorId);
      v.oneOf(op, "role", role, ROLES);
      return one(op, `update public.collaborators set role = $2 where id = $1 returning ${COLUMNS}`, [
        collaboratorId,
        role,
      ]);
    },

    /** Removes a collaborator (owner or admin), or leaves a project (the collaborator themself). */
    async remove(collaboratorId: string): Promise<Collaborator> {
      const op = "collaborators.remove";
      v.uuid(op, "collaboratorId", collaboratorId);
      return one(op, `delete from public.collaborators where id = $1 returning ${COLUMNS}`, [collaboratorId]);
    },

    async list(projectId: string): Promise<Collaborator[]> {
      const op = "collaborators.list";
      v.uuid(op, "projectId", projectId);
      return inTransaction(
        runner,
        actor,
        op,
        async (tx) =>
          (
            await tx.query<Collaborator>(
              `select ${COLUMNS} from public.collaborators where project_id = $1 order by invited_at, id`,
              [projectId],
            )
          ).rows,
      );
    },
  };
}
