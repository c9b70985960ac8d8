import cronParser from "cron-parser";

/**
 * When a job runs: a cron expression in UTC (5 fields, or 6 with seconds first), `N seconds` (1 to 59:
 * pg_cron 1.5's interval form, handy in tests), or off.
 */
export type Schedule =
  | { kind: "cron"; text: string; seconds: boolean }
  | { kind: "every"; text: string; seconds: number }
  | { kind: "off"; text: "off" };

const EVERY = /^(\d+)\s*seconds?$/i;

/** Parses a schedule, or returns why it is not one. */
export function parseSchedule(text: string): Schedule | string {
  const trimmed = text.trim().replace(/\s+/g, " ");
  if (trimmed === "off") return { kind: "off", text: "off" };
  const every = EVERY.exec(trimmed);
  if (every) {
    const n = Number(every[1]);
    if (n < 1 || n > 59) return `"${trimmed}": an interval must be 1 to 59 seconds (use cron for longer)`;
    return { kind: "every", text: `${n} seconds`, seconds: n };
  }
  const fields = trimmed.split(" ").length;
  if (fields !== 5 && fields !== 6) {
    return `"${trimmed}" is not a schedule: use 5 cron fields (minute hour day month weekday), 6 with seconds first, "N seconds" or off`;
  }
  try {
    cronParser.parseExpression(trimmed, { utc: true });
  } catch (e) {
    return `"${trimmed}" is not a valid cron expression (${(e as Error).message})`;
  }
  return { kind: "cron", text: trimmed, seconds: fields === 6 };
}

/** The latest slot at or before `now`, in milliseconds since the epoch; undefined for `off`. */
export function latestSlot(schedule: Schedule, now: number): number | undefined {
  switch (schedule.kind) {
    case "off":
      return undefined;
    case "every": {
      const period = schedule.seconds * 1000;
      return Math.floor(now / period) * period;
    }
    case "cron": {
      // prev() is strictly before its start: start just after `now` so that a slot equal to it counts.
      const it = cronParser.parseExpression(schedule.text, { utc: true, currentDate: new Date(now + 1) });
      return it.prev().getTime();
    }
  }
}

/** The first slot after `now`; undefined for `off`. */
export function nextSlot(schedule: Schedule, now: number): number | undefined {
  switch (schedule.kind) {
    case "off":
      return undefined;
    case "every": {
      const period = schedule.seconds * 1000;
      return (Math.floor(now / period) + 1) * period;
    }
    case "cron":
      return cronParser
        .parseExpression(schedule.text, { utc: true, currentDate: new Date(now) })
        .next()
        .getTime();
  }
}
