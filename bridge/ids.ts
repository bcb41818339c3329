/** Identifiers, API keys and their hashes. Keys are 256-bit random, so a fast hash is the right hash. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A 15-character lowercase alphanumeric id (PocketBase style, ~77 bits), safe in MQTT topics and URLs. */
export function newId(length = 15): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 252 = 7 * 36: drop the top bytes so every character is equally likely.
      if (byte < 252 && out.length < length) out += ALPHABET[byte % 36];
    }
  }
  return out;
}

export const API_KEY_PATTERN = /^lib_[0-9a-f]{64}$/;

export function newApiKey(): string {
  return `lib_${randomBytes(32).toString('hex')}`;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export function keyPrefix(key: string): string {
  return key.slice(0, 12);
}

/** Constant-time comparison of two hex digests of equal length. */
export function digestsEqual(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, 'hex');
  const b = Buffer.from(bHex, 'hex');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}
