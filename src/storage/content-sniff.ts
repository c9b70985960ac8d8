import { Transform } from "node:stream";
import { fileTypeFromBuffer } from "file-type";
import { storageErrors } from "./errors.ts";

/** As many leading bytes as file-type needs to recognise any format it knows. */
const SAMPLE_BYTES = 4100;

/**
 * What file-type may call the bytes of each declared audio type (its `ext`): the header alone is the
 * client's word, so a `.mp3` that is really an executable, or MP3 bytes sent as audio/webm, is refused.
 */
const CONTENT_OF: Record<string, readonly string[]> = {
  "audio/mpeg": ["mp3", "mp2", "mp1"],
  "audio/mp3": ["mp3", "mp2", "mp1"],
  "audio/wav": ["wav"],
  "audio/x-wav": ["wav"],
  "audio/wave": ["wav"],
  "audio/webm": ["webm"],
  "audio/ogg": ["ogg", "opus", "oga", "spx", "ogx"],
  "audio/mp4": ["m4a", "mp4", "m4b"],
  "audio/x-m4a": ["m4a", "mp4", "m4b"],
  "audio/m4a": ["m4a", "mp4", "m4b"],
  "audio/aac": ["aac", "m4a", "mp4"],
  "audio/x-aac": ["aac", "m4a", "mp4"],
};

/** Whether sniffed content (undefined: not recognised) may be stored as `declared` (a base MIME type). */
export function contentMatches(declared: string, found: { ext: string; mime: string } | undefined): boolean {
  if (!found) return false;
  const known = CONTENT_OF[declared];
  return known ? known.includes(found.ext) : found.mime.split(";")[0]?.trim() === declared;
}

/**
 * A pass-through that holds the first bytes until file-type has judged them against the declared type,
 * then lets everything through; on a mismatch it fails the stream with InvalidMimeType, so the driver
 * removes what it wrote and no row is made.
 */
export function contentCheck(declared: string): Transform {
  const head: Buffer[] = [];
  let held = 0;
  let judged = false;
  const judge = async (stream: Transform): Promise<void> => {
    judged = true;
    const sample = Buffer.concat(head);
    head.length = 0;
    if (!contentMatches(declared, await fileTypeFromBuffer(sample.subarray(0, SAMPLE_BYTES)))) {
      throw storageErrors.contentMismatch(declared);
    }
    stream.push(sample);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (judged) return done(null, chunk);
      head.push(chunk);
      held += chunk.length;
      if (held < SAMPLE_BYTES) return done();
      judge(this).then(() => done(), done);
    },
    flush(done) {
      if (judged) return done();
      judge(this).then(() => done(), done);
    },
  });
}
