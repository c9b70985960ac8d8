import type pg from "pg";

export type Actor = "anon" | "stranger" | "owner" | "viewer" | "editor" | "admin" | "service_role";

/**
 * Makes the current transaction run as Supabase's API would for this actor: the database role and
 * the JWT claims PostgREST sets. `userId` is the signed-in user (undefined for anon and the service).
 */
export async function becomeActor(c: pg.Client, actor: Actor, userId: string | undefined): Promise<void> {
  const role = actor === "anon" || actor === "service_role" ? actor : "authenticated";
  const claims = userId ? { sub: userId, role } : { role };
  await c.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify(claims)]);
  await c.query(`set local role ${role}`);
}

/** Runs `fn` in a transaction as the actor and rolls everything back. */
export async function asActor<T>(
  c: pg.Client,
  actor: Actor,
  userId: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  await c.query("begin");
  try {
    await becomeActor(c, actor, userId);
    return await fn();
  } finally {
    await c.query("rollback");
  }
}
