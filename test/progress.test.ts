import assert from "node:assert/strict";
import { test } from "node:test";
import { progressReporter, transferPrinter } from "../src/cli/progress.ts";
import type { TransferProgress } from "../src/ops/export.ts";
import { byteCounter, type OpsProgress } from "../src/ops/progress.ts";

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = { isTTY, write: (s: string) => chunks.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join("") };
}

const steps = (phase: string, total: number): OpsProgress[] =>
  [0, 0.1, 0.3, 0.55, 0.8, 1].map((f) => ({ kind: "bytes", phase, done: Math.round(total * f), total }));

test("on a terminal: one line redrawn in place with bytes, percent, rate and ETA", () => {
  const out = fakeStream(true);
  const report = progressReporter(out.stream);
  for (const e of steps("backup", 50e6)) report(e);
  report({ kind: "note", text: "done" });
  report.finish();
  // The terminal's "return, clear the line", made visible.
  const text = out.text().replaceAll("\r\x1b[K", "<CLR>");
  assert.match(text, /<CLR>backup: 15\.0 of 50\.0 MB \(30%\), [\d.]+ MB\/s, ETA (\d+ s|\?)/);
  assert.match(text, /<CLR>backup: 50\.0 of 50\.0 MB \(100%\), [\d.]+ MB\/s, ETA 0 s/);
  assert.match(text, /<CLR>done\n$/, "a note clears the line first");
});

test("off a terminal: plain lines, one per quarter of each phase, no control characters", () => {
  const out = fakeStream(false);
  const report = progressReporter(out.stream);
  for (const e of steps("restore copy", 8e6)) report(e);
  report.finish();
  const lines = out.text().trimEnd().split("\n");
  assert.deepEqual(
    lines.map((l) => /\((\d+)%\)/.exec(l)?.[1]),
    ["0", "30", "55", "80", "100"],
  );
  assert.ok(!out.text().includes("\r") && !out.text().includes("\x1b"));
});

test("byteCounter reports at most every interval, and always the end", () => {
  const events: OpsProgress[] = [];
  const counter = byteCounter((e) => events.push(e), "copy", 1000, 60_000);
  for (let i = 0; i < 100; i++) counter.add(10);
  counter.end();
  assert.deepEqual(
    events.map((e) => (e.kind === "bytes" ? e.done : -1)),
    [0, 1000],
  );
});

test("export/import off a terminal: a line when a phase starts and ends and every interval between, not one per item", () => {
  const out = fakeStream(false);
  const printer = transferPrinter(out.stream, 60_000);
  const status = (phase: TransferProgress["phase"], itemsDone: number, itemsTotal: number) => ({
    phase,
    item: `item ${itemsDone}`,
    itemsDone,
    itemsTotal,
    bytesDone: itemsDone * 1000,
    bytesTotal: itemsTotal * 1000,
    elapsedMs: 500,
  });
  for (let i = 1; i <= 18; i++) printer.update(status("tables", i, 18));
  for (let i = 1; i <= 240; i++) printer.update(status("indexes", i, 240));
  printer.end();
  const lines = out.text().trimEnd().split("\n");
  assert.deepEqual(
    lines.map((l) => l.split(" (")[0]),
    ["tables 1/18", "tables 18/18", "indexes 1/240", "indexes 240/240"],
  );
  assert.ok(!lines.some((l) => l.includes("ETA")), "no ETA from half a second's rate");
});

test("export/import on a terminal: one line redrawn in place, ended with a newline", () => {
  const out = fakeStream(true);
  const printer = transferPrinter(out.stream);
  const status = (itemsDone: number) => ({
    phase: "tables" as const,
    item: `t${itemsDone}`,
    itemsDone,
    itemsTotal: 2,
    bytesDone: itemsDone * 4e6,
    bytesTotal: 8e6,
    elapsedMs: 4000,
  });
  printer.update(status(1));
  printer.update(status(2));
  printer.end();
  const text = out.text().replaceAll("\r\x1b[K", "<CLR>");
  assert.equal(
    text,
    "<CLR>tables 1/2 (t1), 4.0 MB of ~8.0 MB, 1.0 MB/s, ETA 4 s<CLR>tables 2/2 (t2), 8.0 MB of ~8.0 MB, 2.0 MB/s, ETA 0 s\n",
  );
});
