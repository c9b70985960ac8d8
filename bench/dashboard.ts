/**
 * The dashboard's first paint with 30 days of metrics as the collector writes them (one sample a
 * minute: 20 statements x 6 metrics, sizes, connections, 20 users' storage, API calls and cost,
 * errors), in Debian's Chromium: the time from navigation to the first complete render, for the
 * default 6-hour view and the 30-day one, with where the time goes (navigation, each request's
 * server time from its Server-Timing header, the render). Issue 15's goal: first paint <= 1 s.
 *
 * Usage: npx tsx bench/dashboard.ts [--runs 5] [--port 29513] [--days 30]
 * The seeded database is kept in .vpb/bench-dashboard and reused. BENCH_TRACE=<file.json> also
 * writes Chromium's performance trace of one load (open it in DevTools' Performance panel).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { Page } from "playwright-core";
import { serveDashboard } from "../src/dashboard/server.ts";
import { startEmbedded } from "../src/db/embedded-server.ts";
import { stopOnSignal } from "../src/db/shutdown.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import type { ApiConfig } from "../src/storage/api-config.ts";
import { launchChromium } from "../test/support/chromium.ts";
import { log } from "./support.ts";

const root = path.resolve(import.meta.dirname, "..");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg("--runs", 5);
const DAYS = arg("--days", 30);

/** One day of collector samples ending `daysBack` days ago, as the collector writes them. */
const LOAD_DAY = `
insert into public.performance_metrics (metric, value, unit, tags, occurred_at)
select x.metric, x.value, x.unit, x.tags, ts.t
  from generate_series(0, 1439) k,
       lateral (select date_trunc('minute', now()) - ($1::int * 1440 + k) * interval '1 minute' as t) ts,
       lateral (
         select m.metric, m.value, m.unit, jsonb_build_object('queryid', (-q)::text, 'query',
                'select * from public.table_' || q || ' where id = $1 and owner_id = $2 order by created_at desc limit $3') as tags
           from generate_series(1, 20) q,
                lateral (values
                  ('db.statement.calls', (q * 7 + k % 13)::float8, 'count'),
                  ('db.statement.total_time', (q * 7 + k % 13) * (0.2 + q * 0.15)::float8, 'ms'),
                  ('db.statement.mean_time', (0.2 + q * 0.15)::float8, 'ms'),
                  ('db.statement.max_time', (1 + q + k % 17)::float8, 'ms'),
                  ('db.statement.rows', (q * 7 + k % 13)::float8, 'rows'),
                  ('db.statement.cache_hit', (99 - q * 0.1)::float8, 'percent')) m(metric, value, unit)
         union all
         select 'db.size', 2.5e9 + k, 'bytes', '{"database": "vpb"}'::jsonb
         union all
         select 'db.table.size', 1e8 / t, 'bytes', jsonb_build_object('table', 'public.table_' || t)
           from generate_series(1, 20) t
         union all
         select 'db.connections', s, 'count', jsonb_build_object('state', st, 'application', 'app')
           from unnest(array['active', 'idle'], array[2, 8]) x(st, s)
         union all
         select 'storage.user.bytes', 1e6 * u * u, 'bytes',
                jsonb_build_object('user_id', format('00000000-0000-4000-8000-%s', lpad(u::text, 12, '0')),
                                   'quota_bytes', '1073741824')
           from generate_series(1, 20) u
         union all
         select metric, value, unit, jsonb_build_object('model', model)
           from unnest(array['gpt-4o', 'claude']) model,
                lateral (values ('api.calls', (k % 5)::float8, 'count'),
                                ('api.cost', (k % 5) * 0.002::float8, 'usd')) v(metric, value, unit)
         union all
         select 'errors.count', (k % 4)::float8, 'count', '{"code": "P0001"}'::jsonb where k % 3 = 0
       ) x`;

async function prepare(url: string): Promise<number> {
  const up = await migrateUp(projectMigratorOptions(url));
  if (up.error) throw up.error;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const have = await c.query<{ n: string }>(
      "select count(*) as n from public.performance_metrics where occurred_at < now() - $1::int * interval '1 day' + interval '1 day'",
      [DAYS],
    );
    if (Number(have.rows[0]?.n) === 0) {
      await c.query("truncate public.performance_metrics");
      // The collector's rows (owner): the API roles' per-row date-window trigger does not apply.
      await c.query("set session_replication_role = replica");
      for (let d = 0; d < DAYS; d++) {
        await c.query(LOAD_DAY, [d]);
        log(`loaded day ${d + 1} of ${DAYS}`);
      }
      await c.query("reset session_replication_role");
      await c.query("vacuum analyze public.performance_metrics");
    }
    return Number(
      (await c.query<{ n: string }>("select count(*) as n from public.performance_metrics")).rows[0]?.n,
    );
  } finally {
    await c.end();
  }
}

