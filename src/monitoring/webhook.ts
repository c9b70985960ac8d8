import { createHmac, timingSafeEqual } from "node:crypto";

export interface WebhookTarget {
  url: string;
  /** Signs each body (HMAC-SHA256); the receiver checks it with the same secret. */
  secret: string;
  /** Tries in all (default 4), the first delay (default 1 s, doubled each time) and each try's limit (default 5 s). */
  attempts?: number;
  backoffMs?: number;
  timeoutMs?: number;
}

export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  /** The last HTTP status, if a response came. */
  status?: number;
  /** Why the last try failed (never the URL: a webhook URL often holds a token). */
  error?: string;
}

export const SIGNATURE_HEADER = "x-vpb-signature";

/**
 * The signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. The time
 * inside the signed text lets a receiver refuse old deliveries replayed.
 */
export function signBody(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

/** A receiver's check: the header matches the body and is at most `toleranceSeconds` old. */
export function verifySignature(
  secret: string,
  body: string,
  header: string | undefined,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? "");
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signBody(secret, body, t));
  const given = Buffer.from(header as string);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * POSTs `payload` as JSON, signed, retrying network failures, timeouts, 429 and 5xx with doubling
 * delays; other 4xx answers are final (the receiver refuses the body). Never throws.
 */
export async function postSigned(target: WebhookTarget, payload: unknown): Promise<DeliveryResult> {
  const attempts = target.attempts ?? 4;
  const timeoutMs = target.timeoutMs ?? 5000;
  let delay = target.backoffMs ?? 1000;
  const body = JSON.stringify(payload);
  let last: DeliveryResult = { ok: false, attempts: 0 };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await fetch(target.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "vpb-db alerts",
          [SIGNATURE_HEADER]: signBody(target.secret, body, Math.floor(Date.now() / 1000)),
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "error",
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { ok: true, attempts: attempt, status: res.status };
      last = { ok: false, attempts: attempt, status: res.status, error: `HTTP ${res.status}` };
      if (res.status < 500 && res.status !== 429) return last;
    } catch (e) {
      const name = (e as Error).name;
      last = {
        ok: false,
        attempts: attempt,
        error: name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : "connection failed",
      };
    }
    if (attempt < attempts) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }
  return last;
}
