/**
 * The portable `LIC1-` key codec for the device (keysat key formats 1 and 2), verified offline with
 * the license server's Ed25519 public key on @noble/ed25519 (pure JavaScript: nothing to compile on
 * a Pi). Byte-compatible with the bridge's codec.
 *
 * `LIC1-<base32 payload>-<base32 signature>` (RFC 4648 alphabet, unpadded, decoded case-insensitively);
 * the signature is plain Ed25519 over the raw payload bytes.
 * - v1 payload, 74 bytes: version 1 · flags · product UUID (16) · license UUID (16) · issued_at u64 BE
 *   seconds · sha256(fingerprint) or zeros (32).
 * - v2: an 83-byte header, as v1 but expires_at u64 BE at 42 (0 = perpetual), the fingerprint hash at
 *   50–81 and an entitlement count at 82; then per entitlement a length byte and ASCII.
 * Flags: bit 0 fingerprint-bound, bit 1 trial.
 */
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';

// @noble/ed25519 needs a sync SHA-512 for its sync API.
ed.hashes.sha512 = sha512;

export const KEY_PREFIX = 'LIC1-';
export const FLAG_FINGERPRINT = 0x01;
export const FLAG_TRIAL = 0x02;
export const MAX_KEY_LENGTH = 4096;
/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410). */
const SPKI_PREFIX = '302a300506032b6570032100';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface LicensePayload {
  version: 1 | 2;
  flags: number;
  productUuid: string;
  licenseUuid: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  /** Seconds since the epoch; 0 = perpetual (always 0 in v1). */
  expiresAt: number;
  fingerprintHash: Uint8Array;
  entitlements: string[];
}

/** RFC 4648 base32, unpadded. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** RFC 4648 base32 without padding, case-insensitive; undefined when it is not. */
export function base32Decode(text: string): Uint8Array | undefined {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of text.toUpperCase()) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) return undefined;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const uuidText = (b: Uint8Array) => {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export function encodePayload(p: LicensePayload): Uint8Array {
  const uuid = (u: string) => Buffer.from(u.replaceAll('-', ''), 'hex');
  const head = Buffer.alloc(p.version === 1 ? 74 : 83);
  head[0] = p.version;
  head[1] = p.flags;
  uuid(p.productUuid).copy(head, 2);
  uuid(p.licenseUuid).copy(head, 18);
  head.writeBigUInt64BE(BigInt(p.issuedAt), 34);
  if (p.version === 1) {
    Buffer.from(p.fingerprintHash).copy(head, 42);
    return head;
  }
  head.writeBigUInt64BE(BigInt(p.expiresAt), 42);
  Buffer.from(p.fingerprintHash).copy(head, 50);
  head[82] = p.entitlements.length;
  return Buffer.concat([head, ...p.entitlements.map((e) => Buffer.concat([Buffer.from([e.length]), Buffer.from(e, 'ascii')]))]);
}

export function decodePayload(raw: Uint8Array): LicensePayload | undefined {
  const b = Buffer.from(raw);
  const version = b[0];
  if (version === 1 && b.length === 74) {
    return {
      version: 1,
      flags: b[1]!,
      productUuid: uuidText(b.subarray(2, 18)),
      licenseUuid: uuidText(b.subarray(18, 34)),
      issuedAt: Number(b.readBigUInt64BE(34)),
      expiresAt: 0,
      fingerprintHash: new Uint8Array(b.subarray(42, 74)),
      entitlements: [],
    };
  }
  if (version !== 2 || b.length < 83) return undefined;
  const entitlements: string[] = [];
  let at = 83;
  for (let i = 0; i < b[82]!; i++) {
    const len = b[at];
    if (len === undefined || len === 0 || at + 1 + len > b.length) return undefined;
    const text = b.subarray(at + 1, at + 1 + len).toString('latin1');
    if (!/^[\x20-\x7e]+$/.test(text)) return undefined;
    entitlements.push(text);
    at += 1 + len;
  }
  if (at !== b.length) return undefined;
  return {
    version: 2,
    flags: b[1]!,
    productUuid: uuidText(b.subarray(2, 18)),
    licenseUuid: uuidText(b.subarray(18, 34)),
    issuedAt: Number(b.readBigUInt64BE(34)),
    expiresAt: Number(b.readBigUInt64BE(42)),
    fingerprintHash: new Uint8Array(b.subarray(50, 82)),
    entitlements,
  };
}

export interface DecodedKey {
  payload: LicensePayload;
  raw: Uint8Array;
  signature: Uint8Array;
}

export function decodeKey(key: string): DecodedKey | undefined {
  const text = key.trim();
  if (text.length > MAX_KEY_LENGTH || text.slice(0, KEY_PREFIX.length).toUpperCase() !== KEY_PREFIX) return undefined;
  const parts = text.slice(KEY_PREFIX.length).split('-');
  if (parts.length !== 2) return undefined;
  const raw = base32Decode(parts[0]!);
  const signature = base32Decode(parts[1]!);
  if (!raw || !signature || signature.length !== 64) return undefined;
  const payload = decodePayload(raw);
  return payload ? { payload, raw, signature } : undefined;
}

export function formatKey(raw: Uint8Array, signature: Uint8Array): string {
  return `${KEY_PREFIX}${base32Encode(raw)}-${base32Encode(signature)}`;
}

/** The 32 raw bytes of an Ed25519 public key given as PEM (SPKI) or as 64 hex digits. */
export function publicKeyBytes(text: string): Uint8Array {
  const t = text.trim();
  if (/^[0-9a-f]{64}$/i.test(t)) return Uint8Array.from(Buffer.from(t, 'hex'));
  const b64 = t.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(b64, 'base64').toString('hex');
  if (der.length !== 88 || !der.startsWith(SPKI_PREFIX)) throw new Error('not an Ed25519 public key (PEM SPKI or 64 hex digits)');
  return Uint8Array.from(Buffer.from(der.slice(SPKI_PREFIX.length), 'hex'));
}

export type OfflineReason = 'bad_format' | 'bad_signature' | 'expired' | 'product_mismatch' | 'fingerprint_mismatch';

/**
 * The offline check: well-formed, signed by the key, not expired, for this product, bound (when it
 * is) to this fingerprint. Revocation needs the server (`…/license/request`).
 */
export function verifyKey(
  key: string,
  publicKey: Uint8Array,
  expect: { productUuid?: string | undefined; fingerprint?: string | undefined; now?: number } = {},
): { ok: true; payload: LicensePayload } | { ok: false; reason: OfflineReason } {
  const decoded = decodeKey(key);
  if (!decoded) return { ok: false, reason: 'bad_format' };
  let valid = false;
  try {
    valid = ed.verify(decoded.signature, decoded.raw, publicKey);
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'bad_signature' };
  const p = decoded.payload;
  const now = Math.floor((expect.now ?? Date.now()) / 1000);
  if (p.expiresAt !== 0 && p.expiresAt <= now) return { ok: false, reason: 'expired' };
  if (expect.productUuid !== undefined && expect.productUuid.toLowerCase() !== p.productUuid) return { ok: false, reason: 'product_mismatch' };
  if ((p.flags & FLAG_FINGERPRINT) !== 0) {
    if (expect.fingerprint === undefined || hex(sha256(new TextEncoder().encode(expect.fingerprint))) !== hex(p.fingerprintHash)) {
      return { ok: false, reason: 'fingerprint_mismatch' };
    }
  }
  return { ok: true, payload: p };
}
