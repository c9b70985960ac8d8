/**
 * A backup or restore run in its own process, for the kill -9 tests: halfway through its copy it
 * prints HALF and blocks (synchronously, so nothing more is written) until the test kills it.
 * Input: VPB_OPS_CHILD, JSON of { mode: "backup", url, pgData, backupDir } or
 * { mode: "restore", backupDir, pgData, logFile, binDir, major, url }.
 */
import pg from "pg";
import { takeBaseBackup } from "../../src/ops/base-backup.ts";
import type { OpsProgress } from "../../src/ops/progress.ts";
import { restoreBackup } from "../../src/ops/restore.ts";

const input = JSON.parse(process.env.VPB_OPS_CHILD ?? "{}");
const onProgress = (e: OpsProgress) => {
  if (e.kind === "bytes" && e.total > 0 && e.done >= e.total / 2) {
    process.stdout.write("HALF\n");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  }
};
if (input.mode === "backup") {
  const client = new pg.Client({ connectionString: input.url });
  await client.connect();
  await takeBaseBackup({ client, pgData: input.pgData, backupDir: input.backupDir, onProgress });
} else {
  await restoreBackup({
    backupDir: input.backupDir,
    pgData: input.pgData,
    logFile: input.logFile,
    binDir: input.binDir,
    major: input.major,
    target: { immediate: true },
    urlFor: (port) => {
      const u = new URL(input.url);
      u.port = String(port);
      return u.toString();
    },
    onProgress,
  });
}
process.stdout.write("DONE\n");
process.exit(0);
