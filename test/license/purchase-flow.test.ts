/**
 * License purchases end to end on the dev Lightning backend, against a listening bridge: a product
 * for sale, `POST /license/v1/purchase` (an invoice on the vendor account's backend, poll_url from
 * PUBLIC_URL), `GET /license/v1/purchase/:id` pending, the dev node settling it, then settled with the
 * key; one payment, one `payment.settled`, one `paid` event (and webhook) for the vendor; one license
 * per invoice however often it is settled or polled, concurrently too; the key checked offline by the
 * portable codec with only the public key agrees with the server. Then a crash between settling and
 * issuing: the restarted bridge issues the missing license.
 */
import bolt11 from 'bolt11';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLic1Offline, decodeLic1 } from '../../device/license/lic1.js';
import type { BusEvents } from '../../bridge/events.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { startReceiver, until, type Receiver } from '../helpers/receiver.js';

const PUBLIC_URL = 'https://license.example.com';
let t: TestBridge;
let vendor: { key: string; userId: string };
let receiver: Receiver;
const settledEvents: BusEvents['payment.settled'][] = [];

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function product(slug: string, price_sats = 50_000, bridge = t) {
  const res = await bridge.request('POST', '/license/v1/admin/products', { headers: admin, body: { slug, name: `App ${slug}`, price_sats } });
  expect(res.status).toBeLessThan(300);
  return res.body.product_id ?? res.body.product?.product_id;
}

const hashOf = (pr: string) => bolt11.decode(pr).tags.find((tag) => tag.tagName === 'payment_hash')?.data as string;
const settle = (hash: string, bridge = t) => bridge.request('POST', `/api/v1/dev/payments/${hash}/settle`, { headers: admin });
const poll = (id: string, bridge = t) => bridge.request('GET', `/license/v1/purchase/${id}`);

beforeAll(async () => {
  t = await startBridge({ PUBLIC_URL, LICENSE_VENDOR_ACCOUNT: 'license-vendor', LIGHTNING_POLL_MS: 50 });
  vendor = await t.signup('License vendor');
  receiver = await startReceiver();
  expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: vendor.key, body: { url: receiver.url } })).status).toBe(200);
  t.bridge.bus.on('payment.settled', settledEvents, (e) => void settledEvents.push(e));
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

