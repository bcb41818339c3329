/**
 * The btcpay backend against a stand-in BTCPay Server (test/lightning/fakes/btcpay.ts): the backend
 * class directly (LNURL invoices on the store's Lightning node, hosted checkouts, lookups, failures),
 * then end to end through listening bridges: LNURL-pay with `lnurl-pay` validating the invoice, the
 * hosted checkout route, and BTCPay's signed webhooks delivered by the fake as BTCPay sends them
 * (pretty-printed, HMAC over the raw bytes, redelivered with new ids).
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { Invoice } from '@getalby/lightning-tools';
import bolt11 from 'bolt11';
import { requestInvoice } from 'lnurl-pay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError } from '../../bridge/lightning/backends/backend.js';
import { BtcpayBackend } from '../../bridge/lightning/backends/btcpay.js';
import { BTCPAY_WEBHOOK_PATH } from '../../bridge/lightning/btcpay-webhook.js';
import type { DeviceStateSource } from '../../bridge/lightning/links.js';
import { metadataHash, payMetadata } from '../../bridge/lightning/lnurl.js';
import { startBridge, testOutbound, type TestBridge } from '../helpers/bridge.js';
import { until } from '../helpers/receiver.js';
import { btcpayId, startFakeBtcpay, type FakeBtcpay, type FakeStore } from './fakes/btcpay.js';

const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

let fake: FakeBtcpay;
/** The server default of `hooked` and `polled`. */
let storeA: FakeStore;
/** An account's own wallet on `hooked`. */
let storeB: FakeStore;
/** An account's own wallet on `devBridge`; it has no webhook. */
let storeC: FakeStore;
const online = new Map<string, boolean>();
const deviceState: DeviceStateSource = { isOnline: (assetId) => online.get(assetId) };
/** btcpay by default and practically no polling: only webhooks settle here. */
let hooked: TestBridge;
/** btcpay by default, polling every 50 ms. */
let polled: TestBridge;
/** dev by default, polling every 50 ms: accounts choose btcpay as their own wallet. */
let devBridge: TestBridge;

const serverDefault = (store: FakeStore) => ({
  LIGHTNING_BACKEND: 'btcpay',
  BTCPAY_URL: fake.url,
  BTCPAY_STORE_ID: store.storeId,
  BTCPAY_API_KEY: store.apiKey,
  BTCPAY_WEBHOOK_SECRET: store.webhookSecret,
});

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  fake = await startFakeBtcpay();
  storeA = fake.addStore();
  storeB = fake.addStore();
  storeC = fake.addStore();
  hooked = await startBridge({ ...serverDefault(storeA), LIGHTNING_POLL_MS: 600_000, LIGHTNING_TIMEOUT_MS: 1000 }, { bridge: { deviceState } });
  polled = await startBridge({ ...serverDefault(storeA), LIGHTNING_POLL_MS: 50, LIGHTNING_TIMEOUT_MS: 500 });
  devBridge = await startBridge({ LIGHTNING_POLL_MS: 50, LIGHTNING_TIMEOUT_MS: 500 });
  storeA.webhookUrl = `${hooked.url}${BTCPAY_WEBHOOK_PATH}`;
  storeB.webhookUrl = `${hooked.url}${BTCPAY_WEBHOOK_PATH}`;
});

afterAll(async () => {
  await Promise.all([hooked?.close(), polled?.close(), devBridge?.close()]);
  await fake?.close();
  process.off('unhandledRejection', onRejection);
});

// ------------------------------------------------------------------------------------ helpers

async function machine(t: TestBridge, asset: Record<string, unknown> = { name: 'Café ☕ kiosk', price_sats: 1500, duration_ms: 30_000 }) {
  const acct = await t.signup('btcpay-bot');
  const created = await t.request('POST', '/api/v1/assets', { token: acct.key, body: asset });
  expect(created.status).toBe(201);
  const assetId = created.body.asset_id as string;
  const link = (await t.request('POST', `/api/v1/assets/${assetId}/payment-link`, { token: acct.key })).body;
  return { key: acct.key, userId: acct.userId, assetId, link };
}

const paymentsOf = async (t: TestBridge, key: string, assetId: string) =>
  (await t.request('GET', `/api/v1/assets/${assetId}/payments`, { token: key })).body.payments as any[];

const paidEvents = async (t: TestBridge, key: string, assetId: string) =>
  (await t.request('GET', `/api/public/events?type=paid&asset_id=${assetId}`, { token: key })).body.events as any[];

