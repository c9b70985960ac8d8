import type { FastifyReply } from "fastify";

export const DEFAULT_HOURS = 6;
export const MAX_HOURS = 24 * 30;
/** Series have at most this many buckets: one a minute up to 12 hours, wider beyond. */
const MAX_POINTS = 720;

export interface Window {
  hours: number;
  /** PostgreSQL interval text of the window, $1 of the queries. */
  interval: string;
  bucketMinutes: number;
  /** PostgreSQL interval text of a bucket. */
  bucket: string;
}

/** `?hours=` (1 to 720, default 6) as a number, or undefined when it is not one. */
export function hoursParam(query: unknown): number | undefined {
  const text = (query as { hours?: unknown } | undefined)?.hours;
  const hours =
    text === undefined
      ? DEFAULT_HOURS
      : typeof text === "string" && /^\d{1,4}$/.test(text)
        ? Number(text)
        : 0;
  return hours >= 1 && hours <= MAX_HOURS ? hours : undefined;
}

export const HOURS_MESSAGE = `hours must be a whole number from 1 to ${MAX_HOURS}.`;

/** `?hours=` (1 to 720, default 6), or a 400 sent and undefined returned. */
export function windowParam(query: unknown, reply: FastifyReply): Window | undefined {
  const hours = hoursParam(query);
  if (hours === undefined) {
    void reply.code(400).send({ error: "invalid_argument", message: HOURS_MESSAGE });
    return undefined;
  }
  const bucketMinutes = Math.max(1, Math.ceil((hours * 60) / MAX_POINTS));
  return { hours, interval: `${hours} hours`, bucketMinutes, bucket: `${bucketMinutes} minutes` };
}

/** Windows longer than this read the top queries from the hourly rollup (a day of raw rows is cheap). */
const TOP_QUERIES_RAW_HOURS = 24;

/** Whether the latency/calls series reads the hourly rollup: its buckets are whole hours. */
export function seriesFromRollup(w: Window): boolean {
  return w.bucketMinutes % 60 === 0;
}

/** Whether the top-queries panel reads the hourly rollup (its first hour counted whole). */
export function topQueriesFromRollup(w: Window): boolean {
  return w.hours > TOP_QUERIES_RAW_HOURS;
}
