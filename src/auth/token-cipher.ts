import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { VpbError } from "../errors.ts";

/**
 * Column-level encryption of the OAuth tokens in `accounts`: AES-256-GCM in the application, so the
 * database (and any dump or backup of it) holds only ciphertext and never the key.
 *
 * Envelope: `v1.<key id>.<iv, base64url>.<ciphertext and tag, base64url>`. The key id names the key
 * of the ring that encrypted it, so keys rotate without downtime: add a new key first in the ring,
 * run `vpb-db keys rotate` (re-encrypts every token under the new key), then drop the old key.
 * The additional data binds each ciphertext to its row and column: a token copied into another
 * row or column does not decrypt.
 */
export interface KeyRing {
  /** The key id new tokens are encrypted with: the first of VPB_TOKEN_KEYS. */
  current: string;
  keys: ReadonlyMap<string, Buffer>;
}

export const ENVELOPE = /^v1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

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
    const key = Buffer.from(colon === -1 ? "" : entry.slice(colon + 1), "base64");
    if (!KEY_ID.test(kid))
      problems.push(`VPB_TOKEN_KEYS entry ${i + 1} needs an id of letters, digits, _ or - before ':'`);
    else if (keys.has(kid)) problems.push(`VPB_TOKEN_KEYS names the key id "${kid}" twice`);
    else if (key.length !== 32) problems.push(`VPB_TOKEN_KEYS key "${kid}" is not 32 bytes of base64`);
    else keys.set(kid, key);
  });
  const current = entries[0]?.split(":")[0] ?? "";
  return problems.length === 0 ? { ring: { current, keys }, problems } : { problems };
}

/** A new key line for VPB_TOKEN_KEYS, with a dated id: `k20261125:...`. */
export function generateKey(now = new Date()): string {
  return `k${now.toISOString().slice(0, 10).replace(/-/g, "")}:${randomBytes(32).toString("base64")}`;
}

/** The additional authenticated data of one token: its table, column and row identity. */
export function tokenAad(column: string, provider: string, providerAccountId: string): string {
  return `accounts.${column}:${provider}:${providerAccountId}`;
}

export function encryptToken(ring: KeyRing, plaintext: string, aad: string): string {
  const key = ring.keys.get(ring.current) as Buffer;
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `v1.${ring.current}.${iv.toString("base64url")}.${body.toString("base64url")}`;
}

/** The key id an envelope was encrypted with, or undefined when it is not an envelope. */
export function envelopeKeyId(envelope: string): string | undefined {
  return ENVELOPE.exec(envelope)?.[1];
}

export function decryptToken(ring: KeyRing, envelope: string, aad: string): string {
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
  const data = Buffer.from(body, "base64url");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString(
      "utf8",
    );
  } catch (cause) {
    throw new VpbError(
      "TOKEN_DECRYPT_FAILED",
      "A stored token failed authentication: it was altered, or copied from another row or column.",
      "Treat the account's tokens as lost: the user signs in with the provider again.",
      { cause },
    );
  }
}
