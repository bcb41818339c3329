/**
 * `LIC1-` license keys, byte-compatible with keysat key formats 1 and 2, and their Ed25519 signing on
 * `node:crypto` (a cached KeyObject: the validate hot path verifies in ~150 µs).
 *
 * `LIC1-<base32 payload>-<base32 signature>` (RFC 4648, unpadded, case-insensitive); the signature is
 * plain Ed25519 over the raw payload bytes.
 * - v1 payload, 74 bytes: version 1 · flags · product UUID (16) · license UUID (16) · issued_at u64 BE
 *   seconds · sha256(fingerprint) or zeros (32).
 * - v2: an 83-byte header, as v1 but expires_at u64 BE at 42 (0 = perpetual), the fingerprint hash at
 *   50–81 and an entitlement count at 82; then per entitlement a length byte and ASCII.
 * Flags: bit 0 fingerprint-bound, bit 1 trial.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { base32Decode, base32Encode } from './base32.js';

export const KEY_PREFIX = 'LIC1-';
export const FLAG_FINGERPRINT = 0x01;
export const FLAG_TRIAL = 0x02;
const V1_LENGTH = 74;
const V2_HEADER = 83;
/** A key longer than this is refused before decoding (255 entitlements of 255 bytes fit well below). */
export const MAX_KEY_LENGTH = 4096;
const ZERO_HASH = new Uint8Array(32);

/** DER prefixes of an Ed25519 SubjectPublicKeyInfo and PKCS #8 private key (RFC 8410). */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Every field of a key, as its payload says. */
export interface LicensePayload {
  version: 1 | 2;
  flags: number;
  productUuid: string;
  licenseUuid: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  /** Seconds since the epoch; 0 = perpetual (always 0 in v1). */
  expiresAt: number;
  /** sha256 of the bound fingerprint, or 32 zero bytes. */
  fingerprintHash: Uint8Array;
  entitlements: string[];
}

export interface DecodedKey {
  payload: LicensePayload;
  /** The signed bytes and the signature, for `verify`. */
  raw: Uint8Array;
  signature: Uint8Array;
}

export const isFingerprintBound = (p: LicensePayload): boolean => (p.flags & FLAG_FINGERPRINT) !== 0;
export const isTrial = (p: LicensePayload): boolean => (p.flags & FLAG_TRIAL) !== 0;

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replaceAll('-', '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  return Buffer.from(hex, 'hex');
}

