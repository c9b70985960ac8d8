import { storageErrors } from "./errors.ts";

/** Longest object name in UTF-8 bytes (S3's key limit); the bucket's policies may ask for less. */
export const MAX_NAME_BYTES = 1024;
const BUCKET_ID = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * An object name as stored: relative, '/'-separated, no empty, '.' or '..' segment, no NUL or other
 * control character, no backslash, at most MAX_NAME_BYTES. Any other Unicode (umlauts, CJK) is
 * accepted and kept as sent, in NFC: Supabase refuses it, a known complaint. Files on disk are named by
 * version, never by this name, so it cannot reach outside the storage folder either way.
 */
export function objectName(raw: string | undefined): string {
  if (raw === undefined || raw === "") throw storageErrors.invalidKey("the object name is empty");
  const name = raw.normalize("NFC");
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) {
    throw storageErrors.invalidKey(`the object name is longer than ${MAX_NAME_BYTES} bytes`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(name)) {
    throw storageErrors.invalidKey("the object name holds a control character or a backslash");
  }
  for (const segment of name.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw storageErrors.invalidKey(
        "the object name has an empty, '.' or '..' segment (or starts with '/')",
      );
    }
  }
  return name;
}

export function bucketId(raw: string | undefined): string {
  if (raw === undefined || !BUCKET_ID.test(raw)) throw storageErrors.noSuchBucket();
  return raw;
}

/** The MIME type without parameters, lower case: `audio/webm;codecs=opus` -> `audio/webm`. */
export function baseMimeType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** Whether a bucket's allowed list (NULL = any; entries may end in `/*`) admits the type. */
export function mimeAllowed(mime: string, allowed: readonly string[] | null): boolean {
  if (allowed === null || allowed.length === 0) return true;
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(mime)) return false;
  return allowed.some((a) => {
    const rule = a.toLowerCase();
    return rule.endsWith("/*") ? mime.startsWith(rule.slice(0, -1)) : rule === mime;
  });
}