function listen(t: TestBridge): string[] {
  const ids: string[] = [];
  t.bridge.bus.on('payment.settled', ids, ({ payment }) => {
    ids.push(payment.payment_id);
  });
  return ids;
}

const checkout = (t: TestBridge, key: string, assetId: string, body: Record<string, unknown> = {}) =>
  t.request('POST', `/api/v1/assets/${assetId}/checkout`, { token: key, body });

const invoiceIdOf = (checkoutUrl: string) => checkoutUrl.split('/').pop() as string;

/** The last request the fake received on `path`. */
const lastOn = (path: string) => fake.requests.filter((r) => r.path === path).at(-1);

function backendFor(store: FakeStore, timeoutMs = 300) {
  return new BtcpayBackend({ url: fake.url, store_id: store.storeId }, { api_key: store.apiKey }, { timeoutMs, outbound: testOutbound() });
}

function lnurlRequest(metadata: string, amountMsat: number) {
  return { amountMsat, descriptionHash: metadataHash(metadata), metadata, memo: 'memo', expirySeconds: 600, paymentId: 'pay0000000000001' };
}

async function backendError(promise: Promise<unknown>): Promise<BackendError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  return err as BackendError;
}

// ------------------------------------------------------------------------------------ the class

describe('BtcpayBackend against the fake', () => {
  it("makes LNURL invoices on the store's Lightning node that commit to the metadata, and looks them up", async () => {
    const backend = backendFor(storeA);
    const metadata = payMetadata('Café ☕: 21 sats');
    const created = await backend.createInvoice(lnurlRequest(metadata, 21_000));
    const sent = lastOn(`/api/v1/stores/${storeA.storeId}/lightning/BTC/invoices`);
    expect(sent?.method).toBe('POST');
    expect(sent?.headers.authorization).toBe(`token ${storeA.apiKey}`);
    expect(sent?.body).toEqual({ amount: '21000', description: metadata, descriptionHashOnly: true, expiry: 600 });
    const decoded = bolt11.decode(created.pr);
    expect(decoded.millisatoshis).toBe('21000');
    expect(decoded.tagsObject.purpose_commit_hash).toBe(createHash('sha256').update(metadata, 'utf8').digest('hex'));
    expect(created.paymentHash).toBe(decoded.tagsObject.payment_hash);
    expect(created.ref).toBe(`ln:${created.paymentHash}`);
    expect(Date.parse(created.expiresAt) - Date.now()).toBeGreaterThan(590_000);

    expect(await backend.lookupInvoice(created.paymentHash, created.ref)).toEqual({ settled: false, preimage: null, dead: false });
    fake.payLightning(created.paymentHash);
    const paid = await backend.lookupInvoice(created.paymentHash, created.ref);
    expect(paid.settled).toBe(true);
    expect(
      createHash('sha256')
        .update(Buffer.from(paid.preimage as string, 'hex'))
        .digest('hex'),
    ).toBe(created.paymentHash);

    const other = await backend.createInvoice(lnurlRequest(metadata, 5_000));
    fake.expireLightning(other.paymentHash);
    expect(await backend.lookupInvoice(other.paymentHash, other.ref)).toEqual({ settled: false, preimage: null, dead: true });
    // A ref that names another invoice than the hash is refused, not believed.
    await backendError(backend.lookupInvoice(other.paymentHash, created.ref));
  });

  it('refuses an invoice that does not commit to the amount or to the metadata hash', async () => {
    const backend = backendFor(storeA);
    try {
      fake.tamper = 'amount';
      expect((await backendError(backend.createInvoice(lnurlRequest('[]', 1000)))).message).toMatch(/2000 msat instead of 1000/);
      fake.tamper = 'hash';
      expect((await backendError(backend.createInvoice(lnurlRequest('[]', 1000)))).message).toMatch(/description hash/);
    } finally {
      fake.tamper = null;
    }
  });

  it('turns refused keys, unknown stores, 5xx, hangs and garbage into BackendErrors', async () => {
    const wrongKey = new BtcpayBackend({ url: fake.url, store_id: storeA.storeId }, { api_key: 'not-the-key' }, { timeoutMs: 300, outbound: testOutbound() });
    const refused = await backendError(wrongKey.createInvoice(lnurlRequest('[]', 1000)));
    expect(refused.message).toMatch(/refused the API key \(HTTP 401/);
    expect(refused.transient).toBe(false);
    const noStore = new BtcpayBackend({ url: fake.url, store_id: 'nosuchstore' }, { api_key: storeA.apiKey }, { timeoutMs: 300, outbound: testOutbound() });
    expect((await backendError(noStore.createInvoice(lnurlRequest('[]', 1000)))).message).toMatch(/HTTP 404: The store was not found/);

    const backend = backendFor(storeA);
    fake.failNext(503);
    const down = await backendError(backend.createInvoice(lnurlRequest('[]', 1000)));
    expect(down.message).toMatch(/HTTP 503/);
    expect(down.transient).toBe(true);

    fake.garbage = true;
    try {
      expect((await backendError(backend.lookupInvoice('0'.repeat(64), 'invoice:abc'))).message).toMatch(/not JSON/);
    } finally {
      fake.garbage = false;
    }

    fake.hang = true;
    try {
      const started = Date.now();
      expect((await backendError(backend.createCheckout({ amountSats: 1, description: 'x', expirySeconds: 60, paymentId: 'p' }))).message).toMatch(
        /timed out after 300 ms/,
      );
      expect(Date.now() - started).toBeLessThan(10_000); // a hang: until the test times out
    } finally {
      fake.hang = false;
    }
    await backendError(backend.lookupInvoice('0'.repeat(64), null));
  });

  it('makes a hosted checkout: a store invoice in SATS with its Lightning invoice, looked up by status', async () => {
    const backend = backendFor(storeA);
    const created = await backend.createCheckout({
      amountSats: 1500,
      description: 'Café ☕: 1500 sats',
      expirySeconds: 600,
      paymentId: 'pay0000000000002',
      redirectUrl: 'https://shop.example/thanks',
    });
    const creation = fake.requests.find(
      (r) => r.method === 'POST' && r.path === `/api/v1/stores/${storeA.storeId}/invoices` && r.body.metadata.orderId === 'pay0000000000002',
    );
    expect(creation?.headers.authorization).toBe(`token ${storeA.apiKey}`);
    expect(creation?.body).toEqual({
      amount: '1500',
      currency: 'SATS',
      metadata: { orderId: 'pay0000000000002', itemDesc: 'Café ☕: 1500 sats' },
      checkout: { expirationMinutes: 10, paymentMethods: ['BTC-LightningNetwork'], lazyPaymentMethods: false, redirectURL: 'https://shop.example/thanks' },
    });
    const id = invoiceIdOf(created.checkoutUrl);
    expect(created.checkoutUrl).toBe(`${fake.url}/i/${id}`);
    expect(lastOn(`/api/v1/stores/${storeA.storeId}/invoices/${id}/payment-methods`)?.headers.authorization).toBe(`token ${storeA.apiKey}`);
    expect(created.ref).toBe(`invoice:${id}`);
    expect(created.pr).toBe(fake.invoices.get(id)?.bolt11);
    expect(created.paymentHash).toBe(bolt11.decode(created.pr).tagsObject.payment_hash);
    expect(bolt11.decode(created.pr).satoshis).toBe(1500);

    const expected: Record<string, { settled: boolean; dead: boolean }> = {
      New: { settled: false, dead: false },
      Processing: { settled: false, dead: false },
      Settled: { settled: true, dead: false },
      Expired: { settled: false, dead: true },
      Invalid: { settled: false, dead: true },
    };
    for (const [status, state] of Object.entries(expected)) {
      fake.setStatus(id, status as never);
      expect(await backend.lookupInvoice(created.paymentHash, created.ref), status).toEqual({ ...state, preimage: null });
    }
  });

  it('makes checkouts on BTCPay 1.x, which refuses `BTC-LN`, and on 2.x; refuses a store without Lightning', async () => {
    for (const version of [1, 2] as const) {
      const store = fake.addStore({ version });
      const created = await backendFor(store).createCheckout({ amountSats: 10, description: 'x', expirySeconds: 60, paymentId: 'p' });
      expect(created.pr, `${version}.x`).toBe(fake.invoices.get(invoiceIdOf(created.checkoutUrl))?.bolt11);
      expect(lastOn(`/api/v1/stores/${store.storeId}/invoices`)?.body.checkout.paymentMethods).toEqual(['BTC-LightningNetwork']);
    }
    // What 1.x answers the 2.x name: the stand-in parses ids as each version's PaymentMethodId.TryParse.
    const v1 = fake.addStore({ version: 1 });
    const refused = await fetch(`${fake.url}/api/v1/stores/${v1.storeId}/invoices`, {
      method: 'POST',
      headers: { authorization: `token ${v1.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount: '10', currency: 'SATS', metadata: { orderId: 'p' }, checkout: { paymentMethods: ['BTC-LN'] } }),
    });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toEqual([{ path: 'checkout.paymentMethods[0]', message: 'Invalid payment method' }]);

    const onchain = fake.addStore({ methods: 'onchain-only' });
    const err = await backendError(backendFor(onchain).createCheckout({ amountSats: 10, description: 'x', expirySeconds: 60, paymentId: 'p' }));
    expect(err.message).toBe('btcpay: the BTCPay store has no Lightning payment method');
  });

  it("treats the store's Lightning node being down (400 generic-error, 503) as transient", async () => {
    const store = fake.addStore();
    const backend = backendFor(store);
    const made = await backend.createInvoice(lnurlRequest('[]', 1000));
    store.nodeDown = 'Connection refused (lnd_bitcoin:8080)';
    try {
      const create = await backendError(backend.createInvoice(lnurlRequest('[]', 1000)));
      expect(create.transient).toBe(true);
      expect(create.message).toMatch(/Lightning node failed .*HTTP 400: Connection refused \(lnd_bitcoin:8080\)/);
      const lookup = await backendError(backend.lookupInvoice(made.paymentHash, made.ref));
      expect(lookup.transient).toBe(true);
      expect(lookup.message).toMatch(/HTTP 503: The lightning node is unavailable/);
    } finally {
      store.nodeDown = null;
    }
    // A 400 that is not the node's failure is still a refusal.
    fake.failNext(400, 1, '/invoices');
    expect((await backendError(backend.createCheckout({ amountSats: 10, description: 'x', expirySeconds: 60, paymentId: 'p' }))).transient).toBe(false);
  });
});

// ------------------------------------------------------------------------------------ server default

describe('as the server default (env), with polling', () => {
  it('serves LNURL-pay invoices that lnurl-pay validates, and settles once when BTCPay reports them paid', async () => {
    const m = await machine(polled);
    const settled = listen(polled);
    const result = await requestInvoice({ lnUrlOrAddress: m.link.lnurl, tokens: 1500 as never, validateInvoice: true });
    expect(result.hasValidDescriptionHash).toBe(true);
    expect(result.hasValidAmount).toBe(true);
    const hash = new Invoice({ pr: result.invoice }).paymentHash;
    expect(fake.lightning.get(hash)?.storeId).toBe(storeA.storeId);
    expect(await new Invoice({ pr: result.invoice, verify: result.rawData['verify'] as string }).isPaid()).toBe(false);

    fake.payLightning(hash);
    await until(async () => (await paymentsOf(polled, m.key, m.assetId))[0]?.status === 'settled', 3000, 'settlement by polling');
    const paid = new Invoice({ pr: result.invoice, verify: result.rawData['verify'] as string });
    expect(await paid.isPaid()).toBe(true);
    expect(
      createHash('sha256')
        .update(Buffer.from(paid.preimage as string, 'hex'))
        .digest('hex'),
    ).toBe(hash);
    await new Promise((r) => setTimeout(r, 200)); // more polls: still once
    expect(await paymentsOf(polled, m.key, m.assetId)).toHaveLength(1);
    expect(await paidEvents(polled, m.key, m.assetId)).toHaveLength(1);
    expect(settled).toHaveLength(1);
    polled.bridge.bus.off(settled);
  });

  it('answers the LNURL callback 503 {status: "ERROR"} and stores nothing while BTCPay or its node is down, or it hangs', async () => {
    const m = await machine(polled);
    const callback = `${m.link.url}/callback?amount=1500000`;
    for (const knob of ['failAll', 'nodeDown', 'hang'] as const) {
      if (knob === 'failAll') fake.failAll = 502;
      else if (knob === 'nodeDown') storeA.nodeDown = 'Connection refused (lnd_bitcoin:8080)';
      else fake.hang = true;
      try {
        const res = await fetch(callback);
        expect(res.status, knob).toBe(503);
        expect(await res.json(), knob).toEqual({
          status: 'ERROR',
          reason: expect.stringMatching(/Lightning wallet \(btcpay\) is unavailable right now; try again later/),
        });
      } finally {
        fake.failAll = null;
        storeA.nodeDown = null;
        fake.hang = false;
      }
    }
    expect(await paymentsOf(polled, m.key, m.assetId)).toEqual([]);
  });

  it('settles a hosted checkout by polling alone when no webhook arrives', async () => {
    const m = await machine(polled);
    const created = await checkout(polled, m.key, m.assetId);
    expect(created.status).toBe(201);
    const id = invoiceIdOf(created.body.checkout_url);
    await new Promise((r) => setTimeout(r, 150));
    expect((await paymentsOf(polled, m.key, m.assetId))[0]?.status).toBe('pending');
    fake.setStatus(id, 'Settled'); // no webhook is sent
    await until(async () => (await paymentsOf(polled, m.key, m.assetId))[0]?.status === 'settled', 3000, 'settlement by polling');
    expect(await paidEvents(polled, m.key, m.assetId)).toHaveLength(1);
  });
});

// ------------------------------------------------------------------------------------ checkout route

describe('POST /api/v1/assets/:id/checkout', () => {
  it('creates a checkout whose page shows the invoice, and a BTCPay webhook settles it once', async () => {
    const m = await machine(hooked);
    const settled = listen(hooked);
    const res = await checkout(hooked, m.key, m.assetId, { redirect_url: 'https://kiosk.example/done' });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(
      ['amount_sats', 'asset_id', 'checkout_url', 'duration_ms', 'expires_at', 'payment_hash', 'payment_id', 'pr', 'status'].sort(),
    );
    expect(res.body).toMatchObject({ asset_id: m.assetId, amount_sats: 1500, duration_ms: 30_000, status: 'pending' });
    const id = invoiceIdOf(res.body.checkout_url);
    expect(fake.invoices.get(id)?.metadata).toEqual({ orderId: res.body.payment_id, itemDesc: 'Café ☕ kiosk: 1500 sats' });
    expect(fake.invoices.get(id)?.checkout['redirectURL']).toBe('https://kiosk.example/done');
    expect(res.body.payment_hash).toBe(bolt11.decode(res.body.pr).tagsObject.payment_hash);
    const page = await fetch(res.body.checkout_url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(res.body.pr);
    expect(await paymentsOf(hooked, m.key, m.assetId)).toMatchObject([
      { payment_id: res.body.payment_id, status: 'pending', payment_hash: res.body.payment_hash },
    ]);

    const deliveries = await fake.settle(id);
    expect(deliveries.map((d) => [d.status, d.answer.ok])).toEqual([
      [200, true],
      [200, true],
      [200, true],
    ]);
    const payments = await paymentsOf(hooked, m.key, m.assetId);
    expect(payments).toMatchObject([{ status: 'settled', settled_at: expect.any(String) }]);
    expect(await paidEvents(hooked, m.key, m.assetId)).toMatchObject([{ type: 'paid', data: { payment_id: res.body.payment_id, amount_sats: 1500 } }]);
    expect(settled).toEqual([res.body.payment_id]);
    hooked.bridge.bus.off(settled);
  });

  it('takes the chosen amount for variable prices and scales the run time', async () => {
    const m = await machine(hooked, { name: 'EV charger', price_sats: 100, duration_ms: 60_000, pricing: 'variable', min_sats: 50, max_sats: 1000 });
    const res = await checkout(hooked, m.key, m.assetId, { amount_sats: 250 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ amount_sats: 250, duration_ms: 150_000 });
    expect(bolt11.decode(res.body.pr).satoshis).toBe(250);
  });

  it('refuses wrong amounts, unknown fields, bad redirect URLs, offline devices and assets without a link', async () => {
    const fixed = await machine(hooked);
    const variable = await machine(hooked, { name: 'Meter', price_sats: 10, pricing: 'variable', min_sats: 5, max_sats: 50 });
    const cases: [string, Record<string, unknown>][] = [
      [fixed.assetId, { amount_sats: 1499 }],
      [fixed.assetId, { amount_sats: '1500' }],
      [fixed.assetId, { amount: 1500 }],
      [fixed.assetId, { redirect_url: 'ftp://kiosk.example/' }],
      [fixed.assetId, { redirect_url: 'not a url' }],
      [variable.assetId, {}],
      [variable.assetId, { amount_sats: 4 }],
      [variable.assetId, { amount_sats: 51 }],
      [variable.assetId, { amount_sats: 10.5 }],
    ];
    for (const [assetId, body] of cases) {
      const key = assetId === fixed.assetId ? fixed.key : variable.key;
      const res = await checkout(hooked, key, assetId, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_body', message: expect.any(String) });
    }
    expect(await paymentsOf(hooked, fixed.key, fixed.assetId)).toEqual([]);
    expect((await checkout(hooked, variable.key, fixed.assetId)).status).toBe(403);
    expect((await hooked.request('POST', `/api/v1/assets/${fixed.assetId}/checkout`, { body: {} })).status).toBe(401);

    const offline = await machine(hooked, { name: 'Locker', price_sats: 10, refuse_when_offline: true });
    online.set(offline.assetId, false);
    const refused = await checkout(hooked, offline.key, offline.assetId);
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([409, '30']);
    expect(refused.body).toEqual({ error: 'device_offline', message: 'Locker is offline right now; try again later' });
    online.set(offline.assetId, true);
    expect((await checkout(hooked, offline.key, offline.assetId)).status).toBe(201);

    const acct = await hooked.signup('no-link');
    const bare = (await hooked.request('POST', '/api/v1/assets', { token: acct.key, body: { name: 'Bare', price_sats: 1 } })).body.asset_id;
    expect((await checkout(hooked, acct.key, bare)).body.error).toBe('payment_link_not_found');
  });

  it('answers 409 checkout_not_supported for a backend without a hosted checkout', async () => {
    const m = await machine(devBridge);
    const res = await checkout(devBridge, m.key, m.assetId);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: 'checkout_not_supported', message: expect.stringMatching(/dev/) });
    expect(await paymentsOf(devBridge, m.key, m.assetId)).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------ the webhook

describe('the signed BTCPay webhook', () => {
  async function pendingCheckout() {
    const m = await machine(hooked);
    const res = await checkout(hooked, m.key, m.assetId);
    expect(res.status).toBe(201);
    return { ...m, paymentId: res.body.payment_id as string, invoiceId: invoiceIdOf(res.body.checkout_url) };
  }

  it('settles on a good signature over the pretty-printed body; redeliveries and replays change nothing', async () => {
    const c = await pendingCheckout();
    const settled = listen(hooked);
    fake.setStatus(c.invoiceId, 'Settled');
    const first = await fake.send('InvoiceSettled', c.invoiceId, { extra: { manuallyMarked: false, overPaid: false } });
    expect(first.body).toContain('\n  "invoiceId": ');
    expect(first.body).not.toBe(JSON.stringify(JSON.parse(first.body)));
    expect(first.status).toBe(200);
    expect(first.answer).toEqual({ ok: true, settled: true, payment_id: c.paymentId });

    const again = await fake.redeliver(first, storeA.storeId);
    expect(JSON.parse(again.body)).toMatchObject({ isRedelivery: true, originalDeliveryId: first.deliveryId });
    expect(again.deliveryId).not.toBe(first.deliveryId);
    expect([again.status, again.answer.ok]).toEqual([200, true]);
    expect(await fake.replay(first, storeA.storeId)).toMatchObject({ status: 200, answer: { ok: true, duplicate: true } });
    expect(await fake.replay(again, storeA.storeId)).toMatchObject({ status: 200, answer: { ok: true, duplicate: true } });
    expect((await fake.send('InvoicePaymentSettled', c.invoiceId)).status).toBe(200);

    expect(await paymentsOf(hooked, c.key, c.assetId)).toMatchObject([{ payment_id: c.paymentId, status: 'settled' }]);
    expect(await paidEvents(hooked, c.key, c.assetId)).toHaveLength(1);
    expect(settled).toEqual([c.paymentId]);
    hooked.bridge.bus.off(settled);
  });

  it('answers 401 to a missing or wrong signature and settles nothing, even when BTCPay says Settled', async () => {
    const c = await pendingCheckout();
    fake.setStatus(c.invoiceId, 'Settled');
    const inv = fake.invoices.get(c.invoiceId);
    const payload = {
      manuallyMarked: false,
      overPaid: false,
      deliveryId: btcpayId(),
      webhookId: 'wh',
      originalDeliveryId: 'x',
      isRedelivery: false,
      type: 'InvoiceSettled',
      timestamp: 1,
      storeId: storeA.storeId,
      invoiceId: c.invoiceId,
      metadata: inv?.metadata,
    };
    const compactMac = createHmac('sha256', storeA.webhookSecret).update(JSON.stringify(payload)).digest('hex');
    const attempts = [
      await fake.deliver(storeA.storeId, payload, { secret: 'not-the-secret' }),
      await fake.deliver(storeA.storeId, payload, { signature: null }),
      await fake.deliver(storeA.storeId, payload, { signature: 'sha256=zz' }),
      await fake.deliver(storeA.storeId, payload, { signature: `sha1=${compactMac.slice(0, 40)}` }),
      // Signed over a re-serialisation, not over the bytes sent.
      await fake.deliver(storeA.storeId, payload, { signature: `sha256=${compactMac}` }),
      // Another store's secret.
      await fake.deliver(storeA.storeId, payload, { secret: storeB.webhookSecret }),
    ];
    for (const a of attempts) {
      expect(a.status).toBe(401);
      expect(a.answer).toEqual({ error: 'invalid_signature', message: expect.any(String) });
    }
    await new Promise((r) => setTimeout(r, 100));
    expect((await paymentsOf(hooked, c.key, c.assetId))[0]?.status).toBe('pending');
    expect(await paidEvents(hooked, c.key, c.assetId)).toEqual([]);
    // The same delivery id, now correctly signed, is not taken for a duplicate of the refused ones.
    expect((await fake.deliver(storeA.storeId, payload)).answer).toEqual({ ok: true, settled: true, payment_id: c.paymentId });
  });

  it("settles nothing when the webhook claims InvoiceSettled but BTCPay's API says New", async () => {
    const c = await pendingCheckout();
    const lie = await fake.send('InvoiceSettled', c.invoiceId, { extra: { manuallyMarked: false, overPaid: false } });
    expect(lie.status).toBe(200);
    expect(lie.answer).toEqual({ ok: true, settled: false, payment_id: c.paymentId });
    expect(fake.requests.filter((r) => r.path === `/api/v1/stores/${storeA.storeId}/invoices/${c.invoiceId}`).map((r) => r.method)).toEqual(['GET']);
    expect((await paymentsOf(hooked, c.key, c.assetId))[0]?.status).toBe('pending');
    expect(await paidEvents(hooked, c.key, c.assetId)).toEqual([]);
  });

  it('answers 200 to test deliveries, unknown invoices and other event types; 503 when BTCPay cannot be asked', async () => {
    const base = {
      deliveryId: btcpayId(),
      webhookId: 'wh',
      originalDeliveryId: 'o',
      isRedelivery: false,
      type: 'InvoiceSettled',
      timestamp: 1,
      storeId: storeA.storeId,
    };
    const test = await fake.deliver(storeA.storeId, {
      manuallyMarked: false,
      overPaid: false,
      ...base,
      invoiceId: `__test__${randomUUID()}__test__`,
      metadata: null,
    });
    expect([test.status, test.answer]).toEqual([200, { ok: true, test: true }]);
    const unknown = await fake.deliver(storeA.storeId, { ...base, deliveryId: btcpayId(), invoiceId: btcpayId(), metadata: { orderId: 'someoneelses' } });
    expect([unknown.status, unknown.answer]).toEqual([200, { ok: true, ignored: true }]);

    const c = await pendingCheckout();
    const created = await fake.send('InvoiceCreated', c.invoiceId);
    expect(created.answer).toEqual({ ok: true, ignored: true });
    fake.setStatus(c.invoiceId, 'Settled');
    fake.failNext(503, 1, `/invoices/${c.invoiceId}`);
    const failed = await fake.send('InvoiceSettled', c.invoiceId);
    expect(failed.status).toBe(503);
    expect(failed.answer.error).toBe('backend_unavailable');
    // BTCPay's retry (a new delivery id) then settles it.
    expect((await fake.redeliver(failed, storeA.storeId)).answer).toEqual({ ok: true, settled: true, payment_id: c.paymentId });
  });

  it('refuses bodies without a store id (400) and stores it has no secret for (401)', async () => {
    const noStore = await hooked.request('POST', BTCPAY_WEBHOOK_PATH, { body: { deliveryId: 'x', type: 'InvoiceSettled' } });
    expect([noStore.status, noStore.body.error]).toEqual([400, 'invalid_body']);
    const notJson = await hooked.request('POST', BTCPAY_WEBHOOK_PATH, { raw: '{"storeId": ', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    const stranger = fake.addStore({ webhookUrl: `${hooked.url}${BTCPAY_WEBHOOK_PATH}` });
    const unknown = await fake.deliver(stranger.storeId, {
      deliveryId: btcpayId(),
      type: 'InvoiceSettled',
      storeId: stranger.storeId,
      invoiceId: 'abc',
      metadata: {},
    });
    expect([unknown.status, unknown.answer.error]).toEqual([401, 'invalid_signature']);
  });

  it("checks an account wallet's deliveries with that wallet's secret, and only for its own payments", async () => {
    const m = await machine(hooked);
    const wallet = await hooked.request('PUT', '/api/v1/accounts/me/wallet', {
      token: m.key,
      body: { backend: 'btcpay', url: fake.url, store_id: storeB.storeId, api_key: storeB.apiKey, webhook_secret: storeB.webhookSecret },
    });
    expect(wallet.status).toBe(200);
    const res = await checkout(hooked, m.key, m.assetId);
    const invoiceId = invoiceIdOf(res.body.checkout_url);
    expect(fake.invoices.get(invoiceId)?.storeId).toBe(storeB.storeId);
    fake.setStatus(invoiceId, 'Settled');
    const payload = JSON.parse((await fake.send('InvoiceCreated', invoiceId)).body) as Record<string, unknown>;

    // Signed by the server default's store A, naming this payment: not this account's secret.
    const foreign = await fake.deliver(storeA.storeId, { ...payload, type: 'InvoiceSettled', deliveryId: btcpayId(), storeId: storeA.storeId });
    expect(foreign.answer).toEqual({ ok: true, ignored: true });
    // Naming store B, signed with store A's secret.
    const forged = await fake.deliver(storeB.storeId, { ...payload, type: 'InvoiceSettled', deliveryId: btcpayId() }, { secret: storeA.webhookSecret });
    expect(forged.status).toBe(401);
    expect((await paymentsOf(hooked, m.key, m.assetId))[0]?.status).toBe('pending');

    const deliveries = await fake.settle(invoiceId);
    expect(deliveries.at(-1)?.answer).toEqual({ ok: true, settled: true, payment_id: res.body.payment_id });
    expect(await paidEvents(hooked, m.key, m.assetId)).toHaveLength(1);
  });
});

// ------------------------------------------------------------------------------------ account wallet

describe("as an account's own wallet", () => {
  const walletBody = () => ({ backend: 'btcpay', url: fake.url, store_id: storeC.storeId, api_key: storeC.apiKey, webhook_secret: storeC.webhookSecret });

  it('stores the secrets sealed and never shows them; refuses wrong fields', async () => {
    const acct = await devBridge.signup('wallet-bot');
    const put = await devBridge.request('PUT', '/api/v1/accounts/me/wallet', { token: acct.key, body: walletBody() });
    expect(put.status).toBe(200);
    const view = { backend: 'btcpay', source: 'account', settings: { url: fake.url, store_id: storeC.storeId }, secrets_set: ['api_key', 'webhook_secret'] };
    expect(put.body).toMatchObject(view);
    const get = await devBridge.request('GET', '/api/v1/accounts/me/wallet', { token: acct.key });
    expect(get.body).toMatchObject(view);
    for (const text of [put.text, get.text]) {
      expect(text).not.toContain(storeC.apiKey);
      expect(text).not.toContain(storeC.webhookSecret);
    }
    const { api_key: _k, ...noKey } = walletBody();
    const bad: Record<string, unknown>[] = [
      noKey,
      { ...walletBody(), macaroon: 'x' },
      { ...walletBody(), url: 'not a url' },
      { ...walletBody(), url: 'ftp://btcpay.example' },
      { ...walletBody(), store_id: '../admin' },
      { ...walletBody(), api_key: 'has space' },
      { ...walletBody(), webhook_secret: 42 },
    ];
    for (const body of bad) {
      const res = await devBridge.request('PUT', '/api/v1/accounts/me/wallet', { token: acct.key, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('invalid_body');
      expect(res.text).not.toContain(storeC.apiKey);
    }
  });

  it("serves LNURL-pay from the account's store and settles once by polling", async () => {
    const m = await machine(devBridge);
    expect((await devBridge.request('PUT', '/api/v1/accounts/me/wallet', { token: m.key, body: walletBody() })).status).toBe(200);
    const settled = listen(devBridge);
    const result = await requestInvoice({ lnUrlOrAddress: m.link.lnurl, tokens: 1500 as never, validateInvoice: true });
    expect(result.hasValidDescriptionHash).toBe(true);
    const hash = new Invoice({ pr: result.invoice }).paymentHash;
    expect(fake.lightning.get(hash)?.storeId).toBe(storeC.storeId);
    fake.payLightning(hash);
    await until(async () => (await paymentsOf(devBridge, m.key, m.assetId))[0]?.status === 'settled', 3000, 'settlement by polling');
    await new Promise((r) => setTimeout(r, 150));
    expect(await paymentsOf(devBridge, m.key, m.assetId)).toHaveLength(1);
    expect(await paidEvents(devBridge, m.key, m.assetId)).toHaveLength(1);
    expect(settled).toHaveLength(1);
    devBridge.bridge.bus.off(settled);
  });

  it('answers 503 {status: "ERROR"} and stores nothing when the account\'s BTCPay is unreachable', async () => {
    const m = await machine(devBridge);
    const closed = 'http://127.0.0.1:9';
    expect((await devBridge.request('PUT', '/api/v1/accounts/me/wallet', { token: m.key, body: { ...walletBody(), url: closed } })).status).toBe(200);
    const res = await fetch(`${m.link.url}/callback?amount=1500000`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'ERROR', reason: expect.any(String) });
    expect(await paymentsOf(devBridge, m.key, m.assetId)).toEqual([]);
  });
});

describe('hygiene', () => {
  it('left no unhandled rejection behind', () => {
    expect(rejections).toEqual([]);
  });
});
