/**
 * Query benchmarks at scale, each a ratio of two measures taken side by side (interleaved) in one run:
 *   1. each main query as `authenticated` under RLS vs the same query as a superuser (no RLS),
 *      planned at every call and prepared, for a typical user and for the power user
 *   2. keyset cursor vs OFFSET at pages 1, 100 and 1,000 (the power user's 25k projects)
 *   3. database functions vs the same work from Node in separate queries
 *   4. activity ingest through the SDK's batched path vs COPY into an unlogged, unindexed copy
 * Seeds `vpb_bench_s<scale>` on the embedded server once (reused by later runs), writes its section
 * of BENCHMARKS.md and rewrites database/QUERY_PATTERNS.md with the plans chosen at this scale.
 *
 * Usage: npm run bench:queries [-- --scale 1]
 */
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { startEmbedded } from "../src/db/embedded-server.ts";
import { stopOnSignal } from "../src/db/shutdown.ts";
import { BIG_PROJECT, POWER_USER } from "../src/dev/seed.ts";
import { claimSettings } from "../src/sdk/db.ts";
import { createDb } from "../src/sdk/index.ts";
import { PROJECT_COLUMNS, PROJECTS_PAGE } from "../src/sdk/queries.ts";
import { partitionName, QUERY_PATTERNS } from "./query-patterns.ts";
import { root, seededDatabase, writeSection } from "./support.ts";

const scaleArg = process.argv.indexOf("--scale");
const SCALE = scaleArg > 0 ? Number(process.argv[scaleArg + 1]) : 1;
// Section 1's ratios rest on a few µs of 0.1-0.2 ms queries: 1,500 runs a side (300 before) so that a
// stall of this 2-core machine under other load moves a median less (runs at different loads still
// differ by up to 0.10x, see BENCHMARKS.md).
const SECTION1_RUNS = 1500;

interface Stat {
  median: number;
  p10: number;
  p90: number;
}
function stat(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  return { median: at(0.5), p10: at(0.1), p90: at(0.9) };
}
const ms = (x: Stat) => `${x.median.toFixed(2)} ms (${x.p10.toFixed(2)}–${x.p90.toFixed(2)})`;

/** Times `a` and `b` alternately, `n` times each, after `warm` untimed rounds. */
async function sideBySide(n: number, a: () => Promise<unknown>, b: () => Promise<unknown>, warm = 3) {
  for (let i = 0; i < warm; i++) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const [fn, out] of i % 2
      ? ([
          [b, tb],
          [a, ta],
        ] as const)
      : ([
          [a, ta],
          [b, tb],
        ] as const)) {
      const t = performance.now();
      await fn();
      out.push(performance.now() - t);
    }
  }
  return { a: stat(ta), b: stat(tb) };
}

