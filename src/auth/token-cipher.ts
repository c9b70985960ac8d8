import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { VpbError } from "../errors.ts";

/**
 * Column-level encryption of the OAuth tokens in `accounts`: AES-256-GCM in the application, so the
 * database (and any dump or backup of it) holds only ciphertext and never the key.
 *
 * Envelope: `v1.<key id>.<iv, base64url>.<body, base64url>`. The key id names the key of the ring
 * that encrypted it, so keys rotate without downtime: add a new key first in the ring, run
 * `vpb-db keys rotate` (re-encrypts every token under the new key), then drop the old key.
 * The additional data (AAD) binds each ciphertext to its row and column: a token copied into another
 * row or column does not decrypt.
 *
 * Two AAD formats. Format 1 joined the parts with `:`, which is ambiguous (provider `a:b` with account
 * `c` and provider `a` with account `b:c` gave the same AAD). Format 2 is the JSON array of the parts,
 * and its body starts with the marker `AADjson2`. The marker is in the body rather than the `v1.`
 * prefix because the accounts_tokens_encrypted CHECK (migration 004) accepts only `v1.` envelopes; a
 * body is any base64url text, and 8 marker characters are exactly 6 bytes, so format 1 bodies start
 * with them only by chance (2^-48), and decryption then still falls back to format 1.
 * New tokens are format 2; format 1 tokens still decrypt, and `keys rotate` rewrites them.
 */
export interface KeyRing {
  /** The key id new tokens are encrypted with: the first of VPB_TOKEN_KEYS. */
  current: string;
  keys: ReadonlyMap<string, Buffer>;
}

/** Where a token lives: the row (provider and account id) and column its ciphertext is bound to. */
export interface TokenSlot {
  column: string;
  provider: string;
  providerAccountId: string;
}

export const ENVELOPE = /^v1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;
/** The first characters of a format 2 body. */
export const FORMAT2_MARK = "AADjson2";
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * A key's text must decode to bytes that encode back to the same text (base64 padded, or base64url
 * unpadded): Buffer.from alone skips stray characters and would accept a mangled key.
 */
function decodeKey(text: string): Buffer | undefined {
  for (const encoding of ["base64", "base64url"] as const) {
    const key = Buffer.from(text, encoding);
    if (key.toString(encoding) === text) return key;
  }
  return undefined;
}

/**
 * Parses `kid:base64key[,kid:base64key...]` (32-byte keys, the first is current). Problems are
 * listed without ever echoing key material.
 */
export function parseKeyRing(text: string): { ring?: KeyRing; problems: string[] } {
  const problems: string[] = [];
  const keys = new Map<string, Buffer>();
  const entries = text
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) problems.push("VPB_TOKEN_KEYS has no key");
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(":");
    const kid = colon === -1 ? "" : entry.slice(0, colon);
    const key = decodeKey(colon === -1 ? "" : entry.slice(colon + 1));
    if (!KEY_ID.test(kid))
      problems.push(`VPB_TOKEN_KEYS entry ${i + 1} needs an id of letters, digits, _ or - before ':'`);
    else if (keys.has(kid)) problems.push(`VPB_TOKEN_KEYS names the key id "${kid}" twice`);
    else if (key === undefined)
      problems.push(`VPB_TOKEN_KEYS key "${kid}" is not valid base64 (a character is not in the alphabet)`);
    else if (key.length !== 32) problems.push(`VPB_TOKEN_KEYS key "${kid}" is not 32 bytes of base64`);
    else keys.set(kid, key);
  });
  const current = entries[0]?.split(":")[0] ?? "";
  return problems.length === 0 ? { ring: { current, keys }, problems } : { problems };
}

/**
 * A new key line for VPB_TOKEN_KEYS: `k20261125-3f9a0c1d2e4b:<base64 key>`. The date says when it was
 * made; the 48 random bits keep two keys of one day apart (a rotation right after a leak). The id
 * stays within KEY_ID and the envelope's CHECK (migration 004): letters, digits, _ and -, 32 at most.
 */
export function generateKey(now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, "");
  return `k${day}-${randomBytes(6).toString("hex")}:${randomBytes(32).toString("base64")}`;
}

/**
 * The key ring an adapter is given, checked before any token is written: a missing ring would let
 * createUser succeed and linkAccount fail later (a half-done sign-up).
 */
