import pg from "pg";
import { VpbError } from "../errors.ts";
import { withTransaction } from "./transaction.ts";

/**
 * Refuses a transaction-mode pooler (PgBouncer `pool_mode=transaction`, Supavisor on port 6543):
 * it hands each transaction to any server connection, so a session advisory lock would not hold.
 *
 * Two direct connections always have two backends, and one connection keeps its backend. Through a
 * transaction pooler, a second client's transaction usually lands on the backend the first just
 * released, or the first client's next statement moves to another backend: either gives it away.
 */
export async function assertNotTransactionPooled(client: pg.Client, url: string): Promise<void> {
  const pid = async (c: pg.Client) =>
    Number((await c.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid);
  const other = new pg.Client({ connectionString: url, application_name: "vpb-db pooler probe" });
  await other.connect();
  try {
    const first = await pid(client);
    const [otherPid, again] = await withTransaction(other, async () => [await pid(other), await pid(client)]);
    if (otherPid === first || again !== first)
      refuse("statements of one connection ran on different backends");
  } finally {
    await other.end().catch(() => {});
  }
}

/** Supabase's transaction pooler listens on 6543: refused before any connection is made. */
export function refuseKnownPoolerPort(url: string): void {
  if (new URL(url).port === "6543") refuse("port 6543 is the Supabase transaction pooler's");
}

function refuse(why: string): never {
  throw new VpbError(
    "POOLER_DETECTED",
    `This connection goes through a transaction-mode pooler (${why}); migrations need one session.`,
    "Point DATABASE_URL at the server directly or at a session-mode pooler (Supabase: port 5432).",
  );
}
