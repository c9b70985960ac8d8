import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";

/**
 * The MD5 of an upload (its ETag, as Supabase and S3 give it), computed on a worker thread once the
 * body is bigger than one batch. MD5 runs at about 700 MB/s: on the event loop it was a third of a
 * 50 MB upload's time, during which no other request moved; on a worker it runs beside the socket
 * reads and file writes. The bytes go in batches of BATCH copied into buffers handed to the worker
 * and back (a copy costs far less than the hash); at most MAX_IN_FLIGHT batches of an upload wait
 * for the worker, and the caller awaits update() beyond that, so memory stays bounded whatever the
 * worker's pace. A body of at most one batch (most uploads) is hashed here, without the round trip.
 */
export interface UploadMd5 {
  /** Adds bytes; a promise to await before the next update when the worker is behind. */
  update(chunk: Buffer): Promise<void> | undefined;
  /** The hex digest of every byte added. */
  digest(): Promise<string>;
  /** Forgets the upload (refused or failed): the worker frees its state. */
  discard(): void;
}

const BATCH = 256 * 1024;
const MAX_IN_FLIGHT = 4;

// CommonJS source run with `eval`: no file to resolve next to the module, from src (tsx) or dist.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const hashes = new Map();
parentPort.on("message", (m) => {
  if (m.kind === "update") {
    let h = hashes.get(m.id);
    if (h === undefined) hashes.set(m.id, (h = createHash("md5")));
    h.update(new Uint8Array(m.bytes, 0, m.length));
    parentPort.postMessage({ kind: "done", id: m.id, bytes: m.bytes }, [m.bytes]);
  } else if (m.kind === "digest") {
    const h = hashes.get(m.id) ?? createHash("md5");
    hashes.delete(m.id);
    parentPort.postMessage({ kind: "digest", id: m.id, hex: h.digest("hex") });
  } else hashes.delete(m.id);
});
`;

interface Waiting {
  /** Called with each batch acknowledged, and with the digest at the end. */
  onDone(): void;
  onDigest(hex: string): void;
  onError(e: Error): void;
}

/**
 * Batch buffers back from the worker, used again: a fresh buffer each time cost more than the
 * hash (new memory is mapped and faulted in page by page, and unmapped after).
 */
const spare: ArrayBuffer[] = [];
const SPARE_MAX = 16;

const newBatch = () => {
  const bytes = spare.pop();
  return bytes ? Buffer.from(bytes) : Buffer.allocUnsafeSlow(BATCH);
};

let worker: Worker | undefined;
const uploads = new Map<number, Waiting>();
let nextId = 1;

function hashWorker(): Worker {
  if (worker) return worker;
  // No execArgv of ours: flags such as --input-type=module or a loader would change how it is read.
  const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  w.on("message", (m: { kind: string; id: number; hex?: string; bytes?: ArrayBuffer }) => {
    const waiting = uploads.get(m.id);
    if (m.bytes && spare.length < SPARE_MAX) spare.push(m.bytes);
    if (m.kind === "done") waiting?.onDone();
    else if (m.kind === "digest") waiting?.onDigest(m.hex as string);
  });
  const fail = (e: Error) => {
    if (worker === w) worker = undefined;
    const failed = [...uploads.values()];
    uploads.clear();
    for (const u of failed) u.onError(e);
  };
  w.on("error", fail);
  w.on("exit", (code) => fail(new Error(`the upload hashing thread stopped (exit code ${code})`)));
  // Idle, the worker does not keep the process alive (unref'd after the listeners: adding one refs
  // it again); it does while an upload waits for it (see track).
  w.unref();
  worker = w;
  return w;
}

function track(id: number, waiting: Waiting): void {
  uploads.set(id, waiting);
  if (uploads.size === 1) hashWorker().ref();
}

function untrack(id: number): void {
  if (uploads.delete(id) && uploads.size === 0) worker?.unref();
}

export function uploadMd5(): UploadMd5 {
  let batch = newBatch();
  let filled = 0;
  /** Set once the body outgrew one batch: from then on the worker hashes. */
  let id: number | undefined;
  let inFlight = 0;
  let failure: Error | undefined;
  let resume: (() => void) | undefined;
  let finish: { resolve: (hex: string) => void; reject: (e: Error) => void } | undefined;

  const post = () => {
    if (id === undefined) {
      id = nextId++;
      track(id, {
        onDone() {
          inFlight--;
          const r = resume;
          resume = undefined;
          r?.();
        },
        onDigest(hex) {
          if (id !== undefined) untrack(id);
          finish?.resolve(hex);
        },
        onError(e) {
          failure = e;
          const r = resume;
          resume = undefined;
          r?.();
          finish?.reject(e);
        },
      });
    }
    // Each batch owns its whole ArrayBuffer (allocUnsafeSlow: never a slice of Node's pool), so it
    // is handed over, not copied, and comes back with the worker's answer.
    const bytes = batch.buffer;
    hashWorker().postMessage({ kind: "update", id, bytes, length: filled }, [bytes]);
    inFlight++;
    batch = newBatch();
    filled = 0;
  };

  return {
    update(chunk) {
      if (failure) return Promise.reject(failure);
      for (let at = 0; at < chunk.length; ) {
        const n = chunk.copy(batch, filled, at);
        filled += n;
        at += n;
        if (filled === BATCH) post();
      }
      if (inFlight < MAX_IN_FLIGHT) return undefined;
      return new Promise<void>((resolve, reject) => {
        resume = () => (failure ? reject(failure) : resolve());
      });
    },
    digest() {
      if (failure) return Promise.reject(failure);
      if (id === undefined) {
        const hex = createHash("md5").update(batch.subarray(0, filled)).digest("hex");
        if (spare.length < SPARE_MAX) spare.push(batch.buffer);
        return Promise.resolve(hex);
      }
      const hex = new Promise<string>((resolve, reject) => {
        finish = { resolve, reject };
      });
      if (filled > 0) post();
      hashWorker().postMessage({ kind: "digest", id });
      return hex;
    },
    discard() {
      if (id === undefined || failure) return;
      untrack(id);
      worker?.postMessage({ kind: "discard", id });
    },
  };
}
