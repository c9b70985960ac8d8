/** What every benchmark script shares: the repository root, progress lines, medians, and its BENCHMARKS.md section. */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";

export const root = path.resolve(import.meta.dirname, "..");

/** Progress goes to stderr; stdout carries the section. */
export const log = (line: string) => process.stderr.write(`${line}\n`);

export interface Stat {
  median: number;
  min: number;
  max: number;
}

export function stat(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s.at(-1) as number };
}

export const median = (samples: number[]) => stat(samples).median;

const HEADER =
  "# Benchmarks\n\nEach section is rewritten by its script. Times are medians of several runs, with their spread; ratios compare measures taken side by side in the same run.\n";

/**
 * Replaces the section of BENCHMARKS.md that starts with `heading` (up to the next `## `) by `section`,
 * or adds it at the end: each script owns its section, the prose between them is kept.
 */
export async function writeSection(heading: string, section: string): Promise<void> {
  const file = path.join(root, "BENCHMARKS.md");
  let text = await readFile(file, "utf8").catch(() => HEADER);
  const body = `${section.trimEnd()}\n`;
  const start = text.indexOf(heading);
  if (start === -1) text = `${text.trimEnd()}\n\n${body}`;
  else {
    const next = text.indexOf("\n## ", start + 1);
    text = text.slice(0, start) + body + (next === -1 ? "" : text.slice(next));
  }
  await writeFile(file, `${text.trimEnd()}\n`);
}
