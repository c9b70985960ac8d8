import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { type Actor, createRunner, inTransaction, type Runner } from "../src/sdk/db.ts";
import { createDatabase } from "./support/harness.ts";

// The SDK sets the legacy request.jwt.claim.sub next to request.jwt.claims so that auth.uid() need not
// parse the claims' JSON in every policy check. It must say what the claims say, and, like the claims,
// stay inside the transaction: one pooled connection serves every caller in turn.

let runner: Runner;

before(async () => {
  const { url } = await createDatabase();
  // One connection, prepared statements on: every call below runs on the same backend.
  runner = createRunner({ connectionString: url, max: 1, prepare: true });
});

after(async () => {
  await runner?.pool.end();
});

interface Seen {
  pid: number;
  uid: string | null;
  sub: string | null;
  claims: string | null;
}
const SEEN =
  "select pg_backend_pid() as pid, auth.uid() as uid, current_setting('request.jwt.claim.sub', true) as sub, current_setting('request.jwt.claims', true) as claims";

const seenAs = (actor: Actor) =>
  inTransaction(runner, actor, "a test read", async (tx) => (await tx.query<Seen>(SEEN, [])).rows[0] as Seen);
const seenOutside = async () => (await runner.pool.query<Seen>(SEEN)).rows[0] as Seen;

test("claims: in an SDK transaction request.jwt.claim.sub holds the claims' own sub, and auth.uid() reads it", async () => {
  const id = randomUUID();
  const user = await seenAs({ role: "authenticated", userId: id });
  assert.equal(user.sub, id);
  assert.equal(user.uid, id);
  assert.equal(JSON.parse(user.claims ?? "{}").sub, id);

  // Verified JWT claims (the storage service): the sub comes from them.
  const other = randomUUID();
  const verified = await seenAs({
    role: "authenticated",
    userId: other,
    claims: { sub: other, role: "authenticated", email: "x@example.com" },
  });
  assert.equal(verified.sub, other);
  assert.equal(verified.uid, other);

  // A sub that is not a UUID is left to request.jwt.claims, so auth.uid() fails as it always did.
  await assert.rejects(
    seenAs({
      role: "authenticated",
      userId: undefined,
      claims: { sub: "not-a-uuid", role: "authenticated" },
    }),
    (e: unknown) => (e as { cause?: { code?: string } }).cause?.code === "22P02", // invalid uuid
  );
  const anon = await seenAs({ role: "anon", userId: undefined });
  assert.equal(anon.sub, "");
  assert.equal(anon.uid, null);
});

test("claims: a later statement on the same pooled connection never sees a previous caller's claim.sub", async () => {
  const first = randomUUID();
  const during = await seenAs({ role: "authenticated", userId: first });
  assert.equal(during.sub, first, "the SDK set it (what the checks below look for)");

  const later = await seenOutside();
  assert.equal(later.pid, during.pid, "the same backend");
  assert.ok(!later.sub, `claim.sub left after commit: ${later.sub}`);
  assert.equal(later.uid, null);

  // A transaction that fails and rolls back leaves nothing either.
  const second = randomUUID();
  let failedPid = 0;
  await assert.rejects(
    inTransaction(runner, { role: "authenticated", userId: second }, "a failing read", async (tx) => {
      const seen = (await tx.query<Seen>(SEEN, [])).rows[0] as Seen;
      assert.equal(seen.sub, second);
      failedPid = seen.pid;
      await tx.query("select 1/0", []);
    }),
  );
  const afterFailure = await seenOutside();
  assert.equal(afterFailure.pid, failedPid, "the same backend");
  assert.ok(!afterFailure.sub, `claim.sub left after rollback: ${afterFailure.sub}`);
  assert.equal(afterFailure.uid, null);

  // The next callers without a user see none, and the next user only their own.
  const anon = await seenAs({ role: "anon", userId: undefined });
  assert.equal(anon.pid, during.pid);
  assert.ok(!anon.sub);
  assert.equal(anon.uid, null);
  const service = await seenAs({ role: "service_role", userId: undefined });
  assert.ok(!service.sub);
  assert.equal(service.uid, null);
  const third = randomUUID();
  assert.equal((await seenAs({ role: "authenticated", userId: third })).uid, third);

  // A value left at session level on the connection (by other code) never stands in for a caller.
  await runner.pool.query("select set_config('request.jwt.claim.sub', $1, false)", [first]);
  try {
    const anonAgain = await seenAs({ role: "anon", userId: undefined });
    assert.ok(!anonAgain.sub, `a session's claim.sub reached the anon caller: ${anonAgain.sub}`);
    assert.equal(anonAgain.uid, null);
    assert.equal((await seenAs({ role: "authenticated", userId: third })).uid, third);
  } finally {
    await runner.pool.query("reset request.jwt.claim.sub");
  }
});
