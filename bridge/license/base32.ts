/**
 * Base32 as RFC 4648 §6 spells it (alphabet A–Z 2–7), without padding, as keysat's `LIC1-` keys use
 * it: the portable codec's (device/license/lic1.ts), so the server and devices read a key alike.
 * Decoding is case-insensitive and strict: a character outside the alphabet, a length no byte string
 * encodes to, or non-zero trailing bits is refused (undefined here), so one key has one spelling.
 */
import { base32Decode as decodeStrict, Lic1FormatError } from '../../device/license/lic1.js';

export { base32Encode } from '../../device/license/lic1.js';

/** The bytes of an unpadded base32 string, or undefined when it is not one (RFC 4648 §6, §3.5 canonical). */
export function base32Decode(text: string): Uint8Array | undefined {
  try {
    return decodeStrict(text);
  } catch (err) {
    if (err instanceof Lic1FormatError) return undefined;
    throw err;
  }
}
