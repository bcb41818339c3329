/**
 * The portable `LIC1-` license codec: decodes keysat-format keys (versions 1 and 2), verifies them
 * with only the issuer's public key, and checks product, expiry and fingerprint offline. Pure
 * TypeScript on `@noble/ed25519` and `@noble/hashes`, so the device daemon and browsers can use it;
 * it imports nothing from the bridge. The bridge signs and verifies the same format with
 * `node:crypto` (`bridge/license/keys.ts`); a test holds the two to the same answers.
 *
 * Key format (keysat key format v1/v2): `LIC1-<base32 payload>-<base32 signature>`, base32 per
 * RFC 4648 §6 without padding, decoded case-insensitively; the signature is plain Ed25519 (RFC 8032)
 * over the raw payload bytes.
 *
 *   v1 (74 bytes):  version=1 · flags · product uuid (16) · license uuid (16) · issued_at u64 BE ·
 *                   fingerprint sha256 or zeros (32)
 *   v2 (83+ bytes): version=2 · flags · product uuid · license uuid · issued_at u64 BE ·
 *                   expires_at u64 BE (0 = perpetual) · fingerprint hash (32) · entitlement count ·
 *                   per entitlement: length byte + bytes
 *   flags: bit 0 fingerprint-bound, bit 1 trial.
 */
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';

// @noble/ed25519 v3 needs a sync SHA-512 for `verify` (its async variant uses WebCrypto).
ed.hashes.sha512 = sha512;

export const LIC1_PREFIX = 'LIC1';
export const FLAG_FINGERPRINT_BOUND = 0b01;
export const FLAG_TRIAL = 0b10;
const V1_LENGTH = 74;
const V2_HEADER_LENGTH = 83;
const SIGNATURE_LENGTH = 64;
/** The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): 12 bytes, then the 32-byte key. */
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
/** Longest key string looked at, as the server (and the MQTT request) allow. */
const MAX_KEY_CHARS = 4096;

export interface Lic1License {
  version: 1 | 2;
  flags: number;
  productUuid: string;
  licenseUuid: string;
  /** Unix seconds. */
  issuedAt: number;
  /** Unix seconds; 0 = perpetual (always 0 for v1). */
  expiresAt: number;
  isFingerprintBound: boolean;
  isTrial: boolean;
  /** sha256 of the bound fingerprint's UTF-8 bytes, or 64 zeros. */
  fingerprintHashHex: string;
  /** Always empty for v1. */
  entitlements: string[];
}

export interface DecodedLic1 {
  license: Lic1License;
  /** The signed bytes. */
  payload: Uint8Array;
  signature: Uint8Array;
}

/** The reasons the offline check can give: a subset of the server's `/v1/validate` reasons. */
export type OfflineReason = 'bad_format' | 'bad_signature' | 'expired' | 'product_mismatch' | 'fingerprint_mismatch';

export type OfflineResult = { ok: true; license: Lic1License } | { ok: false; reason: OfflineReason; message: string };

export interface OfflineCheck {
  /** The product UUID this software is (omit to accept any product of the issuer). */
  productUuid?: string | undefined;
  /** This installation's fingerprint (the raw string; its sha256 is what a bound key carries). A bound key without one is a mismatch. */
  fingerprint?: string | undefined;
  /** Unix seconds; defaults to now. */
  now?: number | undefined;
}

export class Lic1FormatError extends Error {
  readonly reason = 'bad_format';
}

// ------------------------------------------------------------------ base32 (RFC 4648 §6, no padding)

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) {
  DECODE[ALPHABET.charCodeAt(i)] = i;
  DECODE[ALPHABET.toLowerCase().charCodeAt(i)] = i;
}

/**
 * Decodes unpadded base32, either case, strictly as the server does: a length no byte string encodes
 * to (RFC 4648 §6: a final quantum of 1, 3 or 6 characters) or non-zero pad bits (§3.5) is refused,
 * so one key has one spelling.
 */
