/**
 * A key the server issues, checked offline by the portable codec with only the public key
 * (`GET /license/v1/pubkey`), gives the server's answer (`POST /license/v1/validate`) for signature,
 * product, expiry and fingerprint: a matrix of keys (plain v1, fingerprint-bound, expiring, trial
 * with entitlements, another issuer's, tampered, malformed) by checks (right and wrong product,
 * right, wrong and no fingerprint), then the same keys again once the expiring one has expired.
 * What only the server can know (revocation, suspension, seats taken on first use) is outside.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, checkLic1Offline } from '../../device/license/lic1.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
let t: TestBridge;
let pem: string;
const products: Record<string, string> = {};

beforeAll(async () => {
  t = await startBridge();
  for (const slug of ['alpha', 'beta']) {
    const res = await t.request('POST', '/license/v1/admin/products', { headers: admin, body: { slug, name: slug, price_sats: 10 } });
    products[slug] = res.body.product_id;
  }
  const res = await t.request('GET', '/license/v1/pubkey');
  pem = typeof res.body === 'string' ? res.body : res.body.public_key_pem;
  expect(pem).toContain('BEGIN PUBLIC KEY');
});
afterAll(async () => {
  await t?.close();
});

async function issue(body: Record<string, unknown>): Promise<string> {
  const res = await t.request('POST', '/license/v1/admin/licenses', { headers: admin, body: { product_slug: 'alpha', max_machines: 100, ...body } });
  expect(res.status).toBe(201);
  return res.body.license_key;
}

/** The same key signed by someone else: the signature is wrong, the fields are not. */
function resigned(key: string): string {
  const [, payload] = key.split('-') as [string, string, string];
  const bytes = base32Decode(payload);
  const { privateKey } = generateKeyPairSync('ed25519');
  return `LIC1-${payload}-${base32Encode(sign(null, bytes, privateKey))}`;
}

type Check = { product?: 'alpha' | 'beta'; fingerprint?: string };
const CHECKS: Check[] = [
  {},
  { product: 'alpha' },
  { product: 'beta' },
  { fingerprint: 'fp-right' },
  { fingerprint: 'fp-wrong' },
  { product: 'beta', fingerprint: 'fp-wrong' },
];

const seen = new Set<string>();

async function compare(keys: Record<string, string>): Promise<number> {
  let compared = 0;
  for (const [name, key] of Object.entries(keys)) {
    for (const check of CHECKS) {
      const body: Record<string, unknown> = { key };
      if (check.product) body['product_slug'] = check.product;
      if (check.fingerprint) body['fingerprint'] = check.fingerprint;
      const server = (await t.request('POST', '/license/v1/validate', { body })).body as { ok: boolean; reason?: string };
      const offline = checkLic1Offline(key, pem, {
        ...(check.product ? { productUuid: products[check.product] } : {}),
        ...(check.fingerprint ? { fingerprint: check.fingerprint } : {}),
      });
      const got = offline.ok ? 'ok' : offline.reason;
      const want = server.ok ? 'ok' : server.reason;
      expect(got, `${name} ${JSON.stringify(check)}`).toBe(want);
      seen.add(want as string);
      compared++;
    }
  }
  return compared;
}

describe('offline with only the public key, as the server answers', () => {
  it('signature, product, expiry and fingerprint, before and after an expiry', async () => {
    // Whole seconds in the key: it runs out 1-2 s from now.
    const expiresAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000).toISOString();
    const keys: Record<string, string> = {
      plain: await issue({}),
      bound: await issue({ fingerprint: 'fp-right' }),
      expiring: await issue({ expires_at: expiresAt }),
      'bound and expiring': await issue({ fingerprint: 'fp-right', expires_at: expiresAt }),
      'trial with entitlements': await issue({ trial: true, entitlements: ['pro', 'multi-device'], expires_at: '2099-01-01T00:00:00Z' }),
      'beta product': await issue({ product_slug: 'beta' }),
    };
    keys['another issuer'] = resigned(keys['plain'] as string);
    keys['lower case'] = (keys['bound'] as string).toLowerCase();
    keys['tampered'] = (keys['plain'] as string).replace(/-(.)/, (_, c: string) => `-${c === 'A' ? 'B' : 'A'}`);
    keys['malformed'] = 'LIC1-NOTAKEY-AAAA';
    const before = await compare(keys);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(expiresAt) - Date.now() + 50));
    const after = await compare(keys);
    expect(before + after).toBe(2 * 10 * CHECKS.length);
    // The matrix covered every answer both can give.
    expect([...seen].sort()).toEqual(['bad_format', 'bad_signature', 'expired', 'fingerprint_mismatch', 'ok', 'product_mismatch']);
  });
});
