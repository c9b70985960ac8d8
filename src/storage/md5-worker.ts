/**
 * MD5 of uploads on a worker thread. Hashing 50 MB takes the main thread about as long as receiving
 * and writing it; on its own thread it runs beside the transfer. Each chunk is copied into one of a
 * few buffers of the upload's own, moved (transferred, not cloned) to the worker and moved back once
 * hashed: the copies make no garbage, and an upload holds at most WINDOW buffers however slow the
 * worker is (the stream waits for a free buffer).
 */
import { Worker } from "node:worker_threads";

const BUFFER_BYTES = 64 * 1024;
const WINDOW = 16;

// Plain JavaScript evaluated by the worker: the same from dist/ and from the TypeScript sources.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const hashes = new Map();
parentPort.on("message", (m) => {
  if (m.type === "update") {
    let h = hashes.get(m.id);
    if (!h) hashes.set(m.id, (h = createHash("md5")));
    h.update(new Uint8Array(m.buffer, 0, m.length));
    parentPort.postMessage({ type: "ack", id: m.id, buffer: m.buffer }, [m.buffer]);
  } else if (m.type === "digest") {
    const h = hashes.get(m.id) ?? createHash("md5");
    hashes.delete(m.id);
    parentPort.postMessage({ type: "digest", id: m.id, hex: h.digest("hex") });
  } else if (m.type === "abort") {
    hashes.delete(m.id);
  }
});
`;

interface Pending {
  free: ArrayBuffer[];
  waiting: Array<() => void>;
  digest?: { resolve: (hex: string) => void; reject: (e: unknown) => void };
  fail: (e: unknown) => void;
}

let worker: Worker | undefined;
let nextId = 1;
const uploads = new Map<number, Pending>();

function theWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  // Idle, it must not keep the process alive.
  w.unref();
  w.on("message", (m: { type: string; id: number; buffer?: ArrayBuffer; hex?: string }) => {
    const p = uploads.get(m.id);
    if (!p) return;
    if (m.type === "ack" && m.buffer) {
      p.free.push(m.buffer);
      p.waiting.shift()?.();
    } else if (m.type === "digest" && m.hex !== undefined) {
      forget(m.id);
      p.digest?.resolve(m.hex);
    }
  });
  const fail = (e: unknown) => {
    if (worker === w) worker = undefined;
    for (const p of uploads.values()) p.fail(e);
    uploads.clear();
  };
  w.on("error", fail);
  w.on("exit", (code) => fail(new Error(`the MD5 worker ended (exit code ${code})`)));
  worker = w;
  return w;
}

function forget(id: number): boolean {
  const known = uploads.delete(id);
  if (uploads.size === 0) worker?.unref();
  return known;
}

/** One upload's MD5, computed on the worker thread. */
export class Md5 {
  private readonly id = nextId++;
  private readonly state: Pending;
  private failure: unknown;
  private readonly w: Worker;

  constructor() {
    this.w = theWorker();
    this.state = {
      free: Array.from({ length: WINDOW }, () => new ArrayBuffer(BUFFER_BYTES)),
      waiting: [],
      fail: (e) => {
        this.failure ??= e;
        for (const wake of this.state.waiting.splice(0)) wake();
        this.state.digest?.reject(e);
      },
    };
    uploads.set(this.id, this.state);
    // Referenced while an upload needs it: a digest awaited with nothing else pending must not let
    // the process end.
    this.w.ref();
  }

  /**
   * Hands the bytes to the worker. Undefined when they are all copied at once (the common case);
   * otherwise a promise that resolves once they are, after the worker has given buffers back.
   */
  update(chunk: Uint8Array, from = 0): Promise<void> | undefined {
    for (let at = from; at < chunk.length; at += BUFFER_BYTES) {
      if (this.failure !== undefined) return Promise.reject(this.failure);
      const buffer = this.state.free.pop();
      if (buffer === undefined) {
        return new Promise<void>((wake) => this.state.waiting.push(wake)).then(() => this.update(chunk, at));
      }
      const part = chunk.subarray(at, at + BUFFER_BYTES);
      new Uint8Array(buffer).set(part);
      this.w.postMessage({ type: "update", id: this.id, buffer, length: part.length }, [buffer]);
    }
    return undefined;
  }

  /** The hex digest of everything updated (the worker handles messages in order). */
  digest(): Promise<string> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const hex = new Promise<string>((resolve, reject) => {
      this.state.digest = { resolve, reject };
    });
    this.w.postMessage({ type: "digest", id: this.id });
    return hex;
  }

  /** Forgets an upload that failed. */
  abort(): void {
    if (!forget(this.id)) return;
    this.w.postMessage({ type: "abort", id: this.id });
  }
}
