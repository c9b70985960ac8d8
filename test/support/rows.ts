import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type pg from "pg";

/** Inserts a row from a column map and returns it; values go as parameters, names are fixed by tests. */
export async function insert(c: pg.Client, table: string, values: Record<string, unknown>) {
  const cols = Object.keys(values);
  const { rows } = await c.query(
    `insert into public.${table} (${cols.join(", ")}) values (${cols.map((_, i) => `$${i + 1}`).join(", ")}) returning *`,
    cols.map((k) => values[k]),
  );
  return rows[0] as Record<string, unknown> & { id: string };
}

export const user = (c: pg.Client, over: Record<string, unknown> = {}) =>
  insert(c, "users", { email: `u-${randomUUID()}@example.com`, name: "Ada", ...over });

export const project = (c: pg.Client, ownerId: string, over: Record<string, unknown> = {}) =>
  insert(c, "projects", { owner_id: ownerId, name: "Canvas", ...over });

export const component = (c: pg.Client, projectId: string, over: Record<string, unknown> = {}) =>
  insert(c, "project_components", { project_id: projectId, type: "text", content: { text: "hi" }, ...over });

export const audioPath = (userId: string, projectId: string, file = "take.webm") =>
  `${userId}/${projectId}/1700000000000_${file}`;

/** The error `sql` fails with; the test fails if it succeeds. */
export async function refusal(
  c: pg.Client,
  sql: string,
  params: unknown[] = [],
): Promise<{ code?: string; constraint?: string; message: string; hint?: string }> {
  let caught: { code?: string; constraint?: string; message: string; hint?: string } | undefined;
  await assert.rejects(c.query(sql, params), (e: Error) => {
    caught = e as typeof caught;
    return true;
  });
  if (!caught) throw new Error(`expected a refusal of: ${sql}`);
  return caught;
}
