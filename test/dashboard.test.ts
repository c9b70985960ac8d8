import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { SignJWT } from "jose";
import type pg from "pg";
import { API_COST_DAILY, ERRORS_PER_MINUTE, QUERY_SERIES, STORAGE_USERS } from "../src/dashboard/queries.ts";
import { type RunningDashboard, serveDashboard } from "../src/dashboard/server.ts";
import { type ApiConfig, ensureApiConfig } from "../src/storage/api-config.ts";
import { jwtKey } from "../src/storage/auth.ts";
import { client, createDatabase } from "./support/harness.ts";
import { insertAlerts, insertCollectorMetrics, USER_SECRET, USERS } from "./support/monitoring.ts";

const API_PATHS = [
  "/api/queries/series",
  "/api/queries/top",
  "/api/storage/users",
  "/api/cost/daily",
  "/api/errors/rate",
  "/api/alerts",
];

let dataDir: string;
let dashboard: RunningDashboard;
let api: ApiConfig;
let c: pg.Client;

before(async () => {
  const db = await createDatabase();
  c = await client(db.url);
  await insertCollectorMetrics(c);
  await insertAlerts(c);
  // A user's content in the app's own tables: nothing of it may reach the dashboard.
  await c.query("insert into public.users (id, email, name) values ($1, $2, $3)", [
    USERS.near,
    `${USER_SECRET}@example.com`,
    USER_SECRET,
  ]);
  dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-dashboard-"));
  // The storage service wrote api.json first (as under `start`): its url must survive.
  await ensureApiConfig(dataDir, "http://127.0.0.1:5999");
  dashboard = await serveDashboard({ databaseUrl: db.url, dataDir, host: "127.0.0.1", port: 0 });
  api = JSON.parse(await readFile(path.join(dataDir, "api.json"), "utf8")) as ApiConfig;
});