export function requireKeyRing(keys: KeyRing | string | undefined | null): KeyRing {
  if (keys === undefined || keys === null || (typeof keys === "string" && keys.trim() === "")) {
    throw new VpbError(
      "TOKEN_KEYS_MISSING",
      "The adapter was given no token keys (tokenKeys is empty or unset).",
      "Run `vpb-db keys generate`, store its line in VPB_TOKEN_KEYS and pass it as tokenKeys.",
    );
  }
  const invalid = (why: string) =>
    new VpbError(
      "TOKEN_KEYS_INVALID",
      `The adapter's token keys are malformed: ${why}`,
      "Use lines from `vpb-db keys generate`: `id:base64key[,id:base64key…]`, 32-byte keys, the first encrypts.",
    );
  if (typeof keys === "string") {
    const parsed = parseKeyRing(keys);
    if (!parsed.ring) throw invalid(parsed.problems.join("; "));
    return parsed.ring;
  }
  if (typeof keys !== "object" || !(keys.keys instanceof Map) || typeof keys.current !== "string")
    throw invalid("tokenKeys must be VPB_TOKEN_KEYS' text or a KeyRing");
  if (!KEY_ID.test(keys.current) || !keys.keys.has(keys.current))
    throw invalid("the ring's current key id names none of its keys");
  for (const [kid, key] of keys.keys) {
    if (!KEY_ID.test(kid) || !Buffer.isBuffer(key) || key.length !== 32)
      throw invalid(`the key "${KEY_ID.test(kid) ? kid : "?"}" is not a 32-byte Buffer with a valid id`);
  }
  return keys;
}

/** The slot of one token: its column and its account's identity. */
export function tokenAad(column: string, provider: string, providerAccountId: string): TokenSlot {
  return { column, provider, providerAccountId };
}

function aadBytes(slot: TokenSlot, format: 1 | 2): Buffer {
  const text =
    format === 2
      ? JSON.stringify(["accounts", slot.column, slot.provider, slot.providerAccountId])
      : `accounts.${slot.column}:${slot.provider}:${slot.providerAccountId}`;
  return Buffer.from(text, "utf8");
}

export function encryptToken(ring: KeyRing, plaintext: string, slot: TokenSlot): string {
  const key = ring.keys.get(ring.current) as Buffer;
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aadBytes(slot, 2));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `v1.${ring.current}.${iv.toString("base64url")}.${FORMAT2_MARK}${body.toString("base64url")}`;
}

/** The key id an envelope was encrypted with, or undefined when it is not an envelope. */
export function envelopeKeyId(envelope: string): string | undefined {
  return ENVELOPE.exec(envelope)?.[1];
}

/** True when the envelope is what encryptToken writes today: the ring's current key, format 2. */
export function isCurrentEnvelope(ring: KeyRing, envelope: string): boolean {
  const m = ENVELOPE.exec(envelope);
  return m?.[1] === ring.current && (m[3] as string).startsWith(FORMAT2_MARK);
}

function open(key: Buffer, iv: string, data: Buffer, aad: Buffer): string | undefined {
  if (data.length < 16) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
    decipher.setAAD(aad);
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    return undefined; // authentication failed: the caller tells which error
  }
}

export function decryptToken(ring: KeyRing, envelope: string, slot: TokenSlot): string {
  const m = ENVELOPE.exec(envelope);
  if (!m) {
    throw new VpbError(
      "TOKEN_DECRYPT_FAILED",
      "A stored token is not an encryption envelope.",
      "Store tokens through the adapter, which encrypts them.",
    );
  }
  const [, kid, iv, body] = m as unknown as [string, string, string, string];
  const key = ring.keys.get(kid);
  if (!key) {
    throw new VpbError(
      "TOKEN_KEY_UNKNOWN",
      `A stored token was encrypted with the key "${kid}", which VPB_TOKEN_KEYS does not hold.`,
      "Put the key back in VPB_TOKEN_KEYS (after the current one) and run `vpb-db keys rotate` before removing it.",
    );
  }
  const plaintext =
    (body.startsWith(FORMAT2_MARK)
      ? open(key, iv, Buffer.from(body.slice(FORMAT2_MARK.length), "base64url"), aadBytes(slot, 2))
      : undefined) ?? open(key, iv, Buffer.from(body, "base64url"), aadBytes(slot, 1));
  if (plaintext === undefined) {
    throw new VpbError(
      "TOKEN_DECRYPT_FAILED",
      "A stored token failed authentication: it was altered, or copied from another row or column.",
      "Treat the account's tokens as lost: the user signs in with the provider again.",
    );
  }
  return plaintext;
}
