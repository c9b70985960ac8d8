import { randomUUID } from "node:crypto";
import { closeSync, constants, openSync, readSync, writeSync } from "node:fs";
import { copyFile, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { storageErrors } from "../errors.ts";
import { uploadMd5 } from "../upload-md5.ts";
import {
  type ByteRange,
  checkKey,
  isKey,
  type PutOptions,
  type PutResult,
  type StorageDriver,
} from "./driver.ts";

/**
 * A download's read size: 256 KiB chunks take a file to the socket in a quarter of the reads,
 * writes and event-loop turns of the 64 KiB default (a 50 MB file over loopback went about twice as
 * fast here); that much memory per download being sent.
 */
const READ_CHUNK = 256 * 1024;

/** Bytes between two flushes of an upload in flight. */
const SYNC_EVERY = 8 * 1024 * 1024;

/**
 * Objects as files under one folder: `objects/{bucket}/{version}`, written to `tmp/` first, fsynced,
 * then renamed into place (a rename within one file system is atomic) and the folder fsynced, so a
 * crash leaves either the whole file or none under `objects/`. `tmp/` holds only uploads in flight
 * (and, after a crash, what the sweeper removes).
 */
export class DiskDriver implements StorageDriver {
  readonly objectsDir: string;
  readonly tmpDir: string;

  constructor(readonly root: string) {
    this.objectsDir = path.join(root, "objects");
    this.tmpDir = path.join(root, "tmp");
  }

  private file(key: string): string {
    return path.join(this.objectsDir, ...checkKey(key).split("/"));
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<PutResult> {
    const target = this.file(key);
    return this.viaTemp(target, async (tmp) => {
      // Opened before the bytes flow: a stream opening lazily could create the file after a refusal
      // had already failed the pipeline and removed the path, leaving a stray temporary file.
      const handle = await open(tmp, "wx", 0o600);
      const md5 = uploadMd5();
      let size = 0;
      // The file is flushed to disk as it arrives (one datasync at a time, every SYNC_EVERY bytes),
      // so that the fsync before the rename waits for the last few megabytes only, not for all of it.
      let flushed = 0;
      let flushing: Promise<void> | undefined;
      let flushError: unknown;
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          // Counted as it streams, so a body without Content-Length is held to the limit too.
          if (size > options.maxBytes) return done(storageErrors.entityTooLarge());
          const hashing = md5.update(chunk);
          if (size - flushed >= SYNC_EVERY && flushing === undefined && flushError === undefined) {
            flushed = size;
            flushing = handle.datasync().then(
              () => {
                flushing = undefined;
              },
              (e: unknown) => {
                // Kept: the kernel reports a write-back error once, so the last fsync might not see it.
                flushError = e;
                flushing = undefined;
              },
            );
          }
          if (hashing === undefined) return done(null, chunk);
          hashing.then(() => done(null, chunk), done);
        },
      });
      // Written with synchronous calls: a 64 KiB write to the page cache takes microseconds, while
      // each asynchronous one's trip through libuv's thread pool cost more than the write (a 50 MB
      // upload took ~80 ms longer and ~110 ms more CPU here). The datasyncs above keep the dirty
      // data of an upload to a few megabytes, so a write rarely waits for the disk.
      const file = new Writable({
        highWaterMark: 1024 * 1024,
        write(chunk: Buffer, _enc, done) {
          try {
            for (let at = 0; at < chunk.length; ) at += writeSync(handle.fd, chunk, at);
            done();
          } catch (e) {
            done(e as Error);
          }
        },
      });
      try {
        await pipeline(body, count, file);
      } catch (e) {
        md5.discard();
        throw e;
      } finally {
        await flushing;
        await handle.close();
      }
      if (flushError !== undefined) {
        md5.discard();
        throw flushError;
      }
      return { size, md5: await md5.digest() };
    });
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    const file = this.file(key);
    // Opened before returning, so that a missing file is an answer, not a stream error mid-response.
    const handle = await open(file, "r").catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return undefined;
      throw e;
    });
    if (!handle) return undefined;
    // Read with synchronous calls, as uploads are written: from the page cache a 256 KiB read takes
    // microseconds, less than its trip through libuv's thread pool would.
    let position = range?.start ?? 0;
    const end = range ? range.end + 1 : Number.POSITIVE_INFINITY;
    return new Readable({
      highWaterMark: READ_CHUNK,
      read() {
        try {
          const want = Math.min(READ_CHUNK, end - position);
          const chunk = want > 0 ? Buffer.allocUnsafe(want) : undefined;
          const n = chunk ? readSync(handle.fd, chunk, 0, chunk.length, position) : 0;
          position += n;
          this.push(n === 0 ? null : (chunk as Buffer).subarray(0, n));
        } catch (e) {
          this.destroy(e as Error);
        }
      },
      destroy(error, done) {
        handle.close().then(
          () => done(error),
          () => done(error),
        );
      },
    });
  }

  /**
   * A small answer's bytes (the service asks for at most 64 KiB), read with synchronous calls: a read
   * from the page cache takes microseconds, while each asynchronous call's trip through libuv's
   * thread pool (a worker woken, the result handed back) cost more than the read itself here: a
   * 1 KB download took about 0.3 ms less. The price is that a read from a cold disk holds the event
   * loop for that one small read.
   */
  async read(key: string, range: ByteRange): Promise<Buffer | undefined> {
    let fd: number;
    try {
      fd = openSync(this.file(key), "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    try {
      const bytes = Buffer.allocUnsafe(range.end - range.start + 1);
      const bytesRead = readSync(fd, bytes, 0, bytes.length, range.start);
      return bytes.subarray(0, bytesRead);
    } finally {
      closeSync(fd);
    }
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    try {
      return { size: (await stat(this.file(key))).size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((k) => unlink(this.file(k)).catch(ignoreMissing)));
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    const source = this.file(fromKey);
    await this.viaTemp(this.file(toKey), (tmp) => copyFile(source, tmp, constants.COPYFILE_EXCL));
  }

  async *list(): AsyncIterable<{ key: string; modified: Date }> {
    for (const bucket of await readdir(this.objectsDir).catch(emptyIfMissing)) {
      for (const version of await readdir(path.join(this.objectsDir, bucket)).catch(emptyIfMissing)) {
        const key = `${bucket}/${version}`;
        if (!isKey(key)) continue; // not ours: never touched
        const info = await stat(path.join(this.objectsDir, bucket, version)).catch(() => undefined);
        if (info?.isFile()) yield { key, modified: info.mtime };
      }
    }
  }

  async removeStaleTemp(before: Date): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.tmpDir).catch(emptyIfMissing)) {
      if (!name.endsWith(".part")) continue;
      const file = path.join(this.tmpDir, name);
      const info = await stat(file).catch(() => undefined);
      if (!info || info.mtime >= before) continue; // an upload still in flight
      await unlink(file).catch(ignoreMissing);
      removed++;
    }
    return removed;
  }

  /** Writes through a fresh temporary file, fsyncs it, renames it to `target`, fsyncs the folder. */
  private async viaTemp<T>(target: string, write: (tmp: string) => Promise<T>): Promise<T> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.tmpDir, `${randomUUID()}.part`);
    try {
      const result = await write(tmp);
      await fsync(tmp);
      await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await rename(tmp, target);
      await fsync(path.dirname(target));
      return result;
    } catch (e) {
      await unlink(tmp).catch(ignoreMissing);
      throw e;
    }
  }
}

async function fsync(file: string): Promise<void> {
  const handle = await open(file, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function emptyIfMissing(e: NodeJS.ErrnoException): string[] {
  if (e.code === "ENOENT") return [];
  throw e;
}

function ignoreMissing(e: NodeJS.ErrnoException): void {
  if (e.code !== "ENOENT") throw e;
}
