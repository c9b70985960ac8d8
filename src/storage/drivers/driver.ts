import type { Readable } from "node:stream";

/** Inclusive byte positions, as in an HTTP Range. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface PutResult {
  size: number;
  /** MD5 of the bytes, hex (S3's ETag for a single-part object). */
  md5: string;
}

export interface PutOptions {
  /** Bytes allowed; one more and the put fails with EntityTooLarge, leaving nothing behind. */
  maxBytes: number;
  contentType: string;
}

/**
 * Where object bytes live. Keys are `{bucket}/{version}` (one immutable object per version, never a
 * user-chosen name): a key becomes visible only when complete, and a row of storage.objects names it.
 */
export interface StorageDriver {
  /** Streams the body to a temporary object, durably, then makes it visible under `key`; on any failure nothing is left. */
  put(key: string, body: Readable, options: PutOptions): Promise<PutResult>;
  /** The bytes of `key` (or of one range of it); undefined when there is no such object. */
  get(key: string, range?: ByteRange): Promise<Readable | undefined>;
  /**
   * Optional: the bytes of a small range in one buffer, for answers of a few KB where a stream's
   * machinery costs more than the read; undefined when there is no such object.
   */
  read?(key: string, range: ByteRange): Promise<Buffer | undefined>;
  head(key: string): Promise<{ size: number } | undefined>;
  /** Removes the objects; a key already gone is not an error. */
  delete(keys: readonly string[]): Promise<void>;
  copy(fromKey: string, toKey: string): Promise<void>;
  /** Every stored object's key and when it was written: what the sweeper compares with the rows. */
  list(): AsyncIterable<{ key: string; modified: Date }>;
  /** Removes temporary uploads last written before `before` (left by a crash); returns how many. */
  removeStaleTemp(before: Date): Promise<number>;
}

const KEY = /^[A-Za-z0-9_.-]{1,100}\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isKey(key: string): boolean {
  return KEY.test(key);
}

/** Refuses any key that is not `{bucket}/{uuid}`: a driver never sees a path made of user input. */
export function checkKey(key: string): string {
  if (!KEY.test(key)) throw new Error("storage driver: malformed object key");
  return key;
}