export function base32Decode(text: string): Uint8Array {
  const rest = text.length % 8;
  if (rest === 1 || rest === 3 || rest === 6) throw new Lic1FormatError('a base32 length no byte string encodes to');
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? (DECODE[code] as number) : -1;
    if (value < 0) throw new Lic1FormatError(`invalid base32 character at ${i}`);
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (buffer >> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) throw new Lic1FormatError('non-zero base32 pad bits');
  return out.subarray(0, n);
}

/** Encodes bytes as uppercase unpadded base32. */
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

// ------------------------------------------------------------------ decoding

/** Splits and decodes a key without verifying it; throws Lic1FormatError on anything malformed. */
export function decodeLic1(key: string): DecodedLic1 {
  if (typeof key !== 'string') throw new Lic1FormatError('the key is not a string');
  const text = key.trim();
  if (text.length > MAX_KEY_CHARS) throw new Lic1FormatError('the key is too long');
  const parts = text.split('-');
  // The prefix, like the base32, is read case-insensitively.
  if (parts.length !== 3 || parts[0]?.toUpperCase() !== LIC1_PREFIX) throw new Lic1FormatError('expected LIC1-<payload>-<signature>');
  const payload = base32Decode(parts[1] as string);
  const signature = base32Decode(parts[2] as string);
  if (signature.length !== SIGNATURE_LENGTH) throw new Lic1FormatError(`the signature is ${signature.length} bytes, not ${SIGNATURE_LENGTH}`);
  return { license: decodePayload(payload), payload, signature };
}

/** The fields of a v1 or v2 payload (keysat key format v1/v2). */
export function decodePayload(p: Uint8Array): Lic1License {
  const version = p[0];
  if (version === 1) {
    // keysat key format v1: fixed 74 bytes.
    if (p.length !== V1_LENGTH) throw new Lic1FormatError(`a v1 payload is ${V1_LENGTH} bytes, not ${p.length}`);
    return fields(1, p, 0, p.subarray(42, 74), []);
  }
  if (version === 2) {
    // keysat key format v2: 83-byte header, then the entitlements.
    if (p.length < V2_HEADER_LENGTH) throw new Lic1FormatError(`a v2 payload is at least ${V2_HEADER_LENGTH} bytes, not ${p.length}`);
    const count = p[82] as number;
    const entitlements: string[] = [];
    let at = V2_HEADER_LENGTH;
    for (let i = 0; i < count; i++) {
      const length = p[at];
      if (length === undefined || at + 1 + length > p.length) throw new Lic1FormatError('the entitlement list is truncated');
      const bytes = p.subarray(at + 1, at + 1 + length);
      // keysat key format v2: each entitlement is 1–255 bytes of printable ASCII.
      if (length === 0 || bytes.some((b) => b < 0x20 || b > 0x7e)) throw new Lic1FormatError('an entitlement is not 1-255 printable ASCII characters');
      entitlements.push(String.fromCharCode(...bytes));
      at += 1 + length;
    }
    if (at !== p.length) throw new Lic1FormatError('bytes after the entitlement list');
    return fields(2, p, readU64(p, 42), p.subarray(50, 82), entitlements);
  }
  throw new Lic1FormatError(version === undefined ? 'the payload is empty' : `unknown key format version ${version}`);
}

function fields(version: 1 | 2, p: Uint8Array, expiresAt: number, fingerprint: Uint8Array, entitlements: string[]): Lic1License {
  const flags = p[1] as number;
  return {
    version,
    flags,
    productUuid: uuid(p.subarray(2, 18)),
    licenseUuid: uuid(p.subarray(18, 34)),
    issuedAt: readU64(p, 34),
    expiresAt,
    isFingerprintBound: (flags & FLAG_FINGERPRINT_BOUND) !== 0,
    isTrial: (flags & FLAG_TRIAL) !== 0,
    fingerprintHashHex: hex(fingerprint),
    entitlements,
  };
}

