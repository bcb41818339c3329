/**
 * The LNbits backend against a stand-in LNbits (test/lightning/fakes/lnbits.ts): the backend class
 * on its own (requests, invoice checks, lookups, errors, timeouts), then end to end through a
 * listening bridge, as the server default and as an account's own wallet, paid with `lnurl-pay`.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Invoice } from '@getalby/lightning-tools';
import bolt11 from 'bolt11';
import { requestInvoice } from 'lnurl-pay';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../bridge/config.js';
import { BackendError, type InvoiceRequest } from '../../bridge/lightning/backends/backend.js';
import { LnbitsBackend, lnbitsSpec } from '../../bridge/lightning/backends/lnbits.js';
import { startBridge, testOutbound, type TestBridge } from '../helpers/bridge.js';
import { allPayments, createMachine, invoice } from '../helpers/machine.js';
import { connectMqtt } from '../helpers/mqtt.js';
import { until } from '../helpers/receiver.js';
import { FakeLnbits } from './fakes/lnbits.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

const METADATA = JSON.stringify([['text/plain', 'Coffee machine: 21 sats']]);
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

function invoiceRequest(over: Partial<InvoiceRequest> = {}): InvoiceRequest {
  return {
    amountMsat: 21_000,
    descriptionHash: sha256(METADATA),
    metadata: METADATA,
    memo: 'Coffee machine (paywire p1)',
    expirySeconds: 600,
    paymentId: 'p1',
    ...over,
  };
}

/** The rejection of `promise`, which must be a BackendError. */
async function backendError(promise: Promise<unknown>): Promise<BackendError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  return err as BackendError;
}

