/**
 * The license server over HTTP against a real bridge (both engines: listed in POSTGRES_E2E): metadata
 * and the public key, products, admin issuing, listing, revoke/suspend/reinstate, and every validate
 * reason in the spec's `{ok: false, reason}` shape, with keys checked offline against the published PEM.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeKey, isFingerprintBound, isTrial, KeyVerifier } from '../../bridge/license/keys.js';
import { LicenseSigner } from '../../bridge/license/keys.js';
import { startLicenseBridge, type LicenseBridge } from './helpers.js';

let t: LicenseBridge;
beforeAll(async () => {
  t = await startLicenseBridge();
});
afterAll(async () => {
  await t?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('metadata', () => {
  it('GET / names the service and publishes the Ed25519 key as PEM SPKI', async () => {
    const res = await t.request('GET', '/license/');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['key_algorithm', 'key_format_version', 'operator', 'public_key_pem', 'service', 'version']);
    expect(res.body).toMatchObject({ key_algorithm: 'ed25519', key_format_version: 2, operator: 'Paywire' });
    expect(res.body.public_key_pem).toMatch(/^-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA[A-Za-z0-9+/=]+\n-----END PUBLIC KEY-----\n$/);
    const pub = await t.request('GET', '/license/v1/pubkey');
    expect(pub.status).toBe(200);
    expect(pub.body).toEqual({ public_key_pem: res.body.public_key_pem, key_algorithm: 'ed25519' });
  });

  it('GET /healthz is {ok: true}', async () => {
    const res = await t.request('GET', '/license/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });

  it('unknown paths and methods answer in the family error shape', async () => {
    const res = await t.request('GET', '/license/v1/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ ok: false, error: 'not_found', message: expect.any(String) });
    const method = await t.request('DELETE', '/license/v1/validate');
    expect(method.status).toBe(405);
    expect(method.body).toMatchObject({ ok: false, error: 'method_not_allowed' });
  });
});

describe('products', () => {
  it('creates, lists active ones publicly, gets by slug, deactivates and reactivates', async () => {
    const p = await t.product('widget', { description: 'A widget', metadata: { tier: 'gold' } });
    expect(p).toMatchObject({ slug: 'widget', name: 'Product widget', description: 'A widget', price_sats: 50_000, metadata: { tier: 'gold' }, active: true });
    expect(p.product_id).toMatch(/^[0-9a-f-]{36}$/);
    const dup = await t.admin('POST', '/v1/admin/products', { slug: 'widget', name: 'Again', price_sats: 1 });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ ok: false, error: 'conflict', message: "product 'widget' already exists" });

    expect((await t.request('GET', '/license/v1/products')).body.products.map((x: any) => x.slug)).toContain('widget');
    expect((await t.request('GET', '/license/v1/products/widget')).body).toEqual(p);

    const off = await t.admin('PATCH', `/v1/admin/products/${p.product_id}/active`, { active: false });
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    expect((await t.request('GET', '/license/v1/products')).body.products.map((x: any) => x.slug)).not.toContain('widget');
    const hidden = await t.request('GET', '/license/v1/products/widget');
    expect(hidden.status).toBe(404);
    expect(hidden.body).toEqual({ ok: false, error: 'not_found', message: "product 'widget'" });
    // Existing licenses of a deactivated product still validate.
    const lic = await t.issue('widget');
    expect((await t.validate({ key: lic.license_key })).ok).toBe(true);
    const on = await t.admin('PATCH', `/v1/admin/products/${p.product_id}/active`, { active: true });
    expect(on.body.active).toBe(true);
    expect((await t.request('GET', '/license/v1/products/widget')).status).toBe(200);
  });

  it('refuses a deactivation of an unknown product with 404 and admin calls without the token with 401', async () => {
    const res = await t.admin('PATCH', '/v1/admin/products/00000000-0000-0000-0000-000000000000/active', { active: false });
    expect(res.status).toBe(404);
    const anon = await t.request('POST', '/license/v1/admin/products', { body: { slug: 'x', name: 'x', price_sats: 1 } });
    expect(anon.status).toBe(401);
    expect(anon.body).toMatchObject({ ok: false, error: 'unauthorized' });
    const wrong = await t.request('POST', '/license/v1/admin/products', { body: { slug: 'x', name: 'x', price_sats: 1 }, token: 'not-the-admin-token-at-all' });
    expect(wrong.status).toBe(401);
  });
});

describe('issuing', () => {
  let verifier: KeyVerifier;
  beforeAll(async () => {
    await t.product('app');
    verifier = new KeyVerifier((await t.request('GET', '/license/v1/pubkey')).body.public_key_pem);
  });

  it('a plain license is a v1 key that decodes to what was issued and verifies offline', async () => {
    const lic = await t.issue('app', { note: 'comp for @alice' });
    expect(Object.keys(lic).sort()).toEqual(['entitlements', 'expires_at', 'issued_at', 'license_id', 'license_key', 'max_machines', 'product_id', 'trial']);
    const checked = verifier.check(lic.license_key);
    expect('payload' in checked).toBe(true);
    const p = (checked as { payload: any }).payload;
    expect(p).toMatchObject({ version: 1, licenseUuid: lic.license_id, productUuid: lic.product_id, expiresAt: 0, entitlements: [] });
    expect(new Date(p.issuedAt * 1000).toISOString()).toBe(lic.issued_at);
  });

  it('expiry, trial, entitlements and a bound fingerprint make a v2 key carrying them', async () => {
    const expires = new Date(Date.now() + 86_400_000);
    const lic = await t.issue('app', {
      expires_at: expires.toISOString(),
      trial: true,
      entitlements: ['pro', 'multi-device'],
      fingerprint: 'fp-1',
      max_machines: 3,
    });
    const p = decodeKey(lic.license_key)!.payload;
    expect(p.version).toBe(2);
    expect(p.expiresAt).toBe(Math.floor(expires.getTime() / 1000));
    expect(lic.expires_at).toBe(new Date(p.expiresAt * 1000).toISOString());
    expect(isTrial(p)).toBe(true);
    expect(isFingerprintBound(p)).toBe(true);
    expect(Buffer.from(p.fingerprintHash).toString('hex')).toBe(createHash('sha256').update('fp-1').digest('hex'));
    expect(p.entitlements).toEqual(['pro', 'multi-device']);
    expect(lic).toMatchObject({ trial: true, entitlements: ['pro', 'multi-device'], max_machines: 3 });
    expect(await t.validate({ key: lic.license_key, fingerprint: 'fp-1' })).toMatchObject({ ok: true, trial: true, entitlements: ['pro', 'multi-device'] });
  });

  it('refuses an unknown product with 404, a past expiry and bad fields with 400', async () => {
    const unknown = await t.admin('POST', '/v1/admin/licenses', { product_slug: 'no-such-app' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ ok: false, error: 'not_found', message: "product 'no-such-app'" });
    const past = await t.admin('POST', '/v1/admin/licenses', { product_slug: 'app', expires_at: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(past.body).toMatchObject({ ok: false, error: 'bad_request' });
    const bad = await t.admin('POST', '/v1/admin/licenses', { product_slug: 'app', entitlements: ['é'] });
    expect(bad.status).toBe(400);
  });

  it('lists a product’s licenses with their keys, and one license with its machines', async () => {
    const p = await t.product('listed');
    const a = await t.issue('listed');
    const b = await t.issue('listed', { max_machines: 2 });
    const list = await t.admin('GET', `/v1/admin/licenses?product_id=${p.product_id}`);
    expect(list.status).toBe(200);
    expect(list.body.licenses.map((l: any) => [l.license_id, l.license_key, l.status])).toEqual([
      [a.license_id, a.license_key, 'active'],
      [b.license_id, b.license_key, 'active'],
    ]);
    await t.validate({ key: b.license_key, fingerprint: 'm1' });
    const one = await t.admin('GET', `/v1/admin/licenses/${b.license_id}`);
    expect(one.body.machines.map((m: any) => m.fingerprint)).toEqual(['m1']);
    expect((await t.admin('GET', '/v1/admin/licenses?product_id=00000000-0000-0000-0000-000000000000')).status).toBe(404);
    const c = await t.issue('listed');
    const page1 = await t.admin('GET', `/v1/admin/licenses?product_id=${p.product_id}&limit=2`);
    expect(page1.body.licenses.map((l: any) => l.license_id)).toEqual([a.license_id, b.license_id]);
    expect(page1.body.next_cursor).toEqual(expect.any(String));
    const page2 = await t.admin('GET', `/v1/admin/licenses?product_id=${p.product_id}&limit=2&cursor=${page1.body.next_cursor}`);
    expect(page2.body).toMatchObject({ licenses: [{ license_id: c.license_id }], next_cursor: null });
    expect((await t.admin('GET', `/v1/admin/licenses?product_id=${p.product_id}&limit=0`)).status).toBe(400);
    expect((await t.admin('GET', `/v1/admin/licenses?product_id=${p.product_id}&cursor=nope`)).status).toBe(400);
    expect((await t.admin('GET', '/v1/admin/licenses')).status).toBe(400);
  });
});

describe('validate: every reason', () => {
  let key: string;
  beforeAll(async () => {
    await t.product('reasons');
    await t.product('other');
    key = (await t.issue('reasons')).license_key;
  });

  it('ok: the documented fields', async () => {
    const res = await t.request('POST', '/license/v1/validate', { body: { key, product_slug: 'reasons' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: true,
      product_slug: 'reasons',
      license_id: expect.any(String),
      product_id: expect.any(String),
      issued_at: expect.any(String),
    });
  });

  it('ok: lowercase keys and surrounding spaces', async () => {
    expect((await t.validate({ key: `  ${key.toLowerCase()} ` })).ok).toBe(true);
  });

  it('bad_format: not a key, not an object, wrong types', async () => {
    for (const body of [
      { key: 'LIC1-AAAA-BBBB' },
      { key: 'hello' },
      {},
      [],
      [key],
      { key: 5 },
      { key: null },
      { key: key, fingerprint: '' },
      { key, product_slug: 7 },
    ]) {
      expect(await t.validate(body), JSON.stringify(body)).toEqual({ ok: false, reason: 'bad_format' });
    }
  });

  it('bad_signature: a key signed by another key, or tampered', async () => {
    const foreign = new LicenseSigner(new Uint8Array(32).fill(7)).issue(decodeKey(key)!.payload);
    expect(await t.validate({ key: foreign })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('not_found: a key we signed for a license that does not exist', async () => {
    // Signed by the bridge's own key is impossible to forge here; a license row missing is made by
    // issuing on another bridge with the same signing key.
    const seed = new Uint8Array(32).fill(9);
    const other = await startLicenseBridge({ LICENSE_SIGNING_KEY: Buffer.from(seed).toString('hex') });
    const twin = await startLicenseBridge({ LICENSE_SIGNING_KEY: Buffer.from(seed).toString('hex') });
    try {
      await other.product('reasons');
      const lic = await other.issue('reasons');
      expect(await twin.validate({ key: lic.license_key })).toEqual({ ok: false, reason: 'not_found' });
      expect(await other.validate({ key: lic.license_key })).toMatchObject({ ok: true });
    } finally {
      await other.close();
      await twin.close();
    }
  });

  it('product_mismatch', async () => {
    expect(await t.validate({ key, product_slug: 'other' })).toEqual({ ok: false, reason: 'product_mismatch' });
  });

  it('revoked, and a second revoke is 404', async () => {
    const lic = await t.issue('reasons');
    const res = await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/revoke`, { reason: 'chargeback' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ license_id: lic.license_id, status: 'revoked', status_reason: 'chargeback' });
    expect(await t.validate({ key: lic.license_key })).toEqual({ ok: false, reason: 'revoked' });
    const again = await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/revoke`, { reason: 'chargeback' });
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ ok: false, error: 'not_found' });
    const unknown = await t.admin('POST', '/v1/admin/licenses/00000000-0000-0000-0000-000000000000/revoke', {});
    expect(unknown.status).toBe(404);
  });

  it('suspended, then reinstated validates again; a revoked license cannot be reinstated', async () => {
    const lic = await t.issue('reasons');
    expect((await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/suspend`, { reason: 'unpaid' })).body.status).toBe('suspended');
    expect(await t.validate({ key: lic.license_key })).toEqual({ ok: false, reason: 'suspended' });
    expect((await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/suspend`, {})).status).toBe(404);
    expect((await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/reinstate`, {})).body.status).toBe('active');
    expect((await t.validate({ key: lic.license_key })).ok).toBe(true);
    expect((await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/reinstate`, {})).status).toBe(404);
    await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/suspend`, {});
    expect((await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/revoke`, {})).body.status).toBe('revoked');
    expect((await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/reinstate`, {})).status).toBe(404);
    expect(await t.validate({ key: lic.license_key })).toEqual({ ok: false, reason: 'revoked' });
  });

  it('expired, once its expiry passes', async () => {
    const lic = await t.issue('reasons', { expires_at: new Date(Date.now() + 1_500).toISOString() });
    expect((await t.validate({ key: lic.license_key })).ok).toBe(true);
    await sleep(Date.parse(lic.expires_at) - Date.now() + 50);
    expect(await t.validate({ key: lic.license_key })).toEqual({ ok: false, reason: 'expired' });
  });

  it('fingerprint_mismatch: a key bound to one fingerprint, and trust-on-first-use', async () => {
    const bound = await t.issue('reasons', { fingerprint: 'machine-a' });
    expect(await t.validate({ key: bound.license_key })).toEqual({ ok: false, reason: 'fingerprint_mismatch' });
    expect(await t.validate({ key: bound.license_key, fingerprint: 'machine-b' })).toEqual({ ok: false, reason: 'fingerprint_mismatch' });
    expect((await t.validate({ key: bound.license_key, fingerprint: 'machine-a' })).ok).toBe(true);

    const tofu = await t.issue('reasons');
    expect((await t.validate({ key: tofu.license_key, fingerprint: 'first' })).ok).toBe(true);
    expect((await t.validate({ key: tofu.license_key, fingerprint: 'first' })).ok).toBe(true);
    expect(await t.validate({ key: tofu.license_key, fingerprint: 'second' })).toEqual({ ok: false, reason: 'fingerprint_mismatch' });
    // Without a fingerprint, keysat answers for the license alone.
    expect((await t.validate({ key: tofu.license_key })).ok).toBe(true);
  });

  it('too_many_machines: a multi-seat cap', async () => {
    const lic = await t.issue('reasons', { max_machines: 2 });
    expect((await t.validate({ key: lic.license_key, fingerprint: 'a' })).ok).toBe(true);
    expect((await t.validate({ key: lic.license_key, fingerprint: 'b' })).ok).toBe(true);
    expect(await t.validate({ key: lic.license_key, fingerprint: 'c' })).toEqual({ ok: false, reason: 'too_many_machines' });
    expect((await t.validate({ key: lic.license_key, fingerprint: 'a' })).ok).toBe(true);
  });

  it('counts validations by result in /metrics', async () => {
    const res = await t.request('GET', '/metrics', { token: 'test-admin-token-0123456789abcdef' });
    expect(res.text).toMatch(/paywire_license_validations_total\{result="ok"\} \d+/);
    expect(res.text).toMatch(/paywire_license_validations_total\{result="bad_format"\} \d+/);
  });
});

describe('validate: what is not a validate body at all', () => {
  it('a top-level scalar is refused by the family body parser with 400 bad_request (as every family)', async () => {
    const res = await t.request('POST', '/license/v1/validate', { raw: '"LIC1-"', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ ok: false, error: 'bad_request' });
  });
});
