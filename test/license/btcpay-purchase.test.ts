/**
 * License purchases on BTCPay against the stand-in BTCPay Server (test/lightning/fakes/btcpay.ts):
 * `POST /license/v1/purchase` makes a store invoice with a hosted checkout, and the license server's
 * webhook (`POST /license/v1/btcpay/webhook`) settles it: HMAC-SHA256 over the raw, pretty-printed
 * body, compared in constant time; the invoice re-fetched from BTCPay before anything is issued; one
 * license per invoice however often BTCPay delivers (three events per payment, redeliveries with new
 * ids, replays of the same bytes). Forged signatures are 401; test deliveries and unknown invoices 200
 * without issuing; an asset payment is not the license webhook's to settle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { btcpayId, startFakeBtcpay, type FakeBtcpay, type FakeStore } from '../lightning/fakes/btcpay.js';
import { BTCPAY_WEBHOOK_PATH } from '../../bridge/lightning/btcpay-webhook.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
let fake: FakeBtcpay;
let store: FakeStore;
let t: TestBridge;
let vendorKey: string;
let productId: string;

beforeAll(async () => {
  fake = await startFakeBtcpay();
  store = fake.addStore();
  // No polling: only the webhook (and a buyer's poll) settle here.
  t = await startBridge({
    LIGHTNING_BACKEND: 'btcpay',
    BTCPAY_URL: fake.url,
    BTCPAY_STORE_ID: store.storeId,
    BTCPAY_API_KEY: store.apiKey,
    BTCPAY_WEBHOOK_SECRET: store.webhookSecret,
    LIGHTNING_POLL_MS: 600_000,
    LICENSE_VENDOR_ACCOUNT: 'shop',
  });
  vendorKey = (await t.signup('shop')).key;
  store.webhookUrl = `${t.url}/license/v1/btcpay/webhook`;
  const product = await t.request('POST', '/license/v1/admin/products', { headers: admin, body: { slug: 'my-app', name: 'My App', price_sats: 50_000 } });
  productId = product.body.product_id;
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const licenses = async () => {
  const res = await t.request('GET', `/license/v1/admin/licenses?product_id=${productId}`, { headers: admin });
  return (Array.isArray(res.body) ? res.body : res.body.licenses) as any[];
};
const licensesOf = async (invoiceId: string) => (await licenses()).filter((l) => l.invoice_id === invoiceId);

async function purchase() {
  const res = await t.request('POST', '/license/v1/purchase', {
    body: { product: 'my-app', buyer_email: 'bob@example.com', redirect_url: 'https://myapp.example.com/thanks' },
  });
  expect(res.status).toBe(200);
  return res.body as { invoice_id: string; btcpay_invoice_id: string; checkout_url: string; amount_sats: number; poll_url: string };
}

describe('purchases on BTCPay', () => {
  it('a hosted checkout: the store invoice carries our id, the price in sats and the redirect', async () => {
    const p = await purchase();
    expect(p.btcpay_invoice_id).toEqual(expect.any(String));
    const invoice = fake.invoices.get(p.btcpay_invoice_id);
    expect(invoice).toMatchObject({ amount: '50000', currency: 'SATS', metadata: { orderId: p.invoice_id } });
    expect(invoice?.checkout).toMatchObject({ redirectURL: 'https://myapp.example.com/thanks' });
    expect(p.checkout_url).toMatch(/^http/);
    expect(p.poll_url).toBe(`${t.info.publicUrl}/license/v1/purchase/${p.invoice_id}`);
  });

  it('good webhooks: BTCPay settles it, the license is issued before the 200, once for three events', async () => {
    const p = await purchase();
    const deliveries = await fake.settle(p.btcpay_invoice_id);
    expect(deliveries.map((d) => d.status)).toEqual([200, 200, 200]);
    const issued = deliveries.map((d) => d.answer.license_id).filter(Boolean);
    expect(issued.length).toBeGreaterThan(0);
    expect(new Set(issued).size).toBe(1);
    // Issued before BTCPay heard 200: no poll has happened yet.
    const mine = await licensesOf(p.invoice_id);
    expect(mine).toHaveLength(1);
    expect(mine[0].license_id).toBe(issued[0]);
    const polled = await t.request('GET', `/license/v1/purchase/${p.invoice_id}`);
    expect(polled.body).toMatchObject({ status: 'settled', license_id: issued[0], license_key: expect.stringMatching(/^LIC1-/) });
    // The vendor's event log has the sale once.
    const paid = (await t.request('GET', '/api/public/events?type=paid', { token: vendorKey })).body.events as any[];
    expect(paid.filter((e) => e.data.payment_id === p.invoice_id)).toHaveLength(1);
  });

  it('redelivered and replayed webhooks issue nothing more', async () => {
    const p = await purchase();
    const [, , last] = await fake.settle(p.btcpay_invoice_id);
    const first = last?.answer.license_id;
    expect(first).toEqual(expect.any(String));
    const again = await fake.redeliver(last as NonNullable<typeof last>, store.storeId);
    expect(again.status).toBe(200);
    expect(again.answer).toMatchObject({ ok: true, settled: true, license_id: first });
    const replayed = await fake.replay(last as NonNullable<typeof last>, store.storeId);
    expect(replayed.status).toBe(200);
    expect(replayed.answer).toMatchObject({ ok: true, duplicate: true });
    await Promise.all(Array.from({ length: 5 }, () => fake.send('InvoiceSettled', p.btcpay_invoice_id)));
    expect(await licensesOf(p.invoice_id)).toHaveLength(1);
  });

  it('forged webhooks are 401 and issue nothing', async () => {
    const p = await purchase();
    fake.setStatus(p.btcpay_invoice_id, 'Settled');
    const wrongSecret = await fake.send('InvoiceSettled', p.btcpay_invoice_id, { secret: 'not-the-webhook-secret' });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.answer).toMatchObject({ ok: false, error: 'invalid_signature', message: expect.any(String) });
    const inv = fake.invoices.get(p.btcpay_invoice_id);
    const payload = { deliveryId: btcpayId(), type: 'InvoiceSettled', storeId: store.storeId, invoiceId: p.btcpay_invoice_id, metadata: inv?.metadata };
    for (const signature of [null, 'sha256=', `sha256=${'0'.repeat(64)}`, 'sha1=abcd', `sha256=${'g'.repeat(64)}`]) {
      const forged = await fake.deliver(store.storeId, payload, { signature });
      expect(forged.status, String(signature)).toBe(401);
      expect(forged.answer.ok).toBe(false);
    }
    expect(await licensesOf(p.invoice_id)).toHaveLength(0);
  });

  it('a signed webhook for an invoice BTCPay says is unpaid issues nothing (the invoice is re-fetched)', async () => {
    const p = await purchase();
    const claimed = await fake.send('InvoiceSettled', p.btcpay_invoice_id);
    expect(claimed.status).toBe(200);
    expect(claimed.answer).toMatchObject({ ok: true, settled: false });
    expect(await licensesOf(p.invoice_id)).toHaveLength(0);
    const refetched = fake.requests.filter((r) => r.method === 'GET' && r.path.includes(p.btcpay_invoice_id));
    expect(refetched.length).toBeGreaterThan(0);
    expect((await t.request('GET', `/license/v1/purchase/${p.invoice_id}`)).body.status).toBe('pending');
  });

  it('test deliveries and unknown invoices: 200, nothing issued', async () => {
    const before = (await licenses()).length;
    const test = await fake.deliver(store.storeId, {
      deliveryId: btcpayId(),
      type: 'InvoiceSettled',
      storeId: store.storeId,
      invoiceId: `__test__${crypto.randomUUID()}__test__`,
      metadata: { orderId: 'whatever' },
    });
    expect(test.status).toBe(200);
    expect(test.answer).toMatchObject({ ok: true, test: true });
    const unknown = await fake.deliver(store.storeId, {
      deliveryId: btcpayId(),
      type: 'InvoiceSettled',
      storeId: store.storeId,
      invoiceId: btcpayId(),
      metadata: { orderId: crypto.randomUUID() },
    });
    expect(unknown.status).toBe(200);
    expect(unknown.answer).toMatchObject({ ok: true, ignored: true });
    expect((await licenses()).length).toBe(before);
  });

  it("an asset's checkout is not the license webhook's to settle", async () => {
    const asset = await t.request('POST', '/api/v1/assets', { token: vendorKey, body: { name: 'Kiosk', price_sats: 100, duration_ms: 1000 } });
    await t.request('POST', `/api/v1/assets/${asset.body.asset_id}/payment-link`, { token: vendorKey });
    const checkout = await t.request('POST', `/api/v1/assets/${asset.body.asset_id}/checkout`, { token: vendorKey, body: {} });
    expect(checkout.status).toBeLessThan(300);
    const invoiceId = [...fake.invoices.values()].find((i) => i.metadata['orderId'] === checkout.body.payment_id)?.id as string;
    fake.setStatus(invoiceId, 'Settled');
    const delivered = await fake.send('InvoiceSettled', invoiceId);
    expect(delivered.answer).toMatchObject({ ok: true, ignored: true });
    // The machine-payments webhook settles it.
    store.webhookUrl = `${t.url}${BTCPAY_WEBHOOK_PATH}`;
    try {
      expect((await fake.send('InvoiceSettled', invoiceId)).answer).toMatchObject({ ok: true, settled: true });
    } finally {
      store.webhookUrl = `${t.url}/license/v1/btcpay/webhook`;
    }
  });

  it('malformed webhook bodies are 400 bad_request', async () => {
    for (const raw of ['', 'not json', '[]', '{}', '{"storeId": 5}', JSON.stringify({ storeId: 'x'.repeat(300) })]) {
      const res = await t.request('POST', '/license/v1/btcpay/webhook', {
        raw,
        headers: { 'content-type': 'application/json', 'btcpay-sig': `sha256=${'0'.repeat(64)}` },
      });
      expect(res.status, raw).toBeGreaterThanOrEqual(400);
      expect(res.status, raw).toBeLessThan(500);
      expect(res.body.ok).toBe(false);
    }
  });
});
