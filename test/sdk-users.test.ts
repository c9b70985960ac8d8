import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { createDb, type DataErrorCode, type Db, isVpbError } from "../src/sdk/index.ts";
import { client, createDatabase } from "./support/harness.ts";

async function rejectsWith(p: Promise<unknown>, code: DataErrorCode) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isVpbError(e), `expected a VpbError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

let db: Db;
let url: string;

before(async () => {
  url = (await createDatabase()).url;
  db = createDb({ connectionString: url, max: 2 });
});

after(async () => {
  await db?.close();
});

const newUser = (name = "Ada") =>
  db.asService().users.create({ email: `u-${randomUUID()}@example.com`, name });

test("users: the service creates a user; the user reads and updates their own profile through RLS", async () => {
  const ada = await newUser();
  assert.equal(ada.plan, "free");
  await rejectsWith(
    db.asService().users.create({ email: ada.email.toUpperCase(), name: "Twin" }),
    "CONFLICT",
  );
  await rejectsWith(db.asService().users.create({ email: "not an address" }), "INVALID_INPUT");
  const me = db.asUser(ada.id);
  assert.deepEqual(await me.users.get(), ada);
  const updated = await me.users.updateProfile({
    displayName: "Countess",
    image: "https://example.com/ada.png",
    settings: { theme: "dark" },
  });
  assert.equal(updated.display_name, "Countess");
  assert.deepEqual(updated.settings, { theme: "dark" });
  assert.equal(updated.name, "Ada", "fields not given stay");
  assert.equal(updated.email, ada.email);
  assert.equal((await me.users.updateProfile({ name: null })).name, null);
  await me.users.markSeen();
  assert.notEqual((await me.users.get()).last_seen_at, null);
  await rejectsWith(me.users.updateProfile({}), "INVALID_INPUT");
  await rejectsWith(me.users.updateProfile({ displayName: "" }), "INVALID_INPUT");
  await rejectsWith(me.users.updateProfile({ name: "x".repeat(201) }), "INVALID_INPUT");
  // RLS: another user's row is not there for this user.
  const grace = await newUser("Grace");
  await rejectsWith(db.asUser(randomUUID()).users.get(), "NOT_FOUND");
  assert.equal((await db.asUser(grace.id).users.get()).name, "Grace");
  assert.equal((await db.asService().users.get(ada.id)).display_name, "Countess");
  // The column grants keep email and plan the service's, whatever SQL the user's role sends.
  const c = await client(url);
  await c.query("begin");
  await c.query(
    `select set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)`,
    [JSON.stringify({ sub: ada.id, role: "authenticated" })],
  );
  await assert.rejects(c.query("update public.users set plan = 'enterprise' where id = $1", [ada.id]), {
    code: "42501",
  });
  await c.query("rollback");
});

test("shared with me: accepted memberships only, never the user's own or trashed projects, keyset paged", async () => {
  const owner = await newUser("Owner");
  const guest = await newUser("Guest");
  // Accepting an invitation by email needs a verified address (migration 009).
  await db
    .asService()
    .transaction((tx) =>
      tx.query("update public.users set email_verified = now() where id = $1", [guest.id]),
    );
  const o = db.asUser(owner.id);
  const shared: string[] = [];
  for (const [i, role] of (["viewer", "editor", "admin"] as const).entries()) {
    const p = await o.projects.create({ name: `Shared ${i}` });
    await o.collaborators.invite(p.id, guest.email, role);
    await db.asUser(guest.id).collaborators.accept(p.id);
    shared.unshift(p.id);
  }
  const pending = await o.projects.create({ name: "Invited, not accepted" });
  await o.collaborators.invite(pending.id, guest.email, "viewer");
  const trashed = await o.projects.create({ name: "Trashed" });
  await o.collaborators.invite(trashed.id, guest.email, "viewer");
  await db.asUser(guest.id).collaborators.accept(trashed.id);
  await o.projects.softDelete(trashed.id);
  await db.asUser(guest.id).projects.create({ name: "The guest's own" });

  const g = db.asUser(guest.id);
  const seen: Array<[string, string]> = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await g.projects.sharedWithMe({ limit: 2, ...(cursor ? { cursor } : {}) });
    seen.push(...page.items.map((p) => [p.id, p.role] as [string, string]));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  assert.deepEqual(
    seen,
    shared.map((id, i) => [id, ["admin", "editor", "viewer"][i]]),
  );
  assert.equal(pages, 2);
  assert.deepEqual(
    (await o.projects.sharedWithMe()).items,
    [],
    "the owner's projects are not shared with them",
  );
  await rejectsWith(g.projects.sharedWithMe({ cursor: "nope" }), "INVALID_INPUT");
});

test("monitoring: log_error records the caller, record_metric the value; bad input is refused", async () => {
  const ada = await newUser();
  const me = db.asUser(ada.id);
  const errorId = await me.monitoring.logError({
    severity: "error",
    source: "web.editor",
    message: "Save failed",
    errorCode: "CONFLICT",
    context: { projectVersion: 3 },
    requestId: "req-1",
  });
  const metricId = await me.monitoring.recordMetric({
    metric: "api.generate.latency",
    value: 812.5,
    unit: "ms",
    tags: { model: "gpt-4o" },
  });
  const serviceErrorId = await db
    .asService()
    .monitoring.logError({ severity: "critical", source: "worker", message: "Queue stalled" });
  const rows = await db.asService().transaction(async (tx) => ({
    errors: (
      await tx.query("select id, user_id, severity, context from public.error_logs where id = any($1)", [
        [errorId, serviceErrorId],
      ])
    ).rows,
    metric: (
      await tx.query("select value, unit, tags from public.performance_metrics where id = $1", [metricId])
    ).rows[0],
  }));
  assert.deepEqual(rows.errors.find((r) => r.id === errorId)?.user_id, ada.id);
  assert.deepEqual(rows.errors.find((r) => r.id === serviceErrorId)?.user_id, null);
  assert.deepEqual(rows.metric, { value: 812.5, unit: "ms", tags: { model: "gpt-4o" } });
  await rejectsWith(
    me.monitoring.logError({ severity: "fatal" as "error", source: "web", message: "x" }),
    "INVALID_INPUT",
  );
  await rejectsWith(
    me.monitoring.logError({ severity: "info", source: "web", message: "" }),
    "INVALID_INPUT",
  );
  await rejectsWith(
    me.monitoring.recordMetric({ metric: "Bad Name", value: 1, unit: "ms" }),
    "INVALID_INPUT",
  );
  await rejectsWith(
    me.monitoring.recordMetric({ metric: "api.latency", value: Number.POSITIVE_INFINITY, unit: "ms" }),
    "INVALID_INPUT",
  );
  await rejectsWith(
    me.monitoring.recordMetric({ metric: "api.latency", value: 1, unit: "hours" as "ms" }),
    "INVALID_INPUT",
  );
});