async function main(): Promise<void> {
  const server = await startEmbedded({
    dataDir: path.join(root, ".vpb", "bench"),
    port: 28401,
    settings: { shared_buffers: "512MB", max_wal_size: "4GB", checkpoint_timeout: "30min" },
  });
  stopOnSignal(server.stop);
  const lines: string[] = [];
  const plans: string[] = [];
  try {
    const url = await seededDatabase(
      server.url,
      `vpb_bench_s${String(SCALE).replace(".", "_")}`,
      `seeded v6 scale ${SCALE}`,
      { scale: SCALE, powerUserProjects: 25_000 },
    );
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    // The server stops at the end (or on an error): its goodbye must not crash the process.
    c.on("error", () => {});
    const { rows: picked } = await c.query(
      `select p.owner_id, p.id from projects p where p.owner_id <> $1 and p.deleted_at is null
         and exists (select from prompt_generations g where g.project_id = p.id)
         and exists (select from api_usage u where u.user_id = p.owner_id and u.occurred_at >= date_trunc('month', now()))
       order by p.id limit 1`,
      [POWER_USER],
    );
    const ctx = { userId: picked[0].owner_id as string, projectId: picked[0].id as string };
    const counts = (
      await c.query(
        "select (select count(*) from users) u, (select count(*) from projects) p, (select count(*) from project_components) c, (select count(*) from user_activity) a",
      )
    ).rows[0];

    // 1. RLS vs superuser, each query sent two ways: planned at every call (an unnamed statement,
    // node-postgres' default) and prepared once per connection (PostgREST's default, the SDK's
    // `prepare: true`). The two sides of a prepared pair have their own names: a cached plan made
    // for one role is replanned when the other runs it.
    const modes = [
      { key: "planned", title: "planned at every call (unnamed statements)" },
      { key: "prepared", title: "prepared once per connection (plan cached)" },
    ] as const;
    lines.push(
      "### 1. Each main query under RLS vs as a superuser (target: at most 1.10x prepared)",
      "",
      `| Query | ${modes.map((m) => `${m.title}: RLS | superuser | ratio`).join(" | ")} |`,
      `| --- ${"| --- | --- | --- ".repeat(modes.length)}|`,
    );
    // The RLS side's caller is set as the SDK sets it (claimSettings: the claims and the legacy keys
    // auth.uid() reads first, then the role in a statement of its own). The superuser side sends the
    // very same statements in the same round trip, only with role 'none' (it stays the superuser, whom
    // no policy applies to): the statements before a query cost that query a few µs whatever they set
    // (4-10 µs of a 0.13 ms query measured, see BENCHMARKS.md), so both sides must send the same ones
    // for the ratio to compare RLS alone.
    const run = async (rls: boolean, query: pg.QueryConfig, userId: string) => {
      const actor = { role: "authenticated", userId } as const;
      await c.query(
        `begin; select ${claimSettings(actor, (v) => c.escapeLiteral(v))}; select set_config('role', '${rls ? "authenticated" : "none"}', true)`,
      );
      const t = performance.now();
      const result = await c.query(query);
      const took = performance.now() - t;
      await c.query("commit");
      return { took, result };
    };
    const timed = async (rls: boolean, query: pg.QueryConfig, userId: string) =>
      (await run(rls, query, userId)).took;
    // The power user's 500-component project: RLS work must not grow with their 25,000 projects.
    const withComponents = QUERY_PATTERNS[1] as (typeof QUERY_PATTERNS)[number];
    const cases = [
      ...QUERY_PATTERNS.map((p) => ({ p, name: p.name, who: ctx, plan: true })),
      {
        p: withComponents,
        name: `${withComponents.name}: the power user's (25,000 projects), 500 components`,
        who: { userId: POWER_USER, projectId: BIG_PROJECT },
        plan: false,
      },
    ];
    const loadAtStart = os.loadavg()[0] as number;
    const customPlans: string[] = [];
    for (const [k, { p, name, who, plan }] of cases.entries()) {
      const values = p.params(who);
      const cells: string[] = [];
      const medians: Record<string, Stat> = {};
      // Both sides must see the same rows, or the ratio compares different work.
      const [seen, all] = [
        await run(true, { text: p.sql, values }, who.userId),
        await run(false, { text: p.sql, values }, who.userId),
      ];
      if (
        seen.result.rowCount === 0 ||
        JSON.stringify(seen.result.rows) !== JSON.stringify(all.result.rows)
      ) {
        throw new Error(`${name}: the user under RLS does not see what the superuser sees`);
      }
      for (const mode of modes) {
        const named = (side: string) => (mode.key === "prepared" ? { name: `bench_${k}_${side}` } : {});
        const rls = { text: p.sql, values, ...named("rls") };
        const su = { text: p.sql, values, ...named("su") };
        const ta: number[] = [];
        const tb: number[] = [];
        for (let i = 0; i < 30; i++) {
          await timed(true, rls, who.userId);
          await timed(false, su, who.userId);
        }
        for (let i = 0; i < SECTION1_RUNS; i++) {
          if (i % 2) {
            tb.push(await timed(false, su, who.userId));
            ta.push(await timed(true, rls, who.userId));
          } else {
            ta.push(await timed(true, rls, who.userId));
            tb.push(await timed(false, su, who.userId));
          }
        }
        const [ra, rb] = [stat(ta), stat(tb)];
        medians[`${mode.key}-rls`] = ra;
        medians[`${mode.key}-su`] = rb;
        cells.push(ms(ra), ms(rb), `${(ra.median / rb.median).toFixed(2)}x`);
        if (mode.key === "prepared") {
          // Same work on both sides: each side's statement must have run its cached generic plan, not
          // been replanned per call (a custom plan) on one side only.
          const { rows: kinds } = await c.query(
            "select name, generic_plans, custom_plans from pg_prepared_statements where name = any($1)",
            [[rls.name, su.name]],
          );
          for (const kind of kinds)
            if (Number(kind.custom_plans) > 5) customPlans.push(`${name} (${kind.name})`);
        }
      }
      lines.push(`| ${name} | ${cells.join(" | ")} |`);
      if (!plan) continue;
      const { rows } = await c.query(
        `explain (analyze, costs off, timing off, summary off) ${p.sql}`,
        values,
      );
      const median = (key: string) => (medians[key] as Stat).median.toFixed(2);
      plans.push(
        `## ${p.name}`,
        "",
        p.why,
        "",
        "```sql",
        p.sql,
        "```",
        "",
        `Plan at scale ${SCALE} (\`explain (analyze, costs off, timing off)\`; median ${median("planned-su")} ms as superuser, ${median("planned-rls")} ms under RLS, ${median("prepared-su")} and ${median("prepared-rls")} ms prepared):`,
        "",
        "```text",
        ...rows.map((r) => r["QUERY PLAN"] as string),
        "```",
        "",
      );
    }

    lines.push(
      "",
      `${SECTION1_RUNS} runs of each side per query and mode, interleaved; load average (1 min) ${loadAtStart.toFixed(2)} at the start of this section, ${(os.loadavg()[0] as number).toFixed(2)} at its end. ` +
        (customPlans.length === 0
          ? "Prepared, both sides ran their cached generic plan after PostgreSQL's five custom plans (pg_prepared_statements)."
          : `Prepared, replanned at every call (custom plans, pg_prepared_statements): ${customPlans.join(", ")}.`),
      "",
      "Prepared, a query's plan (its policies included) is made once per connection, as PostgREST does on Supabase and",
      "the SDK with `prepare: true`. Planned at every call, the policies are planned with each query too (and",
      "`auth.uid()`, an SQL function, is inlined again each time): that planning is most of the difference.",
    );

    // 2. keyset vs OFFSET
    lines.push(
      "",
      "### 2. Keyset cursor vs OFFSET, 20 rows a page (target: keyset's page 1,000 within 1.5x of its page 1)",
      "",
      "| Page | keyset | OFFSET | OFFSET / keyset |",
      "| --- | --- | --- | --- |",
    );
    // The SDK's own page-after-a-cursor text; OFFSET is the baseline it replaces, with the same columns.
    const keysetSql = PROJECTS_PAGE.next;
    const offsetSql = `select ${PROJECT_COLUMNS}, updated_at::text as cursor_at from public.projects
      where owner_id = $1 and deleted_at is null order by updated_at desc, id desc offset $2 limit 21`;
    for (const pageNo of [1, 100, 1000]) {
      const before =
        pageNo === 1
          ? { at: "infinity", id: "ffffffff-ffff-ffff-ffff-ffffffffffff" }
          : (
              await c.query(
                "select updated_at::text as at, id from projects where owner_id = $1 and deleted_at is null order by updated_at desc, id desc offset $2 limit 1",
                [POWER_USER, (pageNo - 1) * 20 - 1],
              )
            ).rows.map((r) => ({ at: r.at as string, id: r.id as string }))[0];
      if (!before) throw new Error(`the power user has fewer than ${pageNo} pages`);
      const r = await sideBySide(
        200,
        () => c.query(keysetSql, [POWER_USER, before.at, before.id, 21]),
        () => c.query(offsetSql, [POWER_USER, (pageNo - 1) * 20]),
      );
      lines.push(`| ${pageNo} | ${ms(r.a)} | ${ms(r.b)} | ${(r.b.median / r.a.median).toFixed(2)}x |`);
    }
    // The target compares the keyset's own pages: measured against each other, not next to a slow OFFSET query.
    const first = { at: "infinity", id: "ffffffff-ffff-ffff-ffff-ffffffffffff" };
    const deep = (
      await c.query(
        "select updated_at::text as at, id from projects where owner_id = $1 and deleted_at is null order by updated_at desc, id desc offset $2 limit 1",
        [POWER_USER, 999 * 20 - 1],
      )
    ).rows[0] as { at: string; id: string };
    const kk = await sideBySide(
      300,
      () => c.query(keysetSql, [POWER_USER, deep.at, deep.id, 21]),
      () => c.query(keysetSql, [POWER_USER, first.at, first.id, 21]),
    );
    lines.push(
      "",
      `Keyset page 1,000 vs page 1, measured side by side: ${ms(kk.a)} vs ${ms(kk.b)}, **${(kk.a.median / kk.b.median).toFixed(2)}x**.`,
    );

    // 3. functions vs separate queries
    lines.push(
      "",
      "### 3. Database functions vs the same work from Node in separate queries",
      "",
      "| Work | function | separate queries | separate / function |",
      "| --- | --- | --- | --- |",
    );
    const inRollback = async (fn: () => Promise<unknown>) => {
      await c.query("begin");
      try {
        await fn();
      } finally {
        await c.query("rollback");
      }
    };
    const duplicateFn = () =>
      inRollback(() => c.query("select duplicate_project($1, $2, 'Copy')", [BIG_PROJECT, POWER_USER]));
    const duplicateNode = () =>
      inRollback(async () => {
        const src = (
          await c.query("select name, description, layout, settings from projects where id = $1", [
            BIG_PROJECT,
          ])
        ).rows[0];
        const copy = (
          await c.query(
            "insert into projects (owner_id, name, description, layout, settings) values ($1, 'Copy', $2, $3, $4) returning id",
            [POWER_USER, src.description, src.layout, src.settings],
          )
        ).rows[0].id;
        const comps = (
          await c.query(
            "select * from project_components where project_id = $1 order by (parent_id is not null), z_index",
            [BIG_PROJECT],
          )
        ).rows;
        const ids = new Map(comps.map((x) => [x.id as string, randomUUID()]));
        for (const x of comps) {
          await c.query(
            "insert into project_components (id, project_id, parent_id, type, position_x, position_y, width, height, z_index, content) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [
              ids.get(x.id),
              copy,
              x.parent_id ? ids.get(x.parent_id) : null,
              x.type,
              x.position_x,
              x.position_y,
              x.width,
              x.height,
              x.z_index,
              x.content,
            ],
          );
        }
      });
    const dup = await sideBySide(15, duplicateFn, duplicateNode, 2);
    lines.push(
      `| \`duplicate_project\` of a 500-component project | ${ms(dup.a)} | ${ms(dup.b)} (501 inserts) | ${(dup.b.median / dup.a.median).toFixed(2)}x |`,
    );
    const statsFn = () => c.query("select * from get_user_project_stats($1)", [ctx.userId]);
    const statsNode = async () => {
      const active = (
        await c.query("select id from projects where owner_id = $1 and deleted_at is null", [ctx.userId])
      ).rows.map((r) => r.id);
      await c.query("select count(*) from projects where owner_id = $1 and deleted_at is not null", [
        ctx.userId,
      ]);
      await c.query("select count(*) from project_components where project_id = any($1)", [active]);
      await c.query("select count(*) from audio_recordings where project_id = any($1)", [active]);
      await c.query("select count(*) from prompt_generations where project_id = any($1)", [active]);
      await c.query("select coalesce(sum(cost_usd), 0) from api_usage where user_id = $1", [ctx.userId]);
      await c.query("select max(updated_at) from projects where owner_id = $1 and deleted_at is null", [
        ctx.userId,
      ]);
    };
    const st = await sideBySide(200, statsFn, statsNode);
    lines.push(
      `| \`get_user_project_stats\` | ${ms(st.a)} | ${ms(st.b)} (7 queries) | ${(st.b.median / st.a.median).toFixed(2)}x |`,
    );

    // 4. ingest
    lines.push("", "### 4. Activity ingest (target: SDK at least 0.5x of COPY)", "");
    const batches = 20;
    const batchSize = 1000;
    // Another user than the one whose queries section 1 times: the rows written here are deleted
    // afterwards, and their dead index entries must not slow that user's activity trend next run.
    const writer = (
      await c.query(
        "select owner_id from projects where owner_id <> all($1) and deleted_at is null order by id desc limit 1",
        [[ctx.userId, POWER_USER]],
      )
    ).rows[0].owner_id as string;
    const projectIds = (
      await c.query("select id from projects where owner_id = $1 limit 10", [writer])
    ).rows.map((r) => r.id as string);
    const events = Array.from({ length: batchSize }, (_, i) => ({
      action: "component.move",
      projectId: projectIds[i % projectIds.length] as string,
      metadata: { i },
    }));
    const db = createDb({ connectionString: url, max: 1 });
    await c.query(
      "drop table if exists bench_activity_copy; create unlogged table bench_activity_copy (like user_activity)",
    );
    // Fresh ids for every batch (user_activity has a primary key), made before the clock starts.
    const csvs = Array.from(
      { length: batches },
      () =>
        `${events
          .map(
            (e) =>
              `${randomUUID()},${writer},${e.projectId},${e.action},"{""i"": ${e.metadata.i}}",${new Date().toISOString()}`,
          )
          .join("\n")}\n`,
    );
    const copyInto = (table: string, csv: string) =>
      pipeline(
        Readable.from([csv]),
        c.query(
          copyFrom(
            `copy ${table} (id, user_id, project_id, action, metadata, occurred_at) from stdin with (format csv)`,
          ),
        ),
      );
    const sdkTimes: number[] = [];
    const copyTimes: number[] = [];
    const tableTimes: number[] = [];
    for (let i = 0; i < batches; i++) {
      let t = performance.now();
      await db.asUser(writer).activity.record(events);
      sdkTimes.push(performance.now() - t);
      t = performance.now();
      await copyInto("bench_activity_copy", csvs[i] as string);
      copyTimes.push(performance.now() - t);
      // What the table itself costs: PostgreSQL's fastest load into it, committed like the SDK's.
      t = performance.now();
      await copyInto("user_activity", csvs[i] as string);
      tableTimes.push(performance.now() - t);
    }
    await db.close();
    await c.query("drop table bench_activity_copy");
    await c.query(
      "delete from user_activity where user_id = $1 and action = 'component.move' and occurred_at > now() - interval '1 hour'",
      [writer],
    );
    await c.query(`vacuum (analyze) ${partitionName("user_activity", new Date(), 0)}`);
    const [sdk, copy, table] = [stat(sdkTimes.slice(2)), stat(copyTimes.slice(2)), stat(tableTimes.slice(2))];
    const rate = (x: Stat) => (batchSize / x.median) * 1000;
    const row = (what: string, x: Stat) =>
      `| ${what} | ${ms(x)} | ${rate(x).toFixed(0)} | ${(rate(x) / rate(copy)).toFixed(2)}x |`;
    lines.push(
      "| Path | per 1,000-row batch | rows/s | ratio |",
      "| --- | --- | --- | --- |",
      row(
        "SDK `activity.record` into partitioned `user_activity` (RLS, 2 indexes + PK, 2 foreign keys, logged)",
        sdk,
      ),
      row("COPY into `user_activity` itself, as a superuser (same keys, indexes and WAL)", table),
      row("COPY into an unlogged copy without indexes or keys (the limit)", copy),
    );
    await c.end();

    const header = [
      "## Queries at scale (`npm run bench:queries`)",
      "",
      `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, embedded PostgreSQL 17, scale ${SCALE}: ` +
        `${counts.u} users, ${counts.p} projects, ${counts.c} components, ${counts.a} activity rows. Median (p10–p90).`,
      "",
    ];
    const section = [...header, ...lines, ""].join("\n");
    process.stdout.write(`${section}\n`);
    await writeSection(header[0] as string, section);
    await writeFile(
      path.join(root, "database/QUERY_PATTERNS.md"),
      [
        "# Query patterns",
        "",
        "<!-- Generated by npm run bench:queries from bench/query-patterns.ts and src/sdk/queries.ts: edit those, not this one. -->",
        "",
        "The app's main queries, the plan PostgreSQL chooses for each on seeded data, and why. The same queries are",
        "pinned by test/query-plans.test.ts (index scans, no sequential scan of a large table, partition pruning), so a",
        "regression fails CI, and measured in BENCHMARKS.md. The SDK (`src/sdk/`) runs them as shown.",
        "",
        "Rules they follow: functions instead of several round trips (`get_user_project_stats`, `duplicate_project`,",
        "`get_monthly_api_costs`); keyset pagination, never OFFSET, for lists that grow; every foreign key indexed, and",
        "every column a policy filters on either indexed or read on rows an index already found (`owner_id` of a",
        "project's content, checked on the rows found by project_id); time-bounded queries on the partitioned analytics",
        "tables with both bounds, so that pruning leaves only the months asked for; `EXPLAIN ANALYZE` on seeded data",
        "(`npm run seed`) before adding a query.",
        "",
        "Under row level security:",
        "",
        "- Filter as if there were no RLS: `where project_id = $1`, not a bare read of `project_components` that lets",
        "  the policy do the filtering. The policy is checked on every row the query reads; the filter decides how",
        "  many that is.",
        "- Write the caller's id as a parameter or as `(select auth.uid())`, never as a bare `auth.uid()`: a bare call",
        "  is not leakproof, so PostgreSQL may not use it in an index condition ahead of the policies, and",
        "  `where owner_id = auth.uid()` on `projects` became a sequential scan of all 125,000 rows (46 ms instead of",
        "  0.09 ms at scale 1).",
        "- Prepare what runs often (the SDK's `prepare: true`; PostgREST prepares by default): planning the policies",
        "  with the query is most of what RLS costs a small query (BENCHMARKS.md, section 1), and planning the monthly",
        "  partitions is most of the monthly-costs query.",
        "",
        ...plans,
      ].join("\n"),
    );
  } finally {
    await server.stop();
  }
}

await main();
process.exit(0);