/** u64 big-endian, as a number (as the server reads it: exact below 2^53, the year 285 million). */
function readU64(p: Uint8Array, at: number): number {
  return Number(new DataView(p.buffer, p.byteOffset + at, 8).getBigUint64(0, false));
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

function uuid(bytes: Uint8Array): string {
  const h = hex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ------------------------------------------------------------------ keys and verification

/** The raw 32-byte Ed25519 public key from PEM (SPKI, RFC 8410), base64 SPKI DER, or raw bytes. */
export function parsePublicKey(key: string | Uint8Array): Uint8Array {
  if (typeof key !== 'string') {
    if (key.length === 32) return Uint8Array.from(key);
    if (key.length === 44 && equal(key.subarray(0, 12), SPKI_PREFIX)) return Uint8Array.from(key.subarray(12));
    throw new Error('an Ed25519 public key is 32 raw bytes or a 44-byte SPKI');
  }
  const base64 = key.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new Error('not a PEM public key');
  const der = base64Bytes(base64);
  if (der.length !== 44 || !equal(der.subarray(0, 12), SPKI_PREFIX)) throw new Error('not an Ed25519 SubjectPublicKeyInfo');
  return der.subarray(12);
}

/** The PEM (SPKI) form of a raw 32-byte Ed25519 public key. */
export function publicKeyPem(raw: Uint8Array): string {
  const der = new Uint8Array(44);
  der.set(SPKI_PREFIX, 0);
  der.set(raw, 12);
  const b64 = bytesBase64(der);
  return `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`;
}

/** Decodes and verifies the signature: the license, or why not (`bad_format` | `bad_signature`). */
export function verifyLic1(
  key: string,
  publicKey: string | Uint8Array,
): { ok: true; license: Lic1License } | { ok: false; reason: 'bad_format' | 'bad_signature'; message: string } {
  let decoded: DecodedLic1;
  try {
    decoded = decodeLic1(key);
  } catch (err) {
    return { ok: false, reason: 'bad_format', message: (err as Error).message };
  }
  const raw = typeof publicKey === 'string' || publicKey.length !== 32 ? parsePublicKey(publicKey) : publicKey;
  let valid = false;
  try {
    // RFC 8032 verification (not ZIP-215), as OpenSSL behind node:crypto does it.
    valid = ed.verify(decoded.signature, decoded.payload, raw, { zip215: false });
  } catch {
    valid = false;
  }
  return valid ? { ok: true, license: decoded.license } : { ok: false, reason: 'bad_signature', message: 'the signature does not verify with this public key' };
}

/** sha256 of a fingerprint's UTF-8 bytes, hex: what a fingerprint-bound key carries. */
export function fingerprintHash(fingerprint: string): string {
  return hex(sha256(new TextEncoder().encode(fingerprint)));
}

/**
 * The offline check: signature, then expiry, product and fingerprint, in the server's order. It
 * knows nothing of revocation, suspension or seats (only the server does); for those, ask the server.
 */
export function checkLic1Offline(key: string, publicKey: string | Uint8Array, check: OfflineCheck = {}): OfflineResult {
  const verified = verifyLic1(key, publicKey);
  if (!verified.ok) return verified;
  const { license } = verified;
  const now = check.now ?? Math.floor(Date.now() / 1000);
  // keysat: expired at or after expires_at; 0 never expires.
  if (license.expiresAt !== 0 && now >= license.expiresAt) return { ok: false, reason: 'expired', message: 'the license has expired' };
  if (check.productUuid !== undefined && check.productUuid.toLowerCase() !== license.productUuid) {
    return { ok: false, reason: 'product_mismatch', message: 'the license is for another product' };
  }
  if (license.isFingerprintBound && (check.fingerprint === undefined || fingerprintHash(check.fingerprint) !== license.fingerprintHashHex)) {
    return { ok: false, reason: 'fingerprint_mismatch', message: 'the license is bound to another machine' };
  }
  return { ok: true, license };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64Bytes(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let n = 0;
  for (const ch of clean) {
    buffer = ((buffer << 6) | B64.indexOf(ch)) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (buffer >> bits) & 0xff;
    }
  }
  return out;
}

function bytesBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b, c] = [bytes[i] as number, bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + (b === undefined ? '=' : B64[(n >> 6) & 63]!) + (c === undefined ? '=' : B64[n & 63]!);
  }
  return out;
}