describe('LnbitsBackend against a fake LNbits', () => {
  let fake: FakeLnbits;
  let backend: LnbitsBackend;
  beforeAll(async () => {
    fake = await FakeLnbits.start();
    // Generous: a slow localhost answer on a loaded machine is not a hang (the hang test has its own).
    backend = new LnbitsBackend({ url: `${fake.url}/` }, { invoice_key: fake.invoiceKey }, { timeoutMs: 10_000, outbound: testOutbound() });
  });
  afterEach(() => {
    fake.failure = undefined;
    fake.version = '1.5';
    fake.tamper = undefined;
    expect(fake.problems).toEqual([]);
  });
  afterAll(async () => {
    await fake.close();
  });

  it('creates an invoice with the documented request and returns what the invoice says', async () => {
    const before = Date.now();
    const created = await backend.createInvoice(invoiceRequest());
    const sent = fake.requests.at(-1);
    expect(sent).toMatchObject({ method: 'POST', path: '/api/v1/payments' });
    expect(sent?.headers['x-api-key']).toBe(fake.invoiceKey);
    expect(sent?.body).toEqual({
      out: false,
      amount: 21,
      unit: 'sat',
      memo: 'Coffee machine (paywire p1)',
      unhashed_description: Buffer.from(METADATA).toString('hex'),
      expiry: 600,
    });
    const stored = fake.invoices.get(created.paymentHash);
    expect(stored?.pr).toBe(created.pr);
    expect(created.ref).toBeNull();
    const decoded = bolt11.decode(created.pr);
    expect(decoded.millisatoshis).toBe('21000');
    expect(decoded.tagsObject.purpose_commit_hash).toBe(sha256(METADATA));
    expect(decoded.tagsObject.payment_hash).toBe(created.paymentHash);
    const expires = Date.parse(created.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  it("takes every version's answer: 0.12, 1.0-1.3 (bolt11 only), 1.4+ (bolt11 and payment_request)", async () => {
    for (const version of ['0.12', '1.0', '1.5'] as const) {
      fake.version = version;
      const created = await backend.createInvoice(invoiceRequest());
      expect(fake.invoices.get(created.paymentHash)?.pr, version).toBe(created.pr);
      expect(await backend.lookupInvoice(created.paymentHash), version).toEqual({ settled: false, preimage: null, dead: false });
      fake.markPaid(created.paymentHash);
      expect((await backend.lookupInvoice(created.paymentHash)).settled, version).toBe(true);
    }
  });

  it('counts a payment unknown only on LNbits\' own 404 "Payment does not exist."', async () => {
    const created = await backend.createInvoice(invoiceRequest());
    // The URL with a prefix LNbits does not serve (a wrong path, a proxy in between): FastAPI's 404 "Not Found".
    const misplaced = new LnbitsBackend({ url: `${fake.url}/lnbits` }, { invoice_key: fake.invoiceKey }, { timeoutMs: 10_000, outbound: testOutbound() });
    const lookup = await backendError(misplaced.lookupInvoice(created.paymentHash));
    expect(lookup.message).toMatch(/no payments API at this URL \(HTTP 404: Not Found\)/);
    expect(lookup.transient).toBe(false);
    const create = await backendError(misplaced.createInvoice(invoiceRequest()));
    expect(create.message).toMatch(/no payments API at this URL/);
    expect(fake.problems.splice(0)).toEqual([
      `GET /lnbits/api/v1/payments/${created.paymentHash}: not an LNbits endpoint the bridge should call`,
      'POST /lnbits/api/v1/payments: not an LNbits endpoint the bridge should call',
    ]);
    // Another 404 with a detail is not a verdict either.
    fake.failure = { status: 404, body: { detail: 'Wallet not found.' } };
    await backendError(backend.lookupInvoice(created.paymentHash));
    fake.failure = undefined;
    fake.forget(created.paymentHash);
    expect(await backend.lookupInvoice(created.paymentHash)).toEqual({ settled: false, preimage: null, dead: true });
  });

  it('answers like LNbits: validation errors 400 with a text detail, unknown fields ignored', async () => {
    const post = (body: unknown) =>
      fetch(`${fake.url}/api/v1/payments`, {
        method: 'POST',
        headers: { 'x-api-key': fake.invoiceKey, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const bad = await post({ out: false, amount: 21, unit: 'sat', unhashed_description: 'zz', expiry: 60 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ detail: expect.stringMatching(/'unhashed_description' must be a valid hex string/) });
    // A misspelt field is dropped, not refused: the invoice is for the memo, and the backend refuses it.
    const misspelt = await post({ out: false, amount: 21, unit: 'sat', memo: 'm', unhashed_descripton: Buffer.from(METADATA).toString('hex'), expiry: 60 });
    expect(misspelt.status).toBe(201);
    const pr = ((await misspelt.json()) as { bolt11: string }).bolt11;
    expect(bolt11.decode(pr).tagsObject.description).toBe('m');
    expect(fake.problems.splice(0)).toEqual([
      "POST /api/v1/payments: 'unhashed_description' must be a valid hex string",
      'POST /api/v1/payments: unknown field unhashed_descripton (LNbits ignores it)',
      'POST /api/v1/payments: no unhashed_description: LNbits makes an invoice for the memo',
    ]);
    // What the backend makes of such a 400.
    fake.failure = { status: 400, body: { detail: '1 validation error for CreateInvoice\namount\n  ensure this value is greater than or equal to 0' } };
    const err = await backendError(backend.createInvoice(invoiceRequest()));
    expect(err.transient).toBe(false);
    expect(err.message).toMatch(/HTTP 400: 1 validation error for CreateInvoice/);
  });

  it('refuses an invoice that a validating wallet would refuse (amount, description hash)', async () => {
    fake.tamper = 'amount';
    const amount = await backendError(backend.createInvoice(invoiceRequest()));
    expect(amount.transient).toBe(false);
    expect(amount.message).toMatch(/22000 msat instead of 21000/);
    fake.tamper = 'description_hash';
    const hash = await backendError(backend.createInvoice(invoiceRequest()));
    expect(hash.transient).toBe(false);
    expect(hash.message).toMatch(/description hash/);
  });

  it('refuses amounts that are not whole sats before asking LNbits', async () => {
    const count = fake.requests.length;
    const err = await backendError(backend.createInvoice(invoiceRequest({ amountMsat: 21_500 })));
    expect(err.transient).toBe(false);
    expect(fake.requests).toHaveLength(count);
  });

  it('looks invoices up: pending, paid with its preimage, failed, unknown', async () => {
    const created = await backend.createInvoice(invoiceRequest());
    expect(await backend.lookupInvoice(created.paymentHash)).toEqual({ settled: false, preimage: null, dead: false });
    const lookup = fake.requests.at(-1);
    expect(lookup).toMatchObject({ method: 'GET', path: `/api/v1/payments/${created.paymentHash}` });
    expect(lookup?.headers['x-api-key']).toBe(fake.invoiceKey);

    fake.markPaid(created.paymentHash);
    const paid = await backend.lookupInvoice(created.paymentHash);
    expect(paid).toMatchObject({ settled: true, dead: false });
    expect(sha256(Buffer.from(paid.preimage ?? '', 'hex'))).toBe(created.paymentHash);

    const failed = await backend.createInvoice(invoiceRequest());
    fake.markFailed(failed.paymentHash);
    expect(await backend.lookupInvoice(failed.paymentHash)).toEqual({ settled: false, preimage: null, dead: true });

    const gone = await backend.createInvoice(invoiceRequest());
    fake.forget(gone.paymentHash);
    expect(await backend.lookupInvoice(gone.paymentHash)).toEqual({ settled: false, preimage: null, dead: true });
  });

  it('reports an invoice LNbits let run out as dead', async () => {
    // The invoice's timestamp is in whole seconds: one of 1 s can run out a moment after it is made,
    // so give it 2 s to be seen open first.
    const created = await backend.createInvoice(invoiceRequest({ expirySeconds: 2 }));
    expect((await backend.lookupInvoice(created.paymentHash)).dead).toBe(false);
    await until(async () => (await backend.lookupInvoice(created.paymentHash)).dead, 5000, 'the invoice to run out');
  });

  it('does not trust a preimage that does not hash to the payment hash', async () => {
    const created = await backend.createInvoice(invoiceRequest());
    fake.failure = { status: 200, body: { paid: true, preimage: 'ab'.repeat(32), details: {} } };
    expect(await backend.lookupInvoice(created.paymentHash)).toEqual({ settled: true, preimage: null, dead: false });
  });

  it('treats a refused key as a permanent error', async () => {
    const wrong = new LnbitsBackend({ url: fake.url }, { invoice_key: 'not-the-key' }, { timeoutMs: 10_000, outbound: testOutbound() });
    const err = await backendError(wrong.createInvoice(invoiceRequest()));
    expect(err.transient).toBe(false);
    expect(err.message).toMatch(/refused the invoice key \(HTTP 404: Wallet not found\.\)/);
    expect(err.message).not.toContain('not-the-key');
    for (const status of [401, 403]) {
      fake.failure = { status, body: { detail: 'Invalid key.' } };
      expect((await backendError(backend.createInvoice(invoiceRequest()))).transient).toBe(false);
      expect((await backendError(backend.lookupInvoice('a'.repeat(64)))).transient).toBe(false);
    }
  });

  it('treats server faults (5xx, LNbits 520) as transient', async () => {
    for (const status of [500, 502, 503, 520]) {
      fake.failure = { status, body: { detail: 'funding source unavailable' } };
      const create = await backendError(backend.createInvoice(invoiceRequest()));
      expect(create.transient, String(status)).toBe(true);
      expect(create.message).toContain(`HTTP ${status}: funding source unavailable`);
      expect((await backendError(backend.lookupInvoice('a'.repeat(64)))).transient).toBe(true);
    }
  });

  it('gives up on a hanging LNbits within the timeout', async () => {
    fake.failure = 'hang';
    const impatient = new LnbitsBackend({ url: fake.url }, { invoice_key: fake.invoiceKey }, { timeoutMs: 400, outbound: testOutbound() });
    for (const call of [() => impatient.createInvoice(invoiceRequest()), () => impatient.lookupInvoice('b'.repeat(64))]) {
      const started = Date.now();
      const err = await backendError(call());
      const took = Date.now() - started;
      expect(err.message).toMatch(/timed out after 400 ms/);
      expect(err.transient).toBe(true);
      expect(took).toBeGreaterThanOrEqual(350);
      expect(took).toBeLessThan(10_000); // a hang: until the test times out
    }
  });

  it("turns answers that are not JSON, or not LNbits', into BackendErrors", async () => {
    fake.failure = 'garbage';
    expect((await backendError(backend.createInvoice(invoiceRequest()))).message).toMatch(/not JSON/);
    expect((await backendError(backend.lookupInvoice('c'.repeat(64)))).message).toMatch(/not JSON/);
    fake.failure = { status: 201, body: { checking_id: 'x' } };
    expect((await backendError(backend.createInvoice(invoiceRequest()))).message).toMatch(/without a payment_hash/);
    fake.failure = { status: 201, body: { payment_hash: 'd'.repeat(64), payment_request: 'lnbcrt1nonsense' } };
    expect((await backendError(backend.createInvoice(invoiceRequest()))).message).toMatch(/not a BOLT 11 invoice/);
    fake.failure = { status: 200, body: { paid: 'yes' } };
    expect((await backendError(backend.lookupInvoice('c'.repeat(64)))).message).toMatch(/boolean `paid`/);
    // A 404 that is not LNbits' (a wrong URL) must not kill the payment.
    fake.failure = { status: 404, body: ['not', 'lnbits'] };
    await backendError(backend.lookupInvoice('c'.repeat(64)));
  });

  it('treats an unreachable LNbits as transient', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = new LnbitsBackend({ url: `http://127.0.0.1:${port}` }, { invoice_key: 'k' }, { timeoutMs: 10_000, outbound: testOutbound() });
    const err = await backendError(down.createInvoice(invoiceRequest()));
    expect(err.transient).toBe(true);
    expect(err.message).toMatch(/refused/);
  });

  it('validates its settings and secrets', () => {
    expect(lnbitsSpec.settings.safeParse({ url: 'https://lnbits.example.com' }).success).toBe(true);
    expect(lnbitsSpec.settings.safeParse({ url: 'ftp://lnbits.example.com' }).success).toBe(false);
    expect(lnbitsSpec.settings.safeParse({ url: 'https://lnbits.example.com', invoice_key: 'k' }).success).toBe(false);
    expect(lnbitsSpec.secrets.safeParse({ invoice_key: 'abc123' }).success).toBe(true);
    expect(lnbitsSpec.secrets.safeParse({ invoice_key: 'has space' }).success).toBe(false);
    expect(lnbitsSpec.secrets.safeParse({}).success).toBe(false);
  });
});

/** An account with a priced machine and its payment link. */
async function machine(t: TestBridge, name = 'Coffee machine', price = 21) {
  const acct = await t.signup('lnbits-bot');
  const assetId = (await t.request('POST', '/api/v1/assets', { token: acct.key, body: { name, price_sats: price, duration_ms: 30_000 } })).body
    .asset_id as string;
  const link = (await t.request('POST', `/api/v1/assets/${assetId}/payment-link`, { token: acct.key })).body;
  return { key: acct.key, assetId, link };
}

/** Pay a machine through LNURL with lnurl-pay, let the fake LNbits mark it paid, and see it settle once. */
async function payEndToEnd(t: TestBridge, fake: FakeLnbits, key: string, assetId: string, lnurl: string) {
  const settledMessages: string[] = [];
  t.bridge.bus.on('payment.settled', settledMessages, ({ payment }) => {
    settledMessages.push(payment.payment_id);
  });
  try {
    const result = await requestInvoice({ lnUrlOrAddress: lnurl, tokens: 21 as never, validateInvoice: true });
    expect(result.hasValidAmount).toBe(true);
    expect(result.hasValidDescriptionHash).toBe(true);
    const hash = bolt11.decode(result.invoice).tagsObject.payment_hash as string;
    expect(fake.invoices.get(hash)?.pr).toBe(result.invoice);

    const list = async () => (await t.request('GET', `/api/v1/assets/${assetId}/payments`, { token: key })).body.payments as Record<string, unknown>[];
    expect(await list()).toMatchObject([{ payment_hash: hash, status: 'pending', amount_sats: 21 }]);
    expect(await new Invoice({ pr: result.invoice, verify: result.rawData['verify'] as string }).isPaid()).toBe(false);

    fake.markPaid(hash);
    const settled = await until(async () => (await list()).find((p) => p.status === 'settled'), 3000, 'settlement');
    expect(settled).toMatchObject({ payment_hash: hash, settled_at: expect.any(String) });
    const paid = new Invoice({ pr: result.invoice, verify: result.rawData['verify'] as string });
    expect(await paid.isPaid()).toBe(true);
    expect(sha256(Buffer.from(paid.preimage ?? '', 'hex'))).toBe(hash);

    // Several more poll rounds: still one settlement, one event, one bus message.
    await new Promise((r) => setTimeout(r, 300));
    expect(await list()).toHaveLength(1);
    const events = await t.request('GET', `/api/public/events?type=paid&asset_id=${assetId}`, { token: key });
    expect(events.body.events).toHaveLength(1);
    expect(events.body.events[0]).toMatchObject({ external_id: `lightning:${hash}`, source: 'lightning' });
    expect(settledMessages).toEqual([settled['payment_id']]);
  } finally {
    t.bridge.bus.off(settledMessages);
  }
}

describe('LNbits as the server default', () => {
  let fake: FakeLnbits;
  let t: TestBridge;
  beforeAll(async () => {
    fake = await FakeLnbits.start();
    t = await startBridge({
      LIGHTNING_BACKEND: 'lnbits',
      LNBITS_URL: fake.url,
      LNBITS_INVOICE_KEY: fake.invoiceKey,
      LIGHTNING_POLL_MS: 50,
      LIGHTNING_TIMEOUT_MS: 500,
    });
  });
  afterEach(() => {
    fake.failure = undefined;
    expect(fake.problems).toEqual([]);
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('pays end to end: a valid invoice, paid at LNbits, found by polling, settled once', async () => {
    const { key, assetId, link } = await machine(t);
    await payEndToEnd(t, fake, key, assetId, link.lnurl);
  });

  it('answers 503 {status: ERROR} and stores nothing while LNbits is down or hangs', async () => {
    const { key, assetId, link } = await machine(t);
    for (const failure of [{ status: 503 }, 'hang' as const]) {
      fake.failure = failure;
      const res = await fetch(`${link.url}/callback?amount=21000`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'ERROR', reason: expect.stringMatching(/lnbits/) });
    }
    expect((await t.request('GET', `/api/v1/assets/${assetId}/payments`, { token: key })).body.payments).toEqual([]);
  });

  it('names a missing setting at start-up', () => {
    expect(() => loadConfig({ env: { LIGHTNING_BACKEND: 'lnbits', LNBITS_URL: fake.url } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { LIGHTNING_BACKEND: 'lnbits', LNBITS_URL: fake.url } })).toThrow(/LNBITS_INVOICE_KEY/);
    expect(() => loadConfig({ env: { LIGHTNING_BACKEND: 'lnbits', LNBITS_URL: 'nope', LNBITS_INVOICE_KEY: 'k' } })).toThrow(/LNBITS_URL/);
  });
});

describe("LNbits as an account's own wallet", () => {
  let fake: FakeLnbits;
  let t: TestBridge;
  beforeAll(async () => {
    fake = await FakeLnbits.start();
    t = await startBridge({ LIGHTNING_POLL_MS: 50 });
  });
  afterEach(() => {
    expect(fake.problems).toEqual([]);
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('takes the wallet, never shows its key, and refuses wrong fields', async () => {
    const { key } = await machine(t);
    const bad = [
      { backend: 'lnbits' },
      { backend: 'lnbits', url: fake.url },
      { backend: 'lnbits', invoice_key: fake.invoiceKey },
      { backend: 'lnbits', url: 'not a url', invoice_key: fake.invoiceKey },
      { backend: 'lnbits', url: fake.url, invoice_key: fake.invoiceKey, macaroon: '00' },
      { backend: 'lnbits', url: fake.url, invoice_key: 42 },
    ];
    for (const body of bad) {
      const res = await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('invalid_body');
      expect(res.text).not.toContain(fake.invoiceKey);
    }
    const put = await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body: { backend: 'lnbits', url: fake.url, invoice_key: fake.invoiceKey } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ backend: 'lnbits', source: 'account', settings: { url: fake.url }, secrets_set: ['invoice_key'] });
    expect(put.text).not.toContain(fake.invoiceKey);
    const got = await t.request('GET', '/api/v1/accounts/me/wallet', { token: key });
    expect(got.body).toEqual(put.body);
    expect(got.text).not.toContain(fake.invoiceKey);
  });

  it("pays end to end through the account's LNbits", async () => {
    const { key, assetId, link } = await machine(t);
    const put = await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body: { backend: 'lnbits', url: fake.url, invoice_key: fake.invoiceKey } });
    expect(put.status).toBe(200);
    const before = fake.requests.length;
    await payEndToEnd(t, fake, key, assetId, link.lnurl);
    expect(fake.requests.slice(before).filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('keeps a pending invoice when the same wallet is saved again, and looks it up at the old one no more once the wallet moves', async () => {
    const { key, assetId, link } = await machine(t);
    const wallet = { backend: 'lnbits', url: fake.url, invoice_key: fake.invoiceKey };
    expect((await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body: wallet })).status).toBe(200);
    const payments = async () =>
      (await t.request('GET', `/api/v1/assets/${assetId}/payments`, { token: key })).body.payments as { payment_hash: string; status: string }[];
    const invoiceHash = async () => new Invoice({ pr: ((await (await fetch(`${link.url}/callback?amount=21000`)).json()) as { pr: string }).pr }).paymentHash;

    // Saved again, settings given in another order (as after rotating the invoice key): the same wallet.
    const kept = await invoiceHash();
    expect(
      (await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body: { invoice_key: fake.invoiceKey, url: fake.url, backend: 'lnbits' } })).status,
    ).toBe(200);
    fake.markPaid(kept);
    await until(async () => (await payments()).find((p) => p.payment_hash === kept && p.status === 'settled'), 5000, 'the payment to settle');

    // Moved to another server: the invoice made at the first is not looked up at the second.
    const moved = await invoiceHash();
    const lookups = () => fake.requests.filter((r) => r.method === 'GET' && r.path.includes(moved)).length;
    expect((await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body: { ...wallet, url: `${fake.url}/elsewhere` } })).status).toBe(200);
    const before = lookups();
    fake.markPaid(moved);
    await new Promise((r) => setTimeout(r, 300));
    expect(lookups()).toBe(before);
    expect((await payments()).find((p) => p.payment_hash === moved)?.status).toBe('pending');
  });

  it("answers 503 when the account's LNbits refuses its key, and stores nothing", async () => {
    const { key, assetId, link } = await machine(t);
    await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body: { backend: 'lnbits', url: fake.url, invoice_key: 'revoked-key' } });
    const res = await fetch(`${link.url}/callback?amount=21000`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; reason: string };
    expect(body).toEqual({ status: 'ERROR', reason: "The machine's Lightning wallet (lnbits) could not make an invoice" });
    expect(body.reason).not.toContain('revoked-key');
    expect((await t.request('GET', `/api/v1/assets/${assetId}/payments`, { token: key })).body.payments).toEqual([]);
  });
});

