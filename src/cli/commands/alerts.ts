import type { Command } from "commander";
import pg from "pg";
import type { Config } from "../../config.ts";
import { openTarget } from "../../db/target.ts";
import { VpbError } from "../../errors.ts";
import { type Alert, fireTestAlert, listAlerts } from "../../monitoring/alerts.ts";
import { closeOnSignal, loadConfig, progressLine } from "../context.ts";
import { toJson } from "../report.ts";

async function withPool<T>(config: Config, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const target = await openTarget(config, progressLine, { existing: true });
  const release = closeOnSignal(target);
  const pool = new pg.Pool({ connectionString: target.url, max: 2, application_name: "vpb-db alerts" });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
    release();
    await target.close();
  }
}

function line(a: Alert): string {
  const when =
    a.state === "firing"
      ? `since ${a.fired_at.toISOString()}`
      : `resolved ${(a.resolved_at as Date).toISOString()}`;
  return `${a.state.padEnd(8)} ${a.severity.padEnd(8)} ${a.rule.padEnd(14)} ${when}  ${a.summary}`;
}

export function register(program: Command): void {
  const alerts = program
    .command("alerts")
    .description("list the monitoring alerts, firing first, then the latest resolved")
    .option("--limit <n>", "how many to list", "50")
    .option("--json", "print them as JSON")
    .action(async (flags: { limit: string; json?: boolean }) => {
      const limit = Number(flags.limit);
      if (!/^\d+$/.test(flags.limit) || limit < 1 || limit > 10_000) {
        throw new VpbError(
          "INVALID_ARGUMENT",
          "--limit must be a whole number from 1 to 10000",
          "Pass --limit 50, say.",
        );
      }
      const rows = await withPool(loadConfig(), (pool) => listAlerts(pool, limit));
      if (flags.json) process.stdout.write(`${toJson(rows)}\n`);
      else process.stdout.write(rows.length === 0 ? "no alerts\n" : `${rows.map(line).join("\n")}\n`);
    });
  alerts
    .command("test")
    .description(
      "fire a test alert (rule `test`) to the log and the webhook (VPB_ALERT_WEBHOOK_URL), signed as any alert; " +
        "the next evaluation resolves it",
    )
    .action(async () => {
      const config = loadConfig();
      const { alert, delivery } = await withPool(config, (pool) =>
        fireTestAlert(pool, { webhook: config.alertWebhook }),
      );
      if (!config.alertWebhook) {
        process.stdout.write(
          `test alert ${alert.id} logged; no webhook is configured (VPB_ALERT_WEBHOOK_URL)\n`,
        );
        return;
      }
      if (!delivery?.ok) {
        throw new VpbError(
          "ALERT_DELIVERY_FAILED",
          `The webhook did not accept test alert ${alert.id} after ${delivery?.attempts ?? 0} attempts (${delivery?.error ?? "no answer"}).`,
          "Check that the receiver runs and answers 2xx, and VPB_ALERT_WEBHOOK_URL; the alert is stored all the same.",
        );
      }
      process.stdout.write(
        `test alert ${alert.id} delivered to the webhook (HTTP ${delivery.status}, ${delivery.attempts} attempt(s))\n`,
      );
    });
}