after(async () => {
  await dashboard?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const fetchAs = (p: string, headers: Record<string, string> = {}) =>
  fetch(new URL(p, dashboard.url), { headers, redirect: "manual" });

test("the dashboard's URL is written to api.json beside the storage service's", () => {
  assert.equal(api.dashboardUrl, dashboard.url);
  assert.equal(api.url, "http://127.0.0.1:5999");
  assert.match(dashboard.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
});

test("without the service key, with the anon key or a user's key, every API and the page are refused", async () => {
  const userKey = await new SignJWT({ role: "authenticated", sub: USERS.near })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setExpirationTime("1h")
    .sign(jwtKey(api.jwtSecret));
  const forged = await new SignJWT({ role: "service_role" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(jwtKey("another-secret-of-at-least-32-characters"));
  const refused: Array<Record<string, string>> = [
    {},
    { authorization: `Bearer ${api.anonKey}` },
    { authorization: `Bearer ${userKey}` },
    { authorization: `Bearer ${forged}` },
    { cookie: `vpb_dashboard=${userKey}` },
  ];
  for (const headers of refused) {
    for (const p of API_PATHS) {
      const r = await fetchAs(p, headers);
      assert.equal(r.status, 401, `${p} with ${Object.keys(headers).join() || "no key"}`);
      const text = await r.text();
      assert.ok(!text.includes(USERS.over) && !text.includes("storage at"), "a refusal holds no data");
    }
    const page = await fetchAs("/", headers);
    assert.equal(page.status, 401);
    assert.match(await page.text(), /<form method="post" action="\/login">/);
  }
  const wrong = await fetch(new URL("/login", dashboard.url), {
    method: "POST",
    body: new URLSearchParams({ key: api.anonKey }),
    redirect: "manual",
  });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get("set-cookie"), null);
});

test("the service key opens every API, by bearer or by the login form's cookie", async () => {
  for (const p of API_PATHS) {
    const r = await fetchAs(p, { authorization: `Bearer ${api.serviceRoleKey}` });
    assert.equal(r.status, 200, p);
    assert.equal(r.headers.get("cache-control"), "no-store");
  }
  const login = await fetch(new URL("/login", dashboard.url), {
    method: "POST",
    body: new URLSearchParams({ key: api.serviceRoleKey }),
    redirect: "manual",
  });
  assert.equal(login.status, 303);
  const cookie = login.headers.get("set-cookie") ?? "";
  assert.match(cookie, /^vpb_dashboard=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
  const page = await fetchAs("/", { cookie: cookie.split(";")[0] ?? "" });
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  assert.match(await page.text(), /<script src="\/assets\/uPlot\.iife\.min\.js"><\/script>/);
  const uplot = await fetchAs("/assets/uPlot.iife.min.js");
  assert.equal(uplot.status, 200, "uPlot is served from the package");
  assert.match(await uplot.text(), /uPlot/);
  // Browsers ask for it unbidden: an answer with nothing, not a 404 in every page's log.
  const icon = await fetchAs("/favicon.ico");
  assert.equal(icon.status, 204);
  const bad = await fetchAs("/api/queries/series?hours=abc", {
    authorization: `Bearer ${api.serviceRoleKey}`,
  });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /hours must be a whole number from 1 to 720/);
});

test("no page or API shows a user's content, a user-recorded metric, a secret or a statement's values", async () => {
  const auth = { authorization: `Bearer ${api.serviceRoleKey}` };
  let all = "";
  for (const p of [...API_PATHS, "/", "/assets/dashboard.js"]) all += await (await fetchAs(p, auth)).text();
  assert.ok(!all.includes(USER_SECRET), "no user content or user-recorded metric");
  assert.ok(!all.includes(api.jwtSecret) && !all.includes(api.serviceRoleKey), "no secret");
  assert.ok(!all.includes("1000000"), "the user-recorded 1e6 calls are not summed in");
  const top = (await (await fetchAs("/api/queries/top", auth)).json()) as {
    queries: Array<{ query: string }>;
  };
  assert.deepEqual(
    top.queries.map((q) => q.query),
    [
      "update public.users set settings = $1 where id = $2",
      "select * from public.projects where owner_id = $1",
    ],
  );
});

test("the page preloads the data of its window, so the queries run while uPlot and the script load", async () => {
  const auth = { authorization: `Bearer ${api.serviceRoleKey}` };
  for (const [query, hours] of [
    ["", 6],
    ["?hours=720", 720],
  ] as const) {
    const html = await (await fetchAs(`/${query}`, auth)).text();
    const preloads = [...html.matchAll(/<link rel="preload" as="fetch" crossorigin href="([^"]+)">/g)].map(
      (m) => m[1],
    );
    assert.deepEqual(preloads, [
      `/api/queries/series?hours=${hours}`,
      `/api/queries/top?hours=${hours}`,
      "/api/storage/users",
      "/api/cost/daily",
      `/api/errors/rate?hours=${hours}`,
      "/api/alerts",
    ]);
    assert.ok(html.indexOf('rel="preload"') < html.indexOf("</head>"), "in the head, before the scripts");
    assert.match(html, new RegExp(`<body data-refresh-ms="\\d+" data-hours="${hours}">`));
  }
  const bad = await fetchAs("/?hours=1%3Cscript%3E", auth);
  assert.equal(bad.status, 400);
  assert.equal(await bad.text(), "hours must be a whole number from 1 to 720.");
});

test("storage per user is the latest sample's: a user the collector no longer keeps is not shown", async () => {
  const gone = "44444444-4444-4444-8444-444444444444";
  await c.query(
    `insert into public.performance_metrics (metric, value, unit, tags, occurred_at)
     values ('storage.user.bytes', 9e9, 'bytes', jsonb_build_object('user_id', $1::text, 'quota_bytes', null),
             date_trunc('minute', now()) - interval '1 hour')`,
    [gone],
  );
  try {
    const r = (await (
      await fetchAs("/api/storage/users", { authorization: `Bearer ${api.serviceRoleKey}` })
    ).json()) as { users: Array<{ user_id: string }> };
    assert.deepEqual(
      r.users.map((u) => u.user_id),
      [USERS.over, USERS.near, USERS.unlimited],
    );
  } finally {
    await c.query("delete from public.performance_metrics where tags->>'user_id' = $1", [gone]);
  }
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}
const scans = (n: PlanNode): PlanNode[] => [
  ...(n["Relation Name"] ? [n] : []),
  ...(n.Plans ?? []).flatMap(scans),
];

/** The scans of a statement's plan (each node that reads a relation). */
async function planScans(sql: string, params: unknown[]): Promise<PlanNode[]> {
  const { rows } = await c.query<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>(
    `explain (format json) ${sql}`,
    params,
  );
  const plan = rows[0]?.["QUERY PLAN"][0]?.Plan;
  assert.ok(plan, "a plan");
  return scans(plan);
}

test("the charts' series read the collector's rows from an index alone, never the table's pages", async () => {
  // The collector's rows of one metric are spread over every page of a window (a sample a minute
  // of ~200 metrics): a plan that visits the table reads the whole window, index-only reads what it sums.
  await c.query("vacuum analyze public.performance_metrics");
  const filled = (
    await c.query<{ part: string }>(
      "select distinct tableoid::regclass::text as part from public.performance_metrics",
    )
  ).rows.map((r) => r.part.replace(/^public\./, ""));
  await c.query("begin");
  try {
    // This table is small here: without these the planner would rightly read it whole.
    await c.query("set local enable_seqscan = off; set local enable_bitmapscan = off");
    for (const [name, sql, params] of [
      ["series", QUERY_SERIES, ["720 hours", "60 minutes"]],
      ["errors", ERRORS_PER_MINUTE, ["6 hours", "1 minutes"]],
      ["cost", API_COST_DAILY, ["30 days"]],
    ] as const) {
      // The partitions that hold rows: an empty one may be planned either way (PostgreSQL 15 takes
      // an index scan there: nothing in it is marked all-visible), and reads nothing.
      const found = (await planScans(sql, [...params])).filter((s) =>
        filled.includes(s["Relation Name"] as string),
      );
      assert.ok(found.length > 0, name);
      for (const s of found)
        assert.equal(
          s["Node Type"],
          "Index Only Scan",
          `${name} reads ${s["Relation Name"]} by ${s["Node Type"]}`,
        );
    }
    // Storage per user: the latest sample's time from the index alone, then that sample's rows.
    const found = await planScans(STORAGE_USERS, ["24 hours", 20]);
    assert.ok(
      found.some((s) => s["Node Type"] === "Index Only Scan"),
      "the latest sample found in the index",
    );
  } finally {
    await c.query("rollback");
  }
});