describe('a payment made while the bridge is down', () => {
  let fake: FakeLnbits;
  let dataDir: string;
  const env = () => ({ LIGHTNING_BACKEND: 'lnbits', LNBITS_URL: fake.url, LNBITS_INVOICE_KEY: fake.invoiceKey, LIGHTNING_POLL_MS: 60_000 });
  beforeAll(async () => {
    fake = await FakeLnbits.start();
    dataDir = await mkdtemp(join(tmpdir(), 'paywire-lnbits-restart-'));
  });
  afterAll(async () => {
    await fake.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  // A settlement is at LNbits first: the bridge finds what was paid while it was away (or what a
  // crash cut off before its disk sync) in its first pass at start, not one poll interval later.
  it('is settled at start from LNbits and reaches the machine over MQTT', async () => {
    const first = await startBridge(env(), { dataDir });
    const m = await createMachine(first.url, 'Restart');
    const hash = await invoice(m, 10);
    await first.stop();
    fake.markPaid(hash);

    const second = await startBridge(env(), { dataDir });
    try {
      const again = { ...m, url: second.url };
      const device = await connectMqtt(`mqtt://127.0.0.1:${second.info.mqttPort}`, { username: m.userId, password: m.key });
      await device.client.subscribeAsync(m.topic('payment'), { qos: 1 });
      await until(() => device.received.length > 0, 3000, 'the payment on MQTT');
      const [message] = device.on(m.topic('payment')) as { payment_id: string; amount_sats: number }[];
      const [payment] = await allPayments(again);
      expect(payment).toMatchObject({ payment_hash: hash, status: 'settled', payment_id: message?.payment_id });
      expect(message).toMatchObject({ amount_sats: 10 });
      await device.end();
    } finally {
      await second.stop();
    }
  });
});
