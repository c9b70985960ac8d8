/**
 * Makes database/images/dashboard.png, the screenshot in database/README.md's Monitoring section:
 * a seeded database (scale 0.01) under an app-like load for three hours of sample times, each
 * minute sampled by the real collector (collectMetrics with a moved clock, so pg_stat_statements'
 * deltas are real) and evaluated by the real alert rules, then the dashboard in Debian's Chromium.
 * Runs on a throwaway embedded server; takes about two minutes.
 *
 * Usage: npx tsx scripts/dashboard-screenshot.ts [--port 29514]
 */
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { serveDashboard } from "../src/dashboard/server.ts";
import { startEmbedded } from "../src/db/embedded-server.ts";
import { stopOnSignal } from "../src/db/shutdown.ts";
import { seed } from "../src/dev/seed.ts";
import { migrateUp, projectMigratorOptions } from "../src/migrations/migrator.ts";
import { evaluateAlerts } from "../src/monitoring/alerts.ts";
import { collectMetrics } from "../src/monitoring/collect.ts";
import { loadRules } from "../src/monitoring/rules.ts";
import type { ApiConfig } from "../src/storage/api-config.ts";
import { launchChromium } from "../test/support/chromium.ts";

const root = path.resolve(import.meta.dirname, "..");
const OUT = path.join(root, "database", "images", "dashboard.png");
const MINUTES = 180;
const MIB = 1024 * 1024;
const portArg = process.argv.indexOf("--port");
const PORT = portArg > 0 ? Number(process.argv[portArg + 1]) : 29514;
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Storage of four users now on the free plan (1 GiB): one past it, one near it, two well within. */
async function storageUsers(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ owner_id: string; id: string }>(
    "select distinct on (owner_id) owner_id, id from public.projects order by owner_id, id limit 4",
  );
  const sizes = [1100, 850, 300, 40];
  for (const [i, p] of rows.entries()) {
    // Uploaded on a larger plan, then moved to free: the only way past a quota the uploads enforce.
    await pool.query("update public.users set plan = 'pro' where id = $1", [p.owner_id]);
    const mib = sizes[i] ?? 10;
    for (let k = 0; k < 10; k++)
      await pool.query(
        `insert into storage.objects (bucket_id, name, owner, owner_id, metadata)
         values ('audio-recordings', $1, $2::uuid, $2::text, jsonb_build_object('size', $3::bigint, 'mimetype', 'audio/webm'))`,
        [`${p.owner_id}/${p.id}/1700000000000_take-${k}.webm`, p.owner_id, Math.round((mib * MIB) / 10)],
      );
    await pool.query("update public.users set plan = 'free' where id = $1", [p.owner_id]);
  }
}

/** One minute of the app: reads and writes like its own, more at the top of a daily-looking wave. */
async function appMinute(pool: pg.Pool, users: string[], minute: number, at: Date): Promise<void> {
  const load = 1 + Math.sin(minute / 25) * 0.6 + (minute % 7) / 10;
  for (let i = 0; i < Math.round(8 * load); i++) {
    const user = users[(minute * 7 + i) % users.length] as string;
    await pool.query(
      "select id, name, updated_at from public.projects where owner_id = $1 and deleted_at is null order by updated_at desc limit 20",
      [user],
    );
    await pool.query(
      "select c.id, c.type from public.project_components c join public.projects p on p.id = c.project_id where p.owner_id = $1 limit 50",
      [user],
    );
    if (i % 3 === 0) await pool.query("update public.users set updated_at = now() where id = $1", [user]);
  }
  // A report query that slows down for a while: the latency chart and a slow-query alert show it.
  if (minute > 120 && minute < 150)
    await pool.query("select pg_sleep(0.15), count(*) from public.user_activity");
  const seconds = (s: number) => new Date(at.getTime() - s * 1000);
  for (let i = 0; i < Math.round(3 * load); i++)
    await pool.query(
      "insert into public.api_usage (user_id, provider, model, cost_usd, occurred_at) values ($1, 'openai', $2, $3, $4)",
      [users[i % users.length], i % 2 ? "gpt-4o" : "gpt-4o-mini", i % 2 ? 0.012 : 0.002, seconds(20 + i)],
    );
  const errors = minute > 90 && minute < 100 ? 12 : minute % 4;
  for (let i = 0; i < errors; i++)
    await pool.query(
      "insert into public.error_logs (severity, source, error_code, message, occurred_at) values ('error', 'app', $1, 'request failed', $2)",
      [i % 3 ? "P0001" : "23505", seconds(30 + i)],
    );
}

async function main(): Promise<void> {
  // Under the project (the postgres OS user must reach it when run as root), removed at the end.
  const dataDir = path.join(root, ".vpb", "screenshot");
  await rm(dataDir, { recursive: true, force: true });
  const server = await startEmbedded({ dataDir, port: PORT });
  stopOnSignal(server.stop);
  try {
    const up = await migrateUp(projectMigratorOptions(server.url));
    if (up.error) throw up.error;
    const pool = new pg.Pool({ connectionString: server.url, max: 2 });
    pool.on("error", () => {});
    log("seeding scale 0.01…");
    await seed(pool, { scale: 0.01 });
    await storageUsers(pool);
    const users = (
      await pool.query<{ id: string }>("select id from public.users order by id limit 40")
    ).rows.map((r) => r.id);
    const rules = await loadRules();
    const start = Date.now() - MINUTES * 60_000;
    // Earlier days' API cost: one sample a day of the hour before it.
    for (let d = 6; d >= 1; d--) {
      const at = new Date(start - d * 86_400_000);
      for (let i = 0; i < 20 + d * 5; i++)
        await pool.query(
          "insert into public.api_usage (user_id, provider, model, cost_usd, occurred_at) values ($1, 'openai', 'gpt-4o', 0.012, $2)",
          [users[i % users.length], new Date(at.getTime() - 60_000 - i * 1000)],
        );
      await collectMetrics(pool, { now: at, storageStats: null });
    }
    for (let m = 0; m <= MINUTES; m++) {
      const at = new Date(start + m * 60_000);
      await appMinute(pool, users, m, at);
      await collectMetrics(pool, { now: at, storageStats: null });
      if (m % 5 === 0) await evaluateAlerts(pool, { rules, now: at, log: () => {} });
      if (m % 30 === 0) log(`sampled minute ${m} of ${MINUTES}`);
    }
    await pool.end();

    const dashboard = await serveDashboard({
      databaseUrl: server.url,
      dataDir,
      host: "127.0.0.1",
      port: 0,
      refreshMs: 3_600_000,
    });
    const api = JSON.parse(await readFile(path.join(dataDir, "api.json"), "utf8")) as ApiConfig;
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      await context.addCookies([{ name: "vpb_dashboard", value: api.serviceRoleKey, url: dashboard.url }]);
      const page = await context.newPage();
      await page.goto(`${dashboard.url}?hours=3`);
      await page.waitForSelector("body[data-refreshes]", { timeout: 60_000 });
      // The status line holds the time of the run: left out, so a rerun changes only what the data changes.
      await page.evaluate(() => {
        const status = document.getElementById("status");
        if (status) status.textContent = "";
      });
      await mkdir(path.dirname(OUT), { recursive: true });
      await page.screenshot({ path: OUT, fullPage: true });
    } finally {
      await browser.close();
      await dashboard.close();
    }
    log(`${path.relative(root, OUT)}: ${(await stat(OUT)).size} bytes`);
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