function uuidText(bytes: Uint8Array): string {
  const h = Buffer.from(bytes).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const ENTITLEMENT = /^[\x20-\x7e]{1,255}$/;

/** The payload bytes of `p` (keysat key format v1 or v2). */
export function encodePayload(p: LicensePayload): Uint8Array {
  if (p.fingerprintHash.length !== 32) throw new Error('fingerprint hash must be 32 bytes');
  if (p.version === 1) {
    if (p.expiresAt !== 0 || p.entitlements.length > 0) throw new Error('key format v1 carries no expiry or entitlements');
    const out = Buffer.alloc(V1_LENGTH);
    out[0] = 1;
    out[1] = p.flags;
    uuidBytes(p.productUuid).copy(out, 2);
    uuidBytes(p.licenseUuid).copy(out, 18);
    out.writeBigUInt64BE(BigInt(p.issuedAt), 34);
    out.set(p.fingerprintHash, 42);
    return out;
  }
  if (p.entitlements.length > 255) throw new Error('at most 255 entitlements');
  const header = Buffer.alloc(V2_HEADER);
  header[0] = 2;
  header[1] = p.flags;
  uuidBytes(p.productUuid).copy(header, 2);
  uuidBytes(p.licenseUuid).copy(header, 18);
  header.writeBigUInt64BE(BigInt(p.issuedAt), 34);
  header.writeBigUInt64BE(BigInt(p.expiresAt), 42);
  header.set(p.fingerprintHash, 50);
  header[82] = p.entitlements.length;
  const parts: Buffer[] = [header];
  for (const e of p.entitlements) {
    if (!ENTITLEMENT.test(e)) throw new Error(`entitlement must be 1-255 printable ASCII characters: ${JSON.stringify(e)}`);
    parts.push(Buffer.from([e.length]), Buffer.from(e, 'ascii'));
  }
  return Buffer.concat(parts);
}

/** The fields of payload bytes, or undefined when they are not a v1 or v2 payload. */
export function decodePayload(raw: Uint8Array): LicensePayload | undefined {
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const version = b[0];
  if (version === 1) {
    if (b.length !== V1_LENGTH) return undefined;
    return {
      version: 1,
      flags: b[1] as number,
      productUuid: uuidText(b.subarray(2, 18)),
      licenseUuid: uuidText(b.subarray(18, 34)),
      issuedAt: Number(b.readBigUInt64BE(34)),
      expiresAt: 0,
      fingerprintHash: new Uint8Array(b.subarray(42, 74)),
      entitlements: [],
    };
  }
  if (version !== 2 || b.length < V2_HEADER) return undefined;
  const count = b[82] as number;
  const entitlements: string[] = [];
  let at = V2_HEADER;
  for (let i = 0; i < count; i++) {
    const len = b[at];
    if (len === undefined || len === 0 || at + 1 + len > b.length) return undefined;
    const text = b.toString('latin1', at + 1, at + 1 + len);
    if (!ENTITLEMENT.test(text)) return undefined;
    entitlements.push(text);
    at += 1 + len;
  }
  if (at !== b.length) return undefined;
  return {
    version: 2,
    flags: b[1] as number,
    productUuid: uuidText(b.subarray(2, 18)),
    licenseUuid: uuidText(b.subarray(18, 34)),
    issuedAt: Number(b.readBigUInt64BE(34)),
    expiresAt: Number(b.readBigUInt64BE(42)),
    fingerprintHash: new Uint8Array(b.subarray(50, 82)),
    entitlements,
  };
}

/** Split and decode a key (no signature check), or undefined when it is not a well-formed `LIC1-` key. */
export function decodeKey(key: string): DecodedKey | undefined {
  const text = key.trim();
  if (text.length > MAX_KEY_LENGTH || text.length < KEY_PREFIX.length || text.slice(0, KEY_PREFIX.length).toUpperCase() !== KEY_PREFIX) return undefined;
  const parts = text.slice(KEY_PREFIX.length).split('-');
  if (parts.length !== 2) return undefined;
  const raw = base32Decode(parts[0] as string);
  const signature = base32Decode(parts[1] as string);
  if (!raw || !signature || signature.length !== 64) return undefined;
  const payload = decodePayload(raw);
  return payload ? { payload, raw, signature } : undefined;
}

export function formatKey(raw: Uint8Array, signature: Uint8Array): string {
  return `${KEY_PREFIX}${base32Encode(raw)}-${base32Encode(signature)}`;
}

/** A public key (32 raw bytes) as PEM SPKI: the 12-byte Ed25519 prefix plus the key (RFC 8410). */
export function publicKeyPem(raw: Uint8Array): string {
  const b64 = Buffer.concat([SPKI_PREFIX, raw]).toString('base64');
  return `-----BEGIN PUBLIC KEY-----\n${b64.match(/.{1,64}/g)?.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

/** A verifier over one public key, its KeyObject made once. */
export class KeyVerifier {
  readonly publicKey: KeyObject;

  constructor(publicKey: KeyObject | string) {
    this.publicKey = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    if (this.publicKey.asymmetricKeyType !== 'ed25519') throw new Error('the license signing key must be Ed25519');
  }

  verify(decoded: DecodedKey): boolean {
    return verify(null, decoded.raw, this.publicKey, decoded.signature);
  }

  /** Decode and verify a key: its payload, or why not. */
  check(key: string): { payload: LicensePayload } | { problem: 'bad_format' | 'bad_signature' } {
    const decoded = decodeKey(key);
    if (!decoded) return { problem: 'bad_format' };
    return this.verify(decoded) ? { payload: decoded.payload } : { problem: 'bad_signature' };
  }
}

/** The license signing key: makes and checks keys. Both KeyObjects are made once. */
export class LicenseSigner extends KeyVerifier {
  private readonly privateKey: KeyObject;
  /** The 32 raw bytes of the public key. */
  readonly publicKeyRaw: Uint8Array;
  readonly publicKeyPem: string;

  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey(privateKey);
    super(publicKey);
    this.privateKey = privateKey;
    this.publicKeyRaw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
    this.publicKeyPem = publicKeyPem(this.publicKeyRaw);
  }

  /** The 32-byte seed of a PKCS #8 Ed25519 private key in PEM (RFC 8410). */
  static seedFromPem(pem: string): Uint8Array {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 private key');
    const der = key.export({ format: 'der', type: 'pkcs8' });
    return new Uint8Array(der.subarray(der.length - 32));
  }

  /** The seed as PKCS #8 PEM, for the key file. */
  static pemFromSeed(seed: Uint8Array): string {
    return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
      .export({ format: 'pem', type: 'pkcs8' })
      .toString();
  }

  /** A signed `LIC1-` key for the payload. */
  issue(payload: LicensePayload): string {
    const raw = encodePayload(payload);
    return formatKey(raw, sign(null, raw, this.privateKey));
  }
}

export { ZERO_HASH };
