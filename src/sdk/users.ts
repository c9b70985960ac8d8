import type { Tables } from "../../database/types/database.types.ts";
import { dataError } from "../errors.ts";
import { type Actor, inTransaction, type Runner, requireUser } from "./db.ts";
import { USER_COLUMNS, USER_PROFILE } from "./queries.ts";
import * as v from "./validate.ts";

export type UserProfile = Tables<"users">;

export interface NewUser {
  email: string;
  name?: string | null;
  image?: string | null;
  displayName?: string | null;
}

/**
 * What a user may change of their own row: the columns granted to `authenticated` in migration 004
 * (name, image, display_name, settings, last_seen_at). Email and plan are the service's.
 */
export interface ProfilePatch {
  name?: string | null;
  image?: string | null;
  displayName?: string | null;
  settings?: Record<string, unknown>;
}

const EMAIL = /^[^@\s]+@[^@\s]+$/;

function email(operation: string, value: unknown): string {
  const address = v.text(operation, "email", value, 320);
  if (!EMAIL.test(address)) throw dataError("INVALID_INPUT", `${operation}: email must look like name@host`);
  return address;
}

/** The signed-in user's own profile, through RLS. */
export function users(runner: Runner, actor: Actor) {
  return {
    async get(): Promise<UserProfile> {
      const op = "users.get";
      const id = requireUser(actor, op);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<UserProfile>(USER_PROFILE, [id]);
        if (!rows[0]) throw dataError("NOT_FOUND", `${op}: no such user`);
        return rows[0];
      });
    },

    /** Changes the fields given (null clears name, image or display name); email and plan stay the service's. */
    async updateProfile(patch: ProfilePatch): Promise<UserProfile> {
      const op = "users.updateProfile";
      const id = requireUser(actor, op);
      const values: unknown[] = [id];
      const sets: string[] = [];
      const optional = (column: string, field: keyof ProfilePatch, max: number, min = 0) => {
        const value = patch[field];
        if (value === undefined) return;
        sets.push(`${column} = $${values.push(value === null ? null : v.text(op, field, value, max, min))}`);
      };
      optional("name", "name", 200);
      optional("image", "image", 2048);
      optional("display_name", "displayName", 100, 1);
      if (patch.settings !== undefined)
        sets.push(`settings = $${values.push(v.object(op, "settings", patch.settings))}`);
      if (sets.length === 0) throw dataError("INVALID_INPUT", `${op}: nothing to change`);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<UserProfile>(
          `update public.users set ${sets.join(", ")} where id = $1 returning ${USER_COLUMNS}`,
          values,
        );
        if (!rows[0]) throw dataError("NOT_FOUND", `${op}: no such user`);
        return rows[0];
      });
    },

    /** Records that the user was active now (last_seen_at). */
    async markSeen(): Promise<void> {
      const op = "users.markSeen";
      const id = requireUser(actor, op);
      await inTransaction(runner, actor, op, (tx) =>
        tx.query("update public.users set last_seen_at = now() where id = $1", [id]),
      );
    },
  };
}

/** Users as the service sees them: creating one (an app's own sign-up, an import) and reading any. */
export function serviceUsers(runner: Runner, actor: Actor) {
  return {
    /** Creates a user; CONFLICT when the address is taken (whatever its case). */
    async create(input: NewUser): Promise<UserProfile> {
      const op = "users.create";
      const address = email(op, input.email);
      const name = v.optionalText(op, "name", input.name, 200);
      const image = v.optionalText(op, "image", input.image, 2048);
      const displayName =
        input.displayName == null ? null : v.text(op, "displayName", input.displayName, 100);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<UserProfile>(
          `insert into public.users (email, name, image, display_name) values ($1, $2, $3, $4) returning ${USER_COLUMNS}`,
          [address, name, image, displayName],
        );
        return rows[0] as UserProfile;
      });
    },

    /** Any user's profile by id; NOT_FOUND when there is none. */
    async get(id: string): Promise<UserProfile> {
      const op = "users.get";
      v.uuid(op, "id", id);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<UserProfile>(USER_PROFILE, [id]);
        if (!rows[0]) throw dataError("NOT_FOUND", `${op}: no such user`);
        return rows[0];
      });
    },
  };
}