interface Paint {
  firstPaintMs: number;
  /** The page's status line when a load failed (then firstPaintMs is NaN). */
  failed?: string;
  /** Navigation's responseEnd (the HTML is in), and where each request's time went. */
  htmlMs: number;
  requests: Array<{
    name: string;
    start: number;
    end: number;
    serverMs: number | null;
    bytes: number;
    status: number;
  }>;
}

async function firstPaint(page: Page, url: string): Promise<Paint> {
  await page.goto(url);
  // Polled with evaluate: waitForSelector would inject Playwright's 300 kB selector engine into the
  // page while it loads, and its evaluation (0.5 s on a busy machine) would count as the page's time.
  const deadline = Date.now() + 120_000;
  let failed: string | undefined;
  while (!(await page.evaluate(() => document.body.hasAttribute("data-refreshes")))) {
    if (Date.now() > deadline) throw new Error(`${url} did not render in 120 s`);
    const status = await page.evaluate(() => document.getElementById("status")?.textContent ?? "");
    if (status.startsWith("update failed")) {
      // Its other requests may still be running: wait for them, so that their timings are in.
      await new Promise((r) => setTimeout(r, 15_000));
      failed = status;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const paint = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    const requests = (performance.getEntriesByType("resource") as PerformanceResourceTiming[]).map((r) => ({
      name: new URL(r.name).pathname,
      start: Math.round(r.startTime),
      end: Math.round(r.responseEnd),
      serverMs: r.serverTiming.find((s) => s.name === "app")?.duration ?? null,
      bytes: r.encodedBodySize,
      status: (r as PerformanceResourceTiming & { responseStatus?: number }).responseStatus ?? 0,
    }));
    return {
      firstPaintMs: Number(document.body.getAttribute("data-first-paint-ms")),
      htmlMs: Math.round(nav.responseEnd),
      requests,
    };
  });
  return failed ? { ...paint, firstPaintMs: Number.NaN, failed } : paint;
}

function stat(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${Math.round(s[Math.floor(s.length / 2)] as number)} ms (${Math.round(s[0] as number)}–${Math.round(s.at(-1) as number)})`;
}

async function main(): Promise<void> {
  const server = await startEmbedded({
    dataDir: path.join(root, ".vpb", "bench-dashboard"),
    port: arg("--port", 29513),
  });
  stopOnSignal(server.stop);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-bench-dashboard-"));
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    const name = `vpb_dashboard_${DAYS}d`;
    if ((await admin.query("select from pg_database where datname = $1", [name])).rowCount === 0)
      await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(server.url);
    url.pathname = `/${name}`;
    const rows = await prepare(url.toString());
    const dashboard = await serveDashboard({
      databaseUrl: url.toString(),
      dataDir,
      host: "127.0.0.1",
      port: 0,
      refreshMs: 3_600_000,
    });
    const api = JSON.parse(await readFile(path.join(dataDir, "api.json"), "utf8")) as ApiConfig;
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
      await context.addCookies([{ name: "vpb_dashboard", value: api.serviceRoleKey, url: dashboard.url }]);
      // A warm-up load: the browser's first page pays for its own start.
      const warm = await context.newPage();
      await firstPaint(warm, dashboard.url);
      await warm.close();
      if (process.env.BENCH_TRACE) {
        const page = await context.newPage();
        await browser.startTracing(page, { path: process.env.BENCH_TRACE, screenshots: false });
        await firstPaint(page, dashboard.url);
        await browser.stopTracing();
        await page.close();
      }
      for (const hours of [6, 720]) {
        const paints: Paint[] = [];
        for (let i = 0; i < RUNS; i++) {
          const page = await context.newPage();
          const paint = await firstPaint(page, `${dashboard.url}?hours=${hours}`);
          paints.push(paint);
          await page.close();
          if (paint.failed) break;
        }
        const failed = paints.find((p) => p.failed)?.failed;
        process.stdout.write(
          `${hours}-hour view, ${rows} metric rows: ` +
            (failed
              ? `did not render (${failed})`
              : `first paint ${stat(paints.map((p) => p.firstPaintMs))}, runs: ${paints.map((p) => p.firstPaintMs).join(" ")}`) +
            `, HTML in ${stat(paints.map((p) => p.htmlMs))}\n`,
        );
        const names = [...new Set(paints.flatMap((p) => p.requests.map((r) => r.name)))];
        for (const n of names) {
          const of = paints.flatMap((p) => p.requests.filter((r) => r.name === n));
          const server = of.map((r) => r.serverMs).filter((x): x is number => x !== null);
          process.stdout.write(
            `  ${n}: start ${stat(of.map((r) => r.start))}, end ${stat(of.map((r) => r.end))}` +
              (server.length ? `, server ${stat(server)}` : "") +
              `, ${of[0]?.bytes ?? 0} bytes, HTTP ${[...new Set(of.map((r) => r.status))].join("/")}\n`,
          );
        }
      }
    } finally {
      await browser.close();
      await dashboard.close();
    }
    process.stdout.write(
      `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown"}), Node ${process.version}, ` +
        `load average ${os
          .loadavg()
          .map((x) => x.toFixed(1))
          .join(" ")}\n`,
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await server.stop();
  }
}

await main();
