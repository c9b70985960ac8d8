/**
 * The storage server's own request counts and latencies, kept in memory and drained by the metrics
 * collector (src/monitoring/collect.ts) each run: nothing is written per request.
 */
export interface StorageHttpSample {
  /** Requests by class of their real status (`2xx`, `4xx`, `5xx`; Supabase's wire status is 400 for every client error). */
  requests: Record<string, number>;
  latencyMeanMs: number | undefined;
  latencyMaxMs: number | undefined;
  /** Refusals (403) and misses (404) per signed-in user: probes of other users' files show here. */
  deniedByUser: Record<string, number>;
}

export class StorageHttpStats {
  private requests = new Map<string, number>();
  private latencySum = 0;
  private latencyCount = 0;
  private latencyMax = 0;
  private denied = new Map<string, number>();

  /** One finished request: its real status, its time, and the verified caller's id if any. */
  record(status: number, latencyMs: number, userId: string | undefined): void {
    const cls = `${Math.floor(status / 100)}xx`;
    this.requests.set(cls, (this.requests.get(cls) ?? 0) + 1);
    this.latencySum += latencyMs;
    this.latencyCount += 1;
    if (latencyMs > this.latencyMax) this.latencyMax = latencyMs;
    if (userId !== undefined && (status === 403 || status === 404)) {
      // Bounded: a flood of distinct ids between two runs cannot grow the map without end.
      if (this.denied.size < 10_000 || this.denied.has(userId))
        this.denied.set(userId, (this.denied.get(userId) ?? 0) + 1);
    }
  }

  /** What was recorded since the last drain; the counters start again from zero. */
  drain(): StorageHttpSample {
    const sample: StorageHttpSample = {
      requests: Object.fromEntries(this.requests),
      latencyMeanMs: this.latencyCount > 0 ? this.latencySum / this.latencyCount : undefined,
      latencyMaxMs: this.latencyCount > 0 ? this.latencyMax : undefined,
      deniedByUser: Object.fromEntries(this.denied),
    };
    this.requests = new Map();
    this.denied = new Map();
    this.latencySum = 0;
    this.latencyCount = 0;
    this.latencyMax = 0;
    return sample;
  }
}

/**
 * The verified caller of a request (set once its JWT is checked) and the real status of a refused
 * one, for the server's response hook. Weak: they go with their request.
 */
export const requestCaller = new WeakMap<object, string>();
export const requestRealStatus = new WeakMap<object, number>();

/** The process's storage servers count here unless given their own: `start` runs both in one process. */
export const storageHttpStats = new StorageHttpStats();