describe('a purchase on the dev backend', () => {
  it('pending, then settled with a key the server and the portable codec both accept', async () => {
    const productId = await product('my-app');
    const started = await t.request('POST', '/license/v1/purchase', {
      body: { product: 'my-app', buyer_email: 'alice@example.com', buyer_note: 'optional', redirect_url: 'https://myapp.example.com/thanks' },
    });
    expect(started.status).toBe(200);
    const id = started.body.invoice_id as string;
    expect(started.body).toEqual({
      invoice_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      btcpay_invoice_id: null,
      checkout_url: `lightning:${started.body.payment_request}`,
      amount_sats: 50_000,
      poll_url: `${PUBLIC_URL}/license/v1/purchase/${id}`,
      payment_request: expect.stringMatching(/^lnbcrt/),
      expires_at: expect.any(String),
    });
    expect(bolt11.decode(started.body.payment_request).satoshis).toBe(50_000);

    const pending = await poll(id);
    expect(pending.status).toBe(200);
    expect(pending.body).toEqual({ invoice_id: id, status: 'pending', product_id: productId, amount_sats: 50_000, license_key: null, license_id: null });

    const hash = hashOf(started.body.payment_request);
    expect((await settle(hash)).status).toBe(200);
    const settled = await until(async () => {
      const res = await poll(id);
      return res.body.status === 'settled' ? res : undefined;
    });
    expect(settled.body).toEqual({
      invoice_id: id,
      status: 'settled',
      product_id: productId,
      amount_sats: 50_000,
      license_key: expect.stringMatching(/^LIC1-[A-Z2-7]+-[A-Z2-7]+$/),
      license_id: expect.any(String),
    });
    const key = settled.body.license_key as string;
    expect(decodeLic1(key).license).toMatchObject({ productUuid: productId, licenseUuid: settled.body.license_id });

    // The server's answer, and the same answer offline with only the public key.
    const validated = await t.request('POST', '/license/v1/validate', { body: { key, product_slug: 'my-app', fingerprint: 'machine-1' } });
    expect(validated.body).toMatchObject({ ok: true, license_id: settled.body.license_id, product_id: productId, product_slug: 'my-app' });
    const pem = (await t.request('GET', '/license/v1/pubkey')).body;
    const publicKeyPem = typeof pem === 'string' ? pem : (pem.public_key_pem as string);
    expect(checkLic1Offline(key, publicKeyPem, { productUuid: productId, fingerprint: 'machine-1' })).toMatchObject({ ok: true });

    // One payment, one bus event, one paid event for the vendor (with the purchase), one webhook.
    expect(settledEvents.filter((e) => e.payment.payment_id === id)).toHaveLength(1);
    const paid = (await t.request('GET', '/api/public/events?type=paid', { token: vendor.key })).body.events as any[];
    const mine = paid.filter((e) => e.data.payment_id === id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ asset_id: null, data: { amount_sats: 50_000, purchase: { kind: 'license', product_id: productId, purchase_id: id } } });
    await until(() => receiver.received.some((r) => r.body.includes(id)), 5000, 'the paid webhook');

    // The license records the buyer and the invoice.
    const licenses = (await t.request('GET', `/license/v1/admin/licenses?product_id=${productId}`, { headers: admin })).body;
    const list = (Array.isArray(licenses) ? licenses : licenses.licenses) as any[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ license_id: settled.body.license_id, invoice_id: id, note: expect.stringContaining('alice@example.com') });
    const figures = await t.bridge.metrics.registry.getSingleMetricAsString('paywire_license_purchases_total');
    expect(figures).toContain('paywire_license_purchases_total{event="started"} 1');
    expect(figures).toContain('paywire_license_purchases_total{event="issued"} 1');
  });

  it('one license per invoice: settled again, polled many times at once', async () => {
    const productId = await product('many-polls', 1234);
    const started = await t.request('POST', '/license/v1/purchase', { body: { product: 'many-polls' } });
    const id = started.body.invoice_id as string;
    const hash = hashOf(started.body.payment_request);
    const settles = await Promise.all([settle(hash), settle(hash), settle(hash)]);
    expect(settles.map((r) => r.status)).toEqual([200, 200, 200]);
    const polls = await Promise.all(Array.from({ length: 20 }, () => poll(id)));
    const ids = new Set(polls.map((r) => r.body.license_id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toEqual(expect.any(String));
    expect(new Set(polls.map((r) => r.body.license_key)).size).toBe(1);
    const list = (await t.request('GET', `/license/v1/admin/licenses?product_id=${productId}`, { headers: admin })).body;
    expect((Array.isArray(list) ? list : list.licenses) as any[]).toHaveLength(1);
    expect(settledEvents.filter((e) => e.payment.payment_id === id)).toHaveLength(1);
  });

  it('a deactivated product takes no purchases; an unknown product or purchase is 404', async () => {
    const productId = await product('retired');
    expect((await t.request('PATCH', `/license/v1/admin/products/${productId}/active`, { headers: admin, body: { active: false } })).status).toBe(200);
    const refused = await t.request('POST', '/license/v1/purchase', { body: { product: 'retired' } });
    expect(refused.status).toBe(404);
    expect(refused.body).toMatchObject({ ok: false, error: 'not_found', message: expect.any(String) });
    expect((await t.request('POST', '/license/v1/purchase', { body: { product: 'no-such-app' } })).status).toBe(404);
    const unknown = await poll('00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ ok: false, error: 'not_found' });
  });

  it("an asset payment's id is no purchase id: 400", async () => {
    const asset = await t.request('POST', '/api/v1/assets', { token: vendor.key, body: { name: 'Kiosk', price_sats: 10, duration_ms: 1000 } });
    const link = await t.request('POST', `/api/v1/assets/${asset.body.asset_id}/payment-link`, { token: vendor.key });
    const cb = await fetch(`${link.body.url}/callback?amount=10000`.replace(PUBLIC_URL, t.url));
    const pr = ((await cb.json()) as { pr: string }).pr;
    await settle(hashOf(pr));
    const payments = (await t.request('GET', `/api/v1/assets/${asset.body.asset_id}/payments`, { token: vendor.key })).body.payments as any[];
    expect((await poll(payments[0].payment_id)).status).toBe(400); // not a UUID: no purchase has that id
  });
});

describe('limits', () => {
  it('purchases per address and per product answer 429 rate_limited with Retry-After', async () => {
    const limited = await startBridge({ LICENSE_VENDOR_ACCOUNT: 'vendor', LICENSE_PURCHASES_PER_MINUTE: 3, LICENSE_PURCHASES_PER_PRODUCT_PER_MINUTE: 1 });
    try {
      await limited.signup('vendor');
      await product('one', 100, limited);
      await product('two', 100, limited);
      expect((await limited.request('POST', '/license/v1/purchase', { body: { product: 'one' } })).status).toBe(200);
      const sameProduct = await limited.request('POST', '/license/v1/purchase', { body: { product: 'one' } });
      expect(sameProduct.status).toBe(429);
      expect(sameProduct.body).toEqual({ ok: false, error: 'rate_limited', message: expect.stringContaining('this product') });
      expect(Number(sameProduct.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await limited.request('POST', '/license/v1/purchase', { body: { product: 'two' } })).status).toBe(200);
      // A bad body is refused before it costs a purchase of the address's allowance.
      for (let i = 0; i < 5; i++) expect((await limited.request('POST', '/license/v1/purchase', { body: { product: '' } })).status).toBe(400);
      const address = await limited.request('POST', '/license/v1/purchase', { body: { product: 'two' } });
      expect(address.status).toBe(429);
      expect(address.body).toEqual({ ok: false, error: 'rate_limited', message: expect.stringContaining('this address') });
    } finally {
      await limited.close();
    }
  });
});

describe('without a vendor account', () => {
  it('purchases answer 503 and name the setting', async () => {
    const bare = await startBridge({});
    try {
      await product('orphan', 100, bare);
      const res = await bare.request('POST', '/license/v1/purchase', { body: { product: 'orphan' } });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ ok: false, message: expect.stringContaining('LICENSE_VENDOR_ACCOUNT') });
    } finally {
      await bare.close();
    }
  });
});
