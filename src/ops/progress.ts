/**
 * What long operations (backup, restore, verify) report while they run: notes for a person, and byte
 * counts of the current phase. The core only emits these; the CLI draws them (src/cli/progress.ts)
 * and the scheduler may log them.
 */
export type OpsProgress =
  | { kind: "note"; text: string }
  | { kind: "bytes"; phase: string; done: number; total: number };

export type OnProgress = (event: OpsProgress) => void;

export const ignoreProgress: OnProgress = () => {};

/**
 * Reports bytes of one phase, at most every `everyMs` (and always the last): a call per 64 KB chunk
 * would cost more than the copy it reports.
 */
export function byteCounter(onProgress: OnProgress, phase: string, total: number, everyMs = 100) {
  let done = 0;
  onProgress({ kind: "bytes", phase, done, total });
  let last = performance.now();
  return {
    add(bytes: number): void {
      done += bytes;
      const now = performance.now();
      if (now - last >= everyMs) {
        last = now;
        onProgress({ kind: "bytes", phase, done, total });
      }
    },
    end(): void {
      onProgress({ kind: "bytes", phase, done, total: Math.max(total, done) });
    },
    get done(): number {
      return done;
    },
  };
}
