import assert from "node:assert/strict";
import { before, test } from "node:test";
import pg from "pg";
import { QUERY_PATTERNS, type QueryPattern } from "../src/query-patterns.ts";
import { BIG_PROJECT, POWER_USER, seed } from "../src/seed.ts";
import { asActor } from "./support/actors.ts";
import { client, createDatabase } from "./support/harness.ts";

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
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
  // Large enough that PostgreSQL prefers indexes for selective queries, small enough for CI.
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await seed(pool, { scale: 0.05 });
  await pool.end();
  const { rows } = await c.query(
    "select p.owner_id, p.id from projects p join project_components x on x.project_id = p.id where p.owner_id <> $1 and p.deleted_at is null limit 1",
    [POWER_USER],
  );
  ctx = { userId: rows[0].owner_id, projectId: rows[0].id };
});

async function plan(p: QueryPattern, asUser: boolean): Promise<PlanNode[]> {
  await c.query("begin");
  try {
    if (asUser) {
      await c.query("select set_config('request.jwt.claims', $1, true)", [
        JSON.stringify({ sub: ctx.userId, role: "authenticated" }),
      ]);
      await c.query("set local role authenticated");
    }
    const { rows } = await c.query(`explain (format json) ${p.sql}`, p.params(ctx));
    return walk(rows[0]["QUERY PLAN"][0].Plan as PlanNode);
  } finally {
    await c.query("rollback");
  }
}

for (const p of QUERY_PATTERNS) {
  for (const asUser of [false, true]) {
    test(`plan: ${p.name}${asUser ? ", as the user through RLS" : ""}`, async () => {
      const nodes = await plan(p, asUser);
      const shape = nodes
        .map((n) => `${n["Node Type"]} ${n["Relation Name"] ?? ""} ${n["Index Name"] ?? ""}`)
        .join("\n");
      for (const index of p.mustUse) {
        assert.ok(
          nodes.some((n) => index.split("|").some((name) => n["Index Name"]?.includes(name))),
          `uses ${index}:\n${shape}`,
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
