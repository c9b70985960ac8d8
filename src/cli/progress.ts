import type { OnProgress, OpsProgress } from "../ops/progress.ts";

const MB = 1e6;

function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
}

/**
 * Draws an operation's progress on stderr (stdout stays clean for --json): on a terminal one line
 * redrawn in place with bytes, rate and ETA; otherwise plain lines, one per quarter of each phase, so
 * a log or CI output stays short.
 */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): OnProgress & {
  finish(): void;
} {
  const tty = stream.isTTY === true;
  let phase = "";
  let started = 0;
  let quarter = -1;
  let drawn = false;
  const clear = () => {
    if (drawn) stream.write("\r\x1b[K");
    drawn = false;
  };
  const report = (event: OpsProgress) => {
    if (event.kind === "note") {
      clear();
      stream.write(`${event.text}\n`);
      return;
    }
    if (event.phase !== phase) {
      if (tty && drawn) stream.write("\n");
      drawn = false;
      phase = event.phase;
      started = performance.now();
      quarter = -1;
    }
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? event.done / seconds : 0;
    const left = rate > 0 ? (event.total - event.done) / rate : Number.POSITIVE_INFINITY;
    const pct = event.total > 0 ? Math.floor((event.done / event.total) * 100) : 100;
    const line = `${phase}: ${(event.done / MB).toFixed(1)} of ${(event.total / MB).toFixed(1)} MB (${pct}%), ${(rate / MB).toFixed(1)} MB/s, ETA ${event.done >= event.total ? "0 s" : eta(left)}`;
    if (tty) {
      stream.write(`\r\x1b[K${line}`);
      drawn = true;
      return;
    }
    const q = Math.floor(pct / 25);
    if (q > quarter) {
      quarter = q;
      stream.write(`${line}\n`);
    }
  };
  return Object.assign(report, {
    finish: () => {
      if (tty && drawn) stream.write("\n");
      drawn = false;
    },
  });
}
