/**
 * The `LIC1-` codec against keysat's known-answer vectors (test/fixtures/keysat-license-vectors.json,
 * from keysat's MIT-licensed client tests): every vector decodes to its documented fields and verifies
 * under its public key; keys we sign decode to what we signed; tampering and malformed spellings fail.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode } from '../../bridge/license/base32.js';
import {
  decodeKey,
  encodePayload,
  isFingerprintBound,
  isTrial,
  KeyVerifier,
  LicenseSigner,
  publicKeyPem,
  type LicensePayload,
} from '../../bridge/license/keys.js';
import { parseSigningKey } from '../../bridge/license/signing-key.js';

interface Vector {
  licenseKey: string;
  expected: {
    version: number;
    productUuid: string;
    licenseUuid: string;
    issuedAt: number;
    expiresAt: number;
    flags: number;
    isFingerprintBound: boolean;
    isTrial: boolean;
    entitlements: string[];
    fingerprintRaw: string | null;
    fingerprintHashHex: string;
  };
}

const VECTORS = JSON.parse(readFileSync(new URL('../fixtures/keysat-license-vectors.json', import.meta.url), 'utf8')) as Record<string, Vector> & {
  publicKeyPem: string;
};
const NAMED = Object.entries(VECTORS).filter((e): e is [string, Vector] => typeof e[1] === 'object');

describe('keysat vectors', () => {
  const verifier = new KeyVerifier(VECTORS.publicKeyPem);

  it('has the three vectors', () => expect(NAMED.map(([n]) => n)).toEqual(['v1', 'v2', 'v2_perpetual_unbound']));

  for (const [name, v] of NAMED) {
    it(`${name}: decodes to every documented field and verifies`, () => {
      const decoded = decodeKey(v.licenseKey);
      expect(decoded).toBeDefined();
      const p = decoded!.payload;
      expect({
        version: p.version,
        productUuid: p.productUuid,
        licenseUuid: p.licenseUuid,
        issuedAt: p.issuedAt,
        expiresAt: p.expiresAt,
        flags: p.flags,
        isFingerprintBound: isFingerprintBound(p),
        isTrial: isTrial(p),
        entitlements: p.entitlements,
        fingerprintHashHex: Buffer.from(p.fingerprintHash).toString('hex'),
      }).toEqual(omitRaw(v.expected));
      if (v.expected.fingerprintRaw !== null) {
        expect(createHash('sha256').update(v.expected.fingerprintRaw).digest('hex')).toBe(v.expected.fingerprintHashHex);
      }
      expect(verifier.verify(decoded!)).toBe(true);
      expect(verifier.check(v.licenseKey)).toEqual({ payload: p });
    });

    it(`${name}: decodes case-insensitively and re-encodes byte for byte`, () => {
      expect(verifier.check(v.licenseKey.toLowerCase())).toEqual(verifier.check(v.licenseKey));
      const decoded = decodeKey(v.licenseKey)!;
      expect(Buffer.from(encodePayload(decoded.payload)).equals(Buffer.from(decoded.raw))).toBe(true);
      expect(`LIC1-${base32Encode(decoded.raw)}-${base32Encode(decoded.signature)}`).toBe(v.licenseKey);
    });

    it(`${name}: any flipped bit of payload or signature fails the signature`, () => {
      const decoded = decodeKey(v.licenseKey)!;
      for (const part of ['raw', 'signature'] as const) {
        for (const at of [0, 1, 17, decoded[part].length - 1]) {
          const bytes = Buffer.from(decoded[part]);
          bytes[at] = (bytes[at] as number) ^ 0x01;
          const tampered = part === 'raw' ? { ...decoded, raw: bytes } : { ...decoded, signature: bytes };
          expect(verifier.verify(tampered), `${part}[${at}]`).toBe(false);
        }
      }
    });
  }

  it('the vectors do not verify under another key', () => {
    const other = new LicenseSigner(randomBytes(32));
    for (const [, v] of NAMED) expect(other.check(v.licenseKey)).toEqual({ problem: 'bad_signature' });
  });

  it('the vector public key is the 12-byte SPKI prefix plus 32 raw bytes', () => {
    const der = Buffer.from(VECTORS.publicKeyPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    expect(der.subarray(0, 12).toString('hex')).toBe('302a300506032b6570032100');
    expect(publicKeyPem(der.subarray(12))).toBe(VECTORS.publicKeyPem);
  });
});

function omitRaw(e: Vector['expected']): Omit<Vector['expected'], 'fingerprintRaw'> {
  const { fingerprintRaw: _ignored, ...rest } = e;
  return rest;
}

describe('keys we sign', () => {
  const signer = new LicenseSigner(randomBytes(32));
  const base: LicensePayload = {
    version: 1,
    flags: 0,
    productUuid: '6f46a4f6-0d2f-4a28-b6aa-3e8fbf6f28f0',
    licenseUuid: '11111111-2222-3333-4444-555555555555',
    issuedAt: 1_700_000_000,
    expiresAt: 0,
    fingerprintHash: new Uint8Array(32),
    entitlements: [],
  };
  const cases: [string, LicensePayload][] = [
    ['v1 unbound', base],
    ['v1 bound', { ...base, flags: 1, fingerprintHash: createHash('sha256').update('machine').digest() }],
    ['v2 trial with expiry', { ...base, version: 2, flags: 2, expiresAt: 1_900_000_000 }],
    ['v2 with entitlements', { ...base, version: 2, entitlements: ['pro', 'multi-device', 'x'.repeat(255)] }],
    [
      'v2 bound, trial, 255 entitlements',
      { ...base, version: 2, flags: 3, fingerprintHash: randomBytes(32), entitlements: Array.from({ length: 255 }, (_, i) => `e${i}`) },
    ],
  ];
  for (const [name, payload] of cases) {
    it(`${name}: decodes to what was signed and verifies under the published PEM`, () => {
      const key = signer.issue(payload);
      expect(key).toMatch(/^LIC1-[A-Z2-7]+-[A-Z2-7]{103}$/);
      const decoded = decodeKey(key)!;
      expect({ ...decoded.payload, fingerprintHash: Buffer.from(decoded.payload.fingerprintHash) }).toEqual({
        ...payload,
        fingerprintHash: Buffer.from(payload.fingerprintHash),
      });
      expect(new KeyVerifier(signer.publicKeyPem).check(key)).toEqual({ payload: decoded.payload });
      // Ed25519 is deterministic: the same payload gives the same key (keys are re-made, never stored).
      expect(signer.issue(payload)).toBe(key);
    });
  }

  it('v1 cannot carry an expiry or entitlements, and entitlements must be printable ASCII', () => {
    expect(() => signer.issue({ ...base, expiresAt: 5 })).toThrow();
    expect(() => signer.issue({ ...base, entitlements: ['a'] })).toThrow();
    expect(() => signer.issue({ ...base, version: 2, entitlements: ['é'] })).toThrow();
    expect(() => signer.issue({ ...base, version: 2, entitlements: [''] })).toThrow();
  });

  it('the signing key round-trips through PEM and hex', () => {
    const seed = randomBytes(32);
    const pem = LicenseSigner.pemFromSeed(seed);
    expect(parseSigningKey(pem)).toEqual({ seed: new Uint8Array(seed) });
    expect(parseSigningKey(seed.toString('hex'))).toEqual({ seed: new Uint8Array(seed) });
    expect(parseSigningKey('nope')).toHaveProperty('error');
    // A PEM pasted into an environment variable with literal \n escapes is read too.
    expect(parseSigningKey(pem.replaceAll('\n', '\\n'))).toEqual({ seed: new Uint8Array(seed) });
  });
});

describe('malformed keys', () => {
  const v1 = VECTORS['v1'] as Vector;
  const [payload, signature] = v1.licenseKey.slice(5).split('-') as [string, string];
  const bad: [string, string][] = [
    ['empty', ''],
    ['prefix only', 'LIC1-'],
    ['wrong prefix', `LIC2-${payload}-${signature}`],
    ['no signature', `LIC1-${payload}`],
    ['three parts', `LIC1-${payload}-${signature}-${signature}`],
    ['padding', `LIC1-${payload}=-${signature}`],
    ['digit 1 (not in the alphabet)', `LIC1-${payload.slice(0, -1)}1-${signature}`],
    ['truncated payload', `LIC1-${payload.slice(0, -8)}-${signature}`],
    ['short signature', `LIC1-${payload}-${signature.slice(0, -8)}`],
    ['impossible length', `LIC1-${payload}A-${signature}`],
    ['version 3', `LIC1-${base32Encode(Buffer.concat([Buffer.from([3]), Buffer.from(base32Decode(payload)!).subarray(1)]))}-${signature}`],
    ['non-ASCII', `LIC1-${payload}é-${signature}`],
    ['too long', `LIC1-${'A'.repeat(5000)}-${signature}`],
  ];
  for (const [name, key] of bad) it(name, () => expect(decodeKey(key)).toBeUndefined());

  it('a v2 payload whose entitlements overrun, or trail garbage, is malformed', () => {
    const raw = Buffer.from(decodeKey((VECTORS['v2'] as Vector).licenseKey)!.raw);
    const overrun = Buffer.from(raw);
    overrun[82] = 3;
    expect(decodeKey(`LIC1-${base32Encode(overrun)}-${signature}`)).toBeUndefined();
    expect(decodeKey(`LIC1-${base32Encode(Buffer.concat([raw, Buffer.from([0])]))}-${signature}`)).toBeUndefined();
  });

  it('base32 refuses non-zero pad bits (one key, one spelling)', () => {
    expect(base32Decode('MY')).toEqual(new Uint8Array([0x66]));
    expect(base32Decode('MZ')).toBeUndefined();
  });
});
