/**
 * The two LIC1 codecs give the same answers: the portable one the device package ships
 * (device/license/lic1.ts, @noble/ed25519) and the server's (bridge/license/keys.ts, node:crypto).
 * Every keysat vector; hundreds of keys the server's signer issues (v1 and v2, every flag, expiries,
 * entitlements); those keys with characters changed, cases changed, parts cut and added; and
 * malformed strings. Same verdict (ok, bad_format or bad_signature) and, when ok, the same fields.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base32Encode, verifyLic1 } from '../../device/license/lic1.js';
import { KeyVerifier, LicenseSigner, type LicensePayload } from '../../bridge/license/keys.js';
import vectors from '../fixtures/keysat-license-vectors.json' with { type: 'json' };

type Verdict = { ok: true; fields: Record<string, unknown> } | { ok: false; reason: string };

function server(verifier: KeyVerifier, key: string): Verdict {
  const checked = verifier.check(key);
  if ('problem' in checked) return { ok: false, reason: checked.problem };
  const p = checked.payload;
  return {
    ok: true,
    fields: {
      version: p.version,
      flags: p.flags,
      productUuid: p.productUuid,
      licenseUuid: p.licenseUuid,
      issuedAt: p.issuedAt,
      expiresAt: p.expiresAt,
      fingerprintHashHex: Buffer.from(p.fingerprintHash).toString('hex'),
      entitlements: p.entitlements,
    },
  };
}

function portable(pem: string, key: string): Verdict {
  const result = verifyLic1(key, pem);
  if (!result.ok) return { ok: false, reason: result.reason };
  const l = result.license;
  return {
    ok: true,
    fields: {
      version: l.version,
      flags: l.flags,
      productUuid: l.productUuid,
      licenseUuid: l.licenseUuid,
      issuedAt: l.issuedAt,
      expiresAt: l.expiresAt,
      fingerprintHashHex: l.fingerprintHashHex,
      entitlements: l.entitlements,
    },
  };
}

/** A deterministic stream of numbers, so a failure can be run again. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomPayload(next: () => number): LicensePayload {
  const v2 = next() < 0.6;
  const bound = next() < 0.5;
  const trial = v2 && next() < 0.5;
  const entitlements = v2 ? Array.from({ length: Math.floor(next() * 4) }, (_, i) => `feat-${i}-${Math.floor(next() * 1000)}`) : [];
  return {
    version: v2 ? 2 : 1,
    flags: (bound ? 1 : 0) | (trial ? 2 : 0),
    productUuid: randomUUID(),
    licenseUuid: randomUUID(),
    issuedAt: 1_600_000_000 + Math.floor(next() * 300_000_000),
    expiresAt: v2 && next() < 0.5 ? 1_700_000_000 + Math.floor(next() * 300_000_000) : 0,
    fingerprintHash: bound ? new Uint8Array(randomBytes(32)) : new Uint8Array(32),
    entitlements,
  };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Ways to spoil a key: each keeps some keys valid (case) and breaks the rest. */
function mutations(key: string, next: () => number): string[] {
  const at = 5 + Math.floor(next() * (key.length - 5));
  const char = key[at] as string;
  const other = char === '-' ? '-' : (ALPHABET[(ALPHABET.indexOf(char.toUpperCase()) + 1 + Math.floor(next() * 30)) % 32] as string);
  return [
    key.slice(0, at) + other + key.slice(at + 1),
    key.slice(0, at) + char.toLowerCase() + key.slice(at + 1),
    key.toLowerCase(),
    key.slice(0, at) + key.slice(at + 1),
    key.slice(0, at) + 'A' + key.slice(at),
    key.slice(0, at) + '=' + key.slice(at + 1),
    key.replace('-', '--'),
    `${key}-`,
    key.slice(0, key.lastIndexOf('-')),
    ` ${key} `,
  ];
}

describe('the portable and node:crypto codecs agree', () => {
  const vectorVerifier = new KeyVerifier(vectors.publicKeyPem);
  const keys = [vectors.v1, vectors.v2, vectors.v2_perpetual_unbound].map((v) => v.licenseKey);

  it('on every keysat vector, and on its spoilt copies', () => {
    const next = rng(1);
    let compared = 0;
    for (const key of keys) {
      const s = server(vectorVerifier, key);
      expect(s.ok).toBe(true);
      expect(portable(vectors.publicKeyPem, key)).toEqual(s);
      for (let round = 0; round < 20; round++) {
        for (const spoilt of mutations(key, next)) {
          expect(portable(vectors.publicKeyPem, spoilt), spoilt).toEqual(server(vectorVerifier, spoilt));
          compared++;
        }
      }
    }
    expect(compared).toBe(3 * 20 * 10);
  });

  it('on 300 keys the server signs, each checked with only its public key, and on their spoilt copies', () => {
    const signer = new LicenseSigner(new Uint8Array(randomBytes(32)));
    const next = rng(2);
    for (let i = 0; i < 300; i++) {
      const payload = randomPayload(next);
      const key = signer.issue(payload);
      const s = server(signer, key);
      expect(s).toMatchObject({ ok: true, fields: { licenseUuid: payload.licenseUuid, entitlements: payload.entitlements } });
      expect(portable(signer.publicKeyPem, key)).toEqual(s);
      // The raw 32 bytes serve as well as the PEM.
      expect(verifyLic1(key, signer.publicKeyRaw).ok).toBe(true);
      if (i % 10 === 0) {
        for (const spoilt of mutations(key, next)) expect(portable(signer.publicKeyPem, spoilt), spoilt).toEqual(server(signer, spoilt));
      }
    }
  });

  it("on another issuer's keys (bad_signature) and on malformed strings (bad_format)", () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const otherVerifier = new KeyVerifier(other);
    for (const key of keys) expect(portable(other, key)).toEqual(server(otherVerifier, key));
    const payload = (bytes: number[]) => `LIC1-${base32Encode(Uint8Array.from(bytes))}-${keys[0]?.split('-')[2]}`;
    const malformed = [
      '',
      'LIC1',
      'LIC1-',
      'LIC1--',
      'LIC2-AAAA-AAAA',
      'lic1-AAAA-AAAA',
      `LIC1-${'A'.repeat(5000)}-AA`,
      payload([1, ...new Uint8Array(73)]).replace('LIC1', 'LIC0'),
      payload([2, ...new Uint8Array(81), 1, 0]),
      payload([2, ...new Uint8Array(81), 1, 1, 0xc3]),
      payload([2, ...new Uint8Array(81), 2, 1, 0x61]),
      payload([3, ...new Uint8Array(82)]),
      payload([]),
    ];
    for (const key of malformed) expect(portable(vectors.publicKeyPem, key), key).toEqual(server(vectorVerifier, key));
  });
});
