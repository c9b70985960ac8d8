/**
 * How the CLI draws long work on stderr (stdout stays for --json): backup, restore and verify report
 * bytes of phases (OpsProgress), export and import tables and bytes (TransferProgress). Both draw one
 * line redrawn in place on a terminal and a few plain lines otherwise.
 */
import type { TransferProgress } from "../ops/export.ts";
import type { OnProgress, OpsProgress } from "../ops/progress.ts";

const MB = 1e6;

function megabytes(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

/**
 * One line on a terminal, redrawn in place ("return, clear the line"); `end` moves past it so the
 * next output starts on a line of its own.
 */
function liveLine(stream: NodeJS.WriteStream) {
  let drawn = false;
  return {
    draw(line: string): void {
      stream.write(`\r\x1b[K${line}`);
      drawn = true;
    },
    /** Clears the line, for a note written in its place. */
    clear(): void {
      if (drawn) stream.write("\r\x1b[K");
      drawn = false;
    },
    end(): void {
      if (drawn) stream.write("\n");
      drawn = false;
    },
  };
}

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
  const live = liveLine(stream);
  const report = (event: OpsProgress) => {
    if (event.kind === "note") {
      live.clear();
      stream.write(`${event.text}\n`);
      return;
    }
    if (event.phase !== phase) {
      live.end();
      phase = event.phase;
      started = performance.now();
      quarter = -1;
    }
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? event.done / seconds : 0;
    const left = rate > 0 ? (event.total - event.done) / rate : Number.POSITIVE_INFINITY;
    const pct = event.total > 0 ? Math.floor((event.done / event.total) * 100) : 100;
    const line = `${phase}: ${(event.done / MB).toFixed(1)} of ${megabytes(event.total)} (${pct}%), ${megabytes(rate)}/s, ETA ${event.done >= event.total ? "0 s" : eta(left)}`;
    if (tty) {
      live.draw(line);
      return;
    }
    const q = Math.floor(pct / 25);
    if (q > quarter) {
      quarter = q;
      stream.write(`${line}\n`);
    }
  };
  return Object.assign(report, { finish: live.end });
}

/** One progress line: what is done, the rate so far, and an estimate of the time left. */
export function formatTransfer(p: TransferProgress): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.bytesDone / seconds : 0;
  const left = Math.max(0, p.bytesTotal - p.bytesDone);
  // The first seconds' rate says little (connections, the first table's start): no ETA from it.
  const etaText = rate > 0 && p.bytesTotal > 0 && seconds >= 2 ? `, ETA ${eta(left / rate)}` : "";
  return (
    `${p.phase} ${p.itemsDone}/${p.itemsTotal} (${p.item}), ${megabytes(p.bytesDone)}` +
    `${p.bytesTotal > 0 ? ` of ~${megabytes(p.bytesTotal)}` : ""}, ${megabytes(rate)}/s${etaText}`
  );
}

/**
 * A progress callback for a terminal: on a TTY one line rewritten in place (at most ten times a
 * second); otherwise plain lines for logs: when a phase starts and ends, and every 10 s between.
 */
export function transferPrinter(
  stream: NodeJS.WriteStream = process.stderr,
  plainEveryMs = 10_000,
): {
  update: (p: TransferProgress) => void;
  end: () => void;
} {
  let last = 0;
  let phase = "";
  const live = liveLine(stream);
  return {
    update(p) {
      const now = performance.now();
      if (stream.isTTY) {
        if (now - last < 100 && p.itemsDone < p.itemsTotal) return;
        last = now;
        live.draw(formatTransfer(p));
      } else if (p.phase !== phase || p.itemsDone >= p.itemsTotal || now - last >= plainEveryMs) {
        phase = p.phase;
        last = now;
        stream.write(`${formatTransfer(p)}\n`);
      }
    },
    end: live.end,
  };
}
