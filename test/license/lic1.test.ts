/**
 * The portable LIC1 codec (device/license/lic1.ts) against keysat's published vectors: every key
 * decodes to every documented field and verifies with only the public key; tampering, a wrong key and
 * malformed strings are refused with the right reason; the offline check gives expiry, product and
 * fingerprint answers.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  base32Decode,
  base32Encode,
  checkLic1Offline,
  decodeLic1,
  fingerprintHash,
  parsePublicKey,
  publicKeyPem,
  verifyLic1,
} from '../../device/license/lic1.js';
import vectors from '../fixtures/keysat-license-vectors.json' with { type: 'json' };

const CASES = [
  ['v1', vectors.v1],
  ['v2', vectors.v2],
  ['v2_perpetual_unbound', vectors.v2_perpetual_unbound],
] as const;

/** Signs a payload with a fresh key (node:crypto) and returns the key string and PEM. */
function signed(payload: Uint8Array): { key: string; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signature = sign(null, payload, privateKey);
  return { key: `LIC1-${base32Encode(payload)}-${base32Encode(signature)}`, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function flip(text: string, index: number): string {
  const c = text[index] === 'A' ? 'B' : 'A';
  return text.slice(0, index) + c + text.slice(index + 1);
}

describe('keysat vectors', () => {
  for (const [name, vector] of CASES) {
    it(`${name}: decodes to every documented field`, () => {
      const { license } = decodeLic1(vector.licenseKey);
      const e = vector.expected;
      expect(license).toEqual({
        version: e.version,
        flags: e.flags,
        productUuid: e.productUuid,
        licenseUuid: e.licenseUuid,
        issuedAt: e.issuedAt,
        expiresAt: e.expiresAt,
        isFingerprintBound: e.isFingerprintBound,
        isTrial: e.isTrial,
        fingerprintHashHex: e.fingerprintHashHex,
        entitlements: e.entitlements,
      });
      if (e.fingerprintRaw !== null) expect(fingerprintHash(e.fingerprintRaw)).toBe(e.fingerprintHashHex);
    });

    it(`${name}: verifies with the PEM, with the raw key, and in lower case`, () => {
      const raw = parsePublicKey(vectors.publicKeyPem);
      expect(raw).toHaveLength(32);
      expect(publicKeyPem(raw)).toBe(vectors.publicKeyPem);
      expect(verifyLic1(vector.licenseKey, vectors.publicKeyPem).ok).toBe(true);
      expect(verifyLic1(vector.licenseKey, raw).ok).toBe(true);
      const [prefix, payload, signature] = vector.licenseKey.split('-') as [string, string, string];
      expect(verifyLic1(`${prefix}-${payload.toLowerCase()}-${signature.toLowerCase()}`, raw).ok).toBe(true);
      expect(verifyLic1(`  ${vector.licenseKey}\n`, raw).ok).toBe(true);
      expect(verifyLic1(`lic1-${payload}-${signature}`, raw).ok).toBe(true);
    });

    it(`${name}: a changed payload or signature character is bad_signature or bad_format, never ok`, () => {
      const [, payload] = vector.licenseKey.split('-') as [string, string, string];
      for (const index of [5, 10, 30, 5 + payload.length - 3, vector.licenseKey.length - 5, vector.licenseKey.length - 40]) {
        const result = verifyLic1(flip(vector.licenseKey, index), vectors.publicKeyPem);
        expect(result.ok, `index ${index}`).toBe(false);
      }
      // The issued_at field (payload bytes 34–41, base32 chars 55–65) is signed: changing it is bad_signature.
      expect(verifyLic1(flip(vector.licenseKey, 5 + 60), vectors.publicKeyPem)).toMatchObject({ ok: false, reason: 'bad_signature' });
    });

    it(`${name}: another issuer's public key is bad_signature`, () => {
      const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
      expect(verifyLic1(vector.licenseKey, other)).toMatchObject({ ok: false, reason: 'bad_signature' });
    });
  }

  it('offline: expiry at and after expires_at, never for perpetual keys', () => {
    const pem = vectors.publicKeyPem;
    const fingerprint = 'test-machine-fingerprint';
    expect(checkLic1Offline(vectors.v2.licenseKey, pem, { now: 1_899_999_999, fingerprint }).ok).toBe(true);
    expect(checkLic1Offline(vectors.v2.licenseKey, pem, { now: 1_900_000_000, fingerprint })).toMatchObject({ ok: false, reason: 'expired' });
    expect(checkLic1Offline(vectors.v2_perpetual_unbound.licenseKey, pem, { now: 4_000_000_000 }).ok).toBe(true);
    expect(checkLic1Offline(vectors.v1.licenseKey, pem, { now: 4_000_000_000, fingerprint }).ok).toBe(true);
  });

  it('offline: product and fingerprint', () => {
    const pem = vectors.publicKeyPem;
    const now = 1_800_000_000;
    const product = vectors.v2.expected.productUuid;
    expect(checkLic1Offline(vectors.v2.licenseKey, pem, { now, productUuid: product.toUpperCase(), fingerprint: 'test-machine-fingerprint' }).ok).toBe(true);
    expect(checkLic1Offline(vectors.v2.licenseKey, pem, { now, productUuid: '00000000-0000-0000-0000-000000000000' })).toMatchObject({
      ok: false,
      reason: 'product_mismatch',
    });
    expect(checkLic1Offline(vectors.v1.licenseKey, pem, { now, fingerprint: 'another-machine' })).toMatchObject({ ok: false, reason: 'fingerprint_mismatch' });
    // A bound key names its machine: without a fingerprint it is a mismatch, as on the server.
    expect(checkLic1Offline(vectors.v1.licenseKey, pem, { now })).toMatchObject({ ok: false, reason: 'fingerprint_mismatch' });
    // An unbound key binds on the server (trust on first use); offline any fingerprint passes.
    expect(checkLic1Offline(vectors.v2_perpetual_unbound.licenseKey, pem, { now, fingerprint: 'another-machine' }).ok).toBe(true);
  });
});

describe('base32', () => {
  it('round-trips every length and matches RFC 4648 §10 test vectors (unpadded)', () => {
    const rfc: [string, string][] = [
      ['', ''],
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ];
    for (const [plain, encoded] of rfc) {
      expect(base32Encode(new TextEncoder().encode(plain))).toBe(encoded);
      expect(new TextDecoder().decode(base32Decode(encoded.toLowerCase()))).toBe(plain);
    }
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      expect(base32Decode(base32Encode(bytes))).toEqual(bytes);
    }
  });
});

describe('malformed keys are bad_format', () => {
  const v1 = vectors.v1.licenseKey;
  const [, p1, s1] = v1.split('-') as [string, string, string];
  const pem = vectors.publicKeyPem;
  const cases: [string, string][] = [
    ['empty', ''],
    ['only the prefix', 'LIC1-'],
    ['another prefix', `LIC2-${p1}-${s1}`],
    ['a payload length no bytes encode to', `LIC1-${p1}A-${s1}`],
    ['non-zero pad bits', `LIC1-${p1.slice(0, -1)}J-${s1}`], // the v1 payload's last character is I (01000): three pad bits
    ['no signature', `LIC1-${p1}`],
    ['an extra part', `LIC1-${p1}-${s1}-AA`],
    ['padding', `LIC1-${p1}=-${s1}`],
    ['a character outside the alphabet', `LIC1-${p1.slice(0, -1)}1-${s1}`],
    ['a non-ASCII character', `LIC1-${p1.slice(0, -1)}É-${s1}`],
    ['a short signature', `LIC1-${p1}-${s1.slice(0, -8)}`],
    ['a long signature', `LIC1-${p1}-${s1}AAAAAAAA`],
    ['a short v1 payload', `LIC1-${p1.slice(0, -8)}-${s1}`],
    ['a long v1 payload', `LIC1-${p1}AAAAAAAA-${s1}`],
    ['an empty payload', `LIC1--${s1}`],
    ['version 3', `LIC1-${base32Encode(Uint8Array.of(3, ...new Uint8Array(82)))}-${s1}`],
    ['version 0', `LIC1-${base32Encode(new Uint8Array(74))}-${s1}`],
    ['a short v2 header', `LIC1-${base32Encode(Uint8Array.of(2, ...new Uint8Array(81)))}-${s1}`],
    ['a truncated entitlement', `LIC1-${base32Encode(Uint8Array.of(2, ...new Uint8Array(81), 1, 5, 0x61))}-${s1}`],
    ['a missing entitlement', `LIC1-${base32Encode(Uint8Array.of(2, ...new Uint8Array(81), 2, 1, 0x61))}-${s1}`],
    ['bytes after the entitlements', `LIC1-${base32Encode(Uint8Array.of(2, ...new Uint8Array(81), 1, 1, 0x61, 0))}-${s1}`],
    ['an entitlement that is not ASCII', `LIC1-${base32Encode(Uint8Array.of(2, ...new Uint8Array(81), 1, 1, 0xff))}-${s1}`],
    ['an entitlement with a control character', `LIC1-${base32Encode(Uint8Array.of(2, ...new Uint8Array(81), 1, 1, 0x0a))}-${s1}`],
    ['an empty entitlement', `LIC1-${base32Encode(Uint8Array.of(2, ...new Uint8Array(81), 1, 0))}-${s1}`],
    ['a huge string', `LIC1-${'A'.repeat(200_000)}-${s1}`],
  ];
  for (const [name, key] of cases) {
    it(name, () => {
      expect(verifyLic1(key, pem)).toMatchObject({ ok: false, reason: 'bad_format' });
      expect(checkLic1Offline(key, pem)).toMatchObject({ ok: false, reason: 'bad_format' });
    });
  }
  it('a non-string is bad_format', () => {
    expect(verifyLic1(42 as unknown as string, pem)).toMatchObject({ ok: false, reason: 'bad_format' });
  });
});

describe('keys made here', () => {
  it('a v2 key with entitlements signed by node:crypto verifies offline', () => {
    const payload = Uint8Array.of(
      2,
      1,
      ...new Uint8Array(32),
      0,
      0,
      0,
      0,
      0x65,
      0x53,
      0xf1,
      0x00,
      ...new Uint8Array(8),
      ...new Uint8Array(32),
      2,
      3,
      0x70,
      0x72,
      0x6f,
      1,
      0x78,
    );
    const { key, pem } = signed(payload);
    const result = verifyLic1(key, pem);
    expect(result).toMatchObject({ ok: true, license: { version: 2, entitlements: ['pro', 'x'], issuedAt: 0x6553f100, isFingerprintBound: true } });
  });
  it('public keys: refuses PEMs of other algorithms and wrong lengths', () => {
    const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => parsePublicKey(rsa)).toThrow();
    expect(() => parsePublicKey('not a key')).toThrow();
    expect(() => parsePublicKey(new Uint8Array(31))).toThrow();
  });
});
