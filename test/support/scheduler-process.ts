/**
 * A scheduler process for the tests: runs the `probe` job (every second, taking 1.2 s) against
 * VPB_TEST_DB_URL until SIGTERM. Each run records its run id, process and interval in sched_probe.
 */
import { parseConfig } from "../../src/config.ts";
import { connect } from "../../src/db/target.ts";
import { job } from "../../src/jobs/registry.ts";
import { resolveJobs, startScheduler } from "../../src/jobs/scheduler.ts";

const url = process.env.VPB_TEST_DB_URL ?? "";
const config = parseConfig({ DATABASE_URL: url, VPB_JOBS_POLL_INTERVAL: "500ms" }, process.cwd());
const env = { url, config, embedded: false };
const probe = job("probe", "1 seconds", "records its run", {
  timeoutMs: 10_000,
  run: async (ctx) => {
    const c = await connect(ctx.url, "probe");
    try {
      await c.query(
        "insert into sched_probe (run_id, pid, started_at, ended_at) select $1, $2, clock_timestamp(), null",
        [ctx.runId, process.pid],
      );
      await new Promise((r) => setTimeout(r, 1200));
      await c.query("update sched_probe set ended_at = clock_timestamp() where run_id = $1 and pid = $2", [
        ctx.runId,
        process.pid,
      ]);
      return { pid: process.pid };
    } finally {
      await c.end();
    }
  },
});
const scheduler = await startScheduler({
  env,
  jobs: resolveJobs(env, [probe]),
  tickMs: 200,
  onLog: (line) => process.stderr.write(`${line}\n`),
});
// The handler is in place before "ready" is written: the test may signal the moment it reads it.
process.once("SIGTERM", async () => {
  await scheduler.stop();
  process.exit(0);
});
process.stdout.write("ready\n");
setInterval(() => {}, 60_000);
