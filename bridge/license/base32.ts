/**
 * Base32 as RFC 4648 §6 spells it (alphabet A–Z 2–7), without padding, as keysat's `LIC1-` keys use
 * it. Decoding is case-insensitive and strict: a character outside the alphabet, a length no byte
 * string encodes to, or non-zero trailing bits is refused (undefined), so one key has one spelling.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) {
  VALUES[ALPHABET.charCodeAt(i)] = i;
  VALUES[ALPHABET.toLowerCase().charCodeAt(i)] = i;
}

export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The bytes of an unpadded base32 string, or undefined when it is not one (RFC 4648 §6, §3.5 canonical). */
export function base32Decode(text: string): Uint8Array | undefined {
  // RFC 4648 §6: the final quantum is 2, 4, 5 or 7 characters (8, 16, 24 or 32 bits); 1, 3 or 6 encode nothing.
  const rest = text.length % 8;
  if (rest === 1 || rest === 3 || rest === 6) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? (VALUES[code] as number) : -1;
    if (value < 0) return undefined;
    buffer = ((buffer << 5) | value) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (buffer >> bits) & 0xff;
    }
  }
  // RFC 4648 §3.5: the pad bits must be zero.
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
