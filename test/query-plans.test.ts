import assert from "node:assert/strict";
import { before, test } from "node:test";
import pg from "pg";
import { QUERY_PATTERNS, type QueryPattern } from "../bench/query-patterns.ts";
import { BIG_PROJECT, POWER_USER, seed } from "../src/dev/seed.ts";
import { asActor } from "./support/actors.ts";
import { client, createDatabase } from "./support/harness.ts";

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Index Cond"?: string;
  Plans?: PlanNode[];
}

function walk(node: PlanNode, out: PlanNode[] = []): PlanNode[] {
  out.push(node);
  for (const child of node.Plans ?? []) walk(child, out);
  return out;
}

let c: pg.Client;
let ctx: { userId: string; projectId: string };

before(async () => {
  const db = await createDatabase();
  c = await client(db.url);
  await c.query("load 'auto_explain'");
  // Large enough that PostgreSQL prefers indexes for selective queries, small enough for CI.
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await seed(pool, { scale: 0.05, powerUserProjects: 25_000 });
  await pool.end();
  const { rows } = await c.query(
    "select p.owner_id, p.id from projects p join project_components x on x.project_id = p.id where p.owner_id <> $1 and p.deleted_at is null limit 1",
    [POWER_USER],
  );
  ctx = { userId: rows[0].owner_id, projectId: rows[0].id };
});

/**
 * The plans of what the statement really executes, as auto_explain logs them (nested statements too:
 * the query inside get_monthly_api_costs is the one that matters). `generic`: run as a prepared
 * statement forced onto its generic plan, the plan a prepared statement may settle on after five runs.
 */
async function executedPlans(p: QueryPattern, asUser: boolean, generic: boolean): Promise<PlanNode[]> {
  const logged: string[] = [];
  let collecting = false;
  const onNotice = (n: { message?: string | undefined }) => {
    if (collecting && n.message?.startsWith("duration:")) logged.push(n.message);
  };
  c.on("notice", onNotice);
  await c.query("begin");
  try {
    await c.query(
      "set local auto_explain.log_min_duration = 0; set local auto_explain.log_nested_statements = on; " +
        "set local auto_explain.log_format = json; set local client_min_messages = log",
    );
    if (generic) await c.query("set local plan_cache_mode = force_generic_plan");
    if (asUser) {
      // Simple queries (no parameters) for the set-up: their plans are logged before they return.
      const claims = c.escapeLiteral(JSON.stringify({ sub: ctx.userId, role: "authenticated" }));
      await c.query(`select set_config('request.jwt.claims', ${claims}, true); set local role authenticated`);
    }
    const name = generic ? `plan_${QUERY_PATTERNS.indexOf(p)}_${asUser ? "rls" : "su"}` : undefined;
    collecting = true;
    const result = await c.query({ text: p.sql, values: p.params(ctx), ...(name ? { name } : {}) });
    assert.ok((result.rowCount ?? 0) > 0, `${p.name}: the user has rows to read`);
  } finally {
    // The statement's portal ends (and auto_explain logs its plan) only when the transaction does.
    await c.query("rollback");
    collecting = false;
    c.removeListener("notice", onNotice);
  }
  assert.ok(logged.length > 0, "auto_explain logged the statement");
  return logged.flatMap((m) => walk(JSON.parse(m.slice(m.indexOf("{"))).Plan as PlanNode));
}

for (const p of QUERY_PATTERNS) {
  for (const asUser of [false, true]) {
    for (const generic of [false, true]) {
      const how = `${asUser ? ", as the user through RLS" : ""}${generic ? ", prepared (generic plan)" : ""}`;
      test(`plan: ${p.name}${how}`, async () => {
        const nodes = await executedPlans(p, asUser, generic);
        const shape = nodes
          .map((n) => `${n["Node Type"]} ${n["Relation Name"] ?? ""} ${n["Index Name"] ?? ""}`)
          .join("\n");
        for (const index of p.mustUse) {
          assert.ok(
            nodes.some((n) => index.split("|").some((name) => n["Index Name"]?.includes(name))),
            `uses ${index}:\n${shape}`,
          );
        }
        if (p.indexCond) {
          const cond = p.indexCond;
          assert.ok(
            nodes.some((n) => n["Index Cond"]?.includes(cond)),
            `an index condition holds ${cond}:\n${nodes.map((n) => n["Index Cond"] ?? "").join("\n")}`,
          );
        }
        for (const table of p.noSeqScan) {
          const seq = nodes.filter(
            (n) =>
              n["Node Type"] === "Seq Scan" &&
              (n["Relation Name"] === table || n["Relation Name"]?.startsWith(`${table}_`)),
          );
          assert.deepEqual(
            seq.map((n) => n["Relation Name"]),
            [],
            `no sequential scan of ${table}:\n${shape}`,
          );
        }
        if (p.partitions) {
          const { table, allowed } = p.partitions;
          const read = new Set(
            nodes
              .map((n) => n["Relation Name"])
              .filter((r): r is string => r?.startsWith(`${table}_`) ?? false),
          );
          const extra = [...read].filter((r) => !allowed(new Date()).includes(r));
          assert.deepEqual(
            extra,
            [],
            `partition pruning leaves only ${allowed(new Date()).join(", ")}:\n${shape}`,
          );
          assert.ok(read.size > 0, `reads the month's partition:\n${shape}`);
        }
      });
    }
  }
}

interface AnalyzedNode extends PlanNode {
  "Actual Rows": number;
  "Actual Loops": number;
  Plans?: AnalyzedNode[];
}

/** Every row every node of the statement produced (run as whoever the transaction acts as). */
async function rowsTouched(sql: string, params: unknown[]): Promise<number> {
  const { rows } = await c.query(`explain (analyze, timing off, format json) ${sql}`, params);
  return (walk(rows[0]["QUERY PLAN"][0].Plan) as AnalyzedNode[]).reduce(
    (sum, n) => sum + n["Actual Rows"] * n["Actual Loops"],
    0,
  );
}

test("RLS work follows the rows a statement reads, not how many projects the caller has", async () => {
  const { rows } = await c.query("select count(*)::int as n from projects where owner_id = $1", [POWER_USER]);
  assert.ok(rows[0].n >= 20_000, "the power user owns many projects");
  const reads: Array<[string, string]> = [
    ["components of a 500-component project", "select id from project_components where project_id = $1"],
    [
      "prompt history",
      "select id from prompt_generations where project_id = $1 order by created_at desc limit 20",
    ],
    ["audio", "select id from audio_recordings where project_id = $1"],
    ["collaborators", "select id from collaborators where project_id = $1"],
    ["the project", "select id from projects where id = $1"],
  ];
  await asActor(c, "owner", POWER_USER, async () => {
    // The owner reads them all: a check that filters everything out would touch few rows too.
    const { rows: seen } = await c.query(
      "select count(*)::int as n from project_components where project_id = $1",
      [BIG_PROJECT],
    );
    assert.equal(seen[0].n, 500);
    for (const [what, sql] of reads) {
      const touched = await rowsTouched(sql, [BIG_PROJECT]);
      // 500 components and a check of each (index rows, probes): well under the 25,000 projects.
      assert.ok(touched < 3_000, `${what}: ${touched} rows touched`);
    }
  });
});
