/**
 * The Lightning-address proxy backend (`lnaddress`): directly against a fake LUD-06/16/21 service,
 * and end to end between two real bridges, where bridge A forwards an asset's payments to a payment
 * link's Lightning address on bridge B and learns of the settlement through B's LUD-21 verify URL.
 */
import { createHash } from 'node:crypto';
import { Invoice } from '@getalby/lightning-tools';
import bolt11 from 'bolt11';
import { requestInvoice } from 'lnurl-pay';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, type InvoiceRequest } from '../../bridge/lightning/backends/backend.js';
import { LnAddressBackend, wellKnownUrl, withQuery } from '../../bridge/lightning/backends/lnaddress.js';
import { ADMIN_TOKEN, startBridge, testOutbound, type TestBridge } from '../helpers/bridge.js';
import { until } from '../helpers/receiver.js';
import { startLnurlService, type LnurlService } from './fakes/lnurl-service.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

let fake: LnurlService;
beforeAll(async () => {
  fake = await startLnurlService();
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => {
  // Whatever a test did, the backend never sent the remote service anything LNURL does not allow.
  expect(fake.violations).toEqual([]);
  Object.assign(fake, { payRequestMode: 'ok', callbackMode: 'ok', verifyMode: 'ok', payRequestOverrides: {}, callbackQuery: '', invoiceExpirySeconds: 600 });
});

/** The error a promise rejects with (a test of a failure fails if it resolves). */
async function failure(promise: Promise<unknown>): Promise<BackendError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  return err as BackendError;
}

let users = 0;
/** A user of the fake service and a backend forwarding to it; only the hang tests need a short timeout. */
function user(options: Parameters<LnurlService['addUser']>[1] = {}, timeoutMs = 10_000) {
  const address = fake.addUser(`user${++users}`, options);
  const metadata = fake.users.get(`user${users}`)?.metadata as string;
  const backend = new LnAddressBackend(address, { timeoutMs, outbound: testOutbound() });
  const request = (amountMsat = 21_000, extra: Partial<InvoiceRequest> = {}): InvoiceRequest => ({
    amountMsat,
    descriptionHash: sha256(metadata),
    metadata,
    memo: 'test',
    expirySeconds: 600,
    paymentId: 'p1',
    ...extra,
  });
  return { address, metadata, backend, request };
}

describe('LUD-16 resolution and callback queries', () => {
  it('uses https except for loopback and onion hosts', () => {
    expect(wellKnownUrl('You@GetAlby.com')).toBe('https://getalby.com/.well-known/lnurlp/you');
    expect(wellKnownUrl('a.b@127.0.0.1:3000')).toBe('http://127.0.0.1:3000/.well-known/lnurlp/a.b');
    expect(wellKnownUrl('a@localhost')).toBe('http://localhost/.well-known/lnurlp/a');
    expect(wellKnownUrl('a@[::1]:8080')).toBe('http://[::1]:8080/.well-known/lnurlp/a');
    expect(wellKnownUrl('a@abcdef.onion')).toBe('http://abcdef.onion/.well-known/lnurlp/a');
    expect(wellKnownUrl('a@127.0.0.1.example.com')).toBe('https://127.0.0.1.example.com/.well-known/lnurlp/a');
    expect(wellKnownUrl('a@localhost.example.com:443')).toBe('https://localhost.example.com:443/.well-known/lnurlp/a');
    for (const bad of ['nobody', '@example.com', 'a@', 'a b@example.com', 'a@exa/mple.com']) expect(() => wellKnownUrl(bad), bad).toThrow(BackendError);
  });

  it("appends parameters with ? or & and keeps the callback's own query", () => {
    expect(withQuery('https://x.io/cb', { amount: '1000' })).toBe('https://x.io/cb?amount=1000');
    expect(withQuery('https://x.io/cb?k=v', { amount: '1000' })).toBe('https://x.io/cb?k=v&amount=1000');
    expect(withQuery('https://x.io/cb?', { amount: '1' })).toBe('https://x.io/cb?amount=1');
    expect(withQuery('https://x.io/cb?k=a%2Bb', { amount: '1', comment: 'tea & ☕' })).toBe('https://x.io/cb?k=a%2Bb&amount=1&comment=tea%20%26%20%E2%98%95');
  });
});

describe('payParams (LUD-06 payRequest)', () => {
  it('returns the remote metadata and limits, fetched once for wallets that call twice', async () => {
    const u = user({ minSendable: 5_000, maxSendable: 2_000_000, commentAllowed: 32 });
    const seen = () => fake.requests.filter((r) => r.path === `/.well-known/lnurlp/${u.address.split('@')[0]}`).length;
    const results = await Promise.all([u.backend.payParams(), u.backend.payParams(), u.backend.payParams()]);
    expect(await u.backend.payParams()).toEqual({ metadata: u.metadata, minSendable: 5_000, maxSendable: 2_000_000, commentAllowed: 32 });
    expect(results.every((r) => r.metadata === u.metadata)).toBe(true);
    expect(seen()).toBe(1);
    const uncached = new LnAddressBackend(u.address, { timeoutMs: 10_000, cacheMs: 0, outbound: testOutbound() });
    await uncached.payParams();
    await uncached.payParams();
    expect(seen()).toBe(3);
  });

  it('refuses invalid payRequests', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ tag: 'withdrawRequest' }, /tag/],
      [{ minSendable: 5_000, maxSendable: 1_000 }, /above maxSendable/],
      [{ minSendable: 1.5 }, /whole millisatoshis/],
      [{ maxSendable: '1000' }, /whole millisatoshis/],
      [{ metadata: 'not json' }, /metadata/],
      [{ metadata: '{"text/plain":"x"}' }, /metadata/],
      [{ metadata: [['text/plain', 'x']] }, /metadata/],
      [{ callback: 'http://example.com/cb' }, /callback/],
      [{ callback: 'not a url' }, /callback/],
      [{ commentAllowed: -1 }, /commentAllowed/],
    ];
    for (const [override, message] of cases) {
      fake.payRequestOverrides = override;
      const err = await failure(user().backend.payParams());
      expect(err.message, JSON.stringify(override)).toMatch(message);
      expect(err.transient).toBe(false);
    }
  });

  it('reports unknown users, LNURL errors, 5xx, garbage and timeouts as BackendErrors', async () => {
    const unknown = await failure(new LnAddressBackend(`nobody@${fake.host}`, { timeoutMs: 10_000, outbound: testOutbound() }).payParams());
    expect(unknown.message).toMatch(/does not know nobody@/);
    fake.payRequestMode = 'lnurl-error';
    expect((await failure(user().backend.payParams())).message).toMatch(/Service temporarily refuses payments/);
    fake.payRequestMode = 502;
    expect(await failure(user().backend.payParams())).toMatchObject({ transient: true, message: expect.stringMatching(/HTTP 502/) });
    fake.payRequestMode = 'garbage';
    expect((await failure(user().backend.payParams())).message).toMatch(/not JSON/);
    fake.payRequestMode = 'hang';
    const started = Date.now();
    expect((await failure(user({}, 300).backend.payParams())).message).toMatch(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(10_000); // a hang: until the test times out
    expect((await failure(new LnAddressBackend(null, { timeoutMs: 300, outbound: testOutbound() }).payParams())).message).toMatch(/no Lightning address/);
  });
});

describe('createInvoice (LUD-06 callback, LUD-21 verify)', () => {
  it('fetches a checked invoice, forwarding the amount and comment, keeping the callback query', async () => {
    fake.callbackQuery = 'k=a+b';
    fake.invoiceExpirySeconds = 120;
    const u = user({ commentAllowed: 20 });
    const before = Date.now();
    const created = await u.backend.createInvoice(u.request(21_000, { comment: 'tea & ☕' }));
    const decoded = bolt11.decode(created.pr);
    expect(decoded.millisatoshis).toBe('21000');
    expect(decoded.tagsObject.purpose_commit_hash).toBe(sha256(u.metadata));
    expect(created.paymentHash).toBe(decoded.tagsObject.payment_hash);
    expect(created.ref).toBe(`${fake.url}/verify/${created.paymentHash}`);
    // The invoice's timestamp is in whole seconds, taken between `before` and now.
    const expires = Date.parse(created.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 120_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 120_000);
    const call = fake.requests.findLast((r) => r.path.endsWith('/callback'));
    expect(call?.query.get('amount')).toBe('21000');
    expect(call?.query.get('comment')).toBe('tea & ☕');
    expect(call?.query.get('k')).toBe('a b');
    expect(fake.invoices.get(created.paymentHash)?.pr).toBe(created.pr);
  });

  it('refuses bad invoices, missing verify and LNURL errors; 5xx, garbage and hangs are BackendErrors', async () => {
    const cases: [typeof fake.callbackMode, RegExp, boolean][] = [
      ['lnurl-error', /refused the invoice: Service temporarily refuses payments/, false],
      ['wrong-hash', /description hash mismatch/, false],
      ['wrong-amount', /22000 msat instead of 21000/, false],
      ['no-verify', new RegExp(`${fake.host.replace(/\./g, '\\.')} does not support LUD-21 verify`), false],
      ['bad-pr', /not a BOLT 11 invoice/, false],
      [503, /HTTP 503/, true],
      ['garbage', /not JSON/, true],
      ['hang', /timed out after 300 ms/, true],
    ];
    for (const [mode, message, transient] of cases) {
      fake.callbackMode = mode;
      const u = mode === 'hang' ? user({}, 300) : user();
      const err = await failure(u.backend.createInvoice(u.request()));
      expect(err.message, String(mode)).toMatch(message);
      expect(err.transient, String(mode)).toBe(transient);
    }
  });

  it('refuses an invoice that does not commit to the metadata the bridge served', async () => {
    const u = user();
    const err = await failure(u.backend.createInvoice(u.request(21_000, { descriptionHash: sha256('other metadata') })));
    expect(err.message).toMatch(/description hash mismatch/);
  });
});

describe('lookupInvoice (LUD-21)', () => {
  it('is unpaid, then settled with a preimage that hashes to the payment hash', async () => {
    const u = user();
    const created = await u.backend.createInvoice(u.request());
    expect(await u.backend.lookupInvoice(created.paymentHash, created.ref)).toEqual({ settled: false, preimage: null, dead: false });
    fake.pay(created.paymentHash);
    const paid = await u.backend.lookupInvoice(created.paymentHash, created.ref);
    expect(paid).toMatchObject({ settled: true, dead: false });
    expect(sha256(Buffer.from(paid.preimage as string, 'hex'))).toBe(created.paymentHash);
  });

  it('does not trust a verify that lies, has no preimage, or answers for another invoice', async () => {
    const u = user();
    await u.backend.createInvoice(u.request());
    const created = await u.backend.createInvoice(u.request());
    fake.verifyMode = 'lie';
    expect(await u.backend.lookupInvoice(created.paymentHash, created.ref)).toEqual({ settled: false, preimage: null, dead: false });
    fake.verifyMode = 'no-preimage';
    expect((await u.backend.lookupInvoice(created.paymentHash, created.ref)).settled).toBe(false);
    fake.verifyMode = 'other-pr';
    expect((await failure(u.backend.lookupInvoice(created.paymentHash, created.ref))).message).toMatch(/another invoice/);
    expect((await failure(u.backend.lookupInvoice(created.paymentHash, null))).message).toMatch(/no LUD-21 verify URL/);
  });

  // Settlement expires a payment whose invoice ran out whatever the backend says: an unknown invoice
  // is just unpaid, and only one the service answers for is seen dead once it expires.
  it('treats unknown invoices as unpaid, and known ones as dead once expired', async () => {
    fake.invoiceExpirySeconds = 2;
    const u = user();
    const a = await u.backend.createInvoice(u.request());
    const b = await u.backend.createInvoice(u.request());
    fake.forget(a.paymentHash);
    expect(await u.backend.lookupInvoice(a.paymentHash, a.ref)).toEqual({ settled: false, preimage: null, dead: false });
    fake.verifyMode = 'lnurl-error';
    expect((await u.backend.lookupInvoice(b.paymentHash, b.ref)).dead).toBe(false);
    fake.verifyMode = 'ok';
    await until(() => Date.parse(b.expiresAt) <= Date.now(), 4_000, 'expiry');
    expect(await u.backend.lookupInvoice(a.paymentHash, a.ref)).toEqual({ settled: false, preimage: null, dead: false });
    expect(await u.backend.lookupInvoice(b.paymentHash, b.ref)).toEqual({ settled: false, preimage: null, dead: true });
  });

  it('reports 5xx, garbage and hangs as BackendErrors', async () => {
    const u = user();
    const created = await u.backend.createInvoice(u.request());
    const impatient = new LnAddressBackend(u.address, { timeoutMs: 300, outbound: testOutbound() });
    const cases: [typeof fake.verifyMode, RegExp][] = [
      [500, /HTTP 500/],
      ['garbage', /not JSON/],
      ['hang', /timed out after 300 ms/],
    ];
    for (const [mode, message] of cases) {
      fake.verifyMode = mode;
      const backend = mode === 'hang' ? impatient : u.backend;
      expect((await failure(backend.lookupInvoice(created.paymentHash, created.ref))).message).toMatch(message);
    }
  });
});

// ---------------------------------------------------------------------------- end to end

const settleOn = (t: TestBridge, hash: string) =>
  t.request('POST', `/api/v1/dev/payments/${hash}/settle`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });

async function assetWithLink(t: TestBridge, key: string, name: string, linkName?: string) {
  const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name, price_sats: 1500, duration_ms: 30_000 } });
  expect(asset.status).toBe(201);
  const link = await t.request('POST', `/api/v1/assets/${asset.body.asset_id}/payment-link`, { token: key, ...(linkName ? { body: { name: linkName } } : {}) });
  expect(link.status).toBe(201);
  return { assetId: asset.body.asset_id as string, link: link.body };
}

describe('two bridges: A forwards to a Lightning address on B', () => {
  let a: TestBridge;
  let b: TestBridge;
  let bAddress: string;
  let bFallback: string;
  beforeAll(async () => {
    b = await startBridge({ LIGHTNING_POLL_MS: 50 });
    a = await startBridge({ LIGHTNING_POLL_MS: 50 });
    const owner = await b.signup('b-owner');
    bAddress = (await assetWithLink(b, owner.key, 'Remote coffee', 'coffee')).link.lightning_address;
    bFallback = (await assetWithLink(b, owner.key, 'Operator till', 'till')).link.lightning_address;
    expect(bAddress).toBe(`${owner.body.username}.coffee@${new URL(b.info.publicUrl).host}`);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  async function payThroughA(t: TestBridge, key: string, assetId: string, lnurl: string) {
    const remote = (await (await fetch(`${b.info.publicUrl}/.well-known/lnurlp/${bAddress.split('@')[0]}`)).json()) as { metadata: string };
    const metadata = remote.metadata;
    const result = await requestInvoice({ lnUrlOrAddress: lnurl, tokens: 1500 as never, comment: 'two sugars', validateInvoice: true });
    expect(result.hasValidDescriptionHash).toBe(true);
    expect(result.hasValidAmount).toBe(true);
    // A served B's metadata: B's invoice commits to it.
    expect(result.params.rawData['metadata']).toBe(metadata);
    expect(bolt11.decode(result.invoice).tagsObject.purpose_commit_hash).toBe(sha256(metadata));
    const verifyUrl = result.rawData['verify'] as string;
    expect(verifyUrl.startsWith(`${t.info.publicUrl}/lnurl/verify/`)).toBe(true);
    const hash = new Invoice({ pr: result.invoice }).paymentHash;
    const pending = (await t.request('GET', `/api/v1/assets/${assetId}/payments`, { token: key })).body.payments;
    expect(pending).toMatchObject([{ payment_hash: hash, status: 'pending', amount_sats: 1500, comment: 'two sugars' }]);
    expect(await new Invoice({ pr: result.invoice, verify: verifyUrl }).isPaid()).toBe(false);
    return { hash, pr: result.invoice, verifyUrl, paymentId: pending[0].payment_id as string };
  }

  async function expectSettledOnce(t: TestBridge, key: string, assetId: string, paymentId: string, bus: string[]) {
    const settled = (await t.request('GET', `/api/v1/assets/${assetId}/payments`, { token: key })).body.payments;
    expect(settled).toMatchObject([{ payment_id: paymentId, status: 'settled', settled_at: expect.any(String) }]);
    const events = await t.request('GET', `/api/public/events?type=paid&asset_id=${assetId}`, { token: key });
    expect(events.body.events).toHaveLength(1);
    expect(events.body.events[0].data).toMatchObject({ payment_id: paymentId, amount_sats: 1500, comment: 'two sugars' });
    expect(bus).toEqual([paymentId]);
  }

  it("as an account's own wallet: A's payer gets B's invoice, and A settles through B's verify", async () => {
    const acct = await a.signup('a-forwarder', { lightning_address: bAddress });
    const put = await a.request('PUT', '/api/v1/accounts/me/wallet', { token: acct.key, body: { backend: 'lnaddress' } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ backend: 'lnaddress', source: 'account', settings: {}, secrets_set: [] });
    const { assetId, link } = await assetWithLink(a, acct.key, 'Local coffee');
    const bus: string[] = [];
    a.bridge.bus.on('payment.settled', bus, ({ payment }) => void bus.push(payment.payment_id));

    const paid = await payThroughA(a, acct.key, assetId, link.lnurl);
    // B made the invoice: it settles B's own pending payment, which has the forwarded comment.
    expect((await settleOn(b, paid.hash)).body).toMatchObject({ status: 'settled', comment: 'two sugars' });

    await until(
      async () => (await a.request('GET', `/api/v1/assets/${assetId}/payments?status=settled`, { token: acct.key })).body.payments.length === 1,
      5_000,
      'A settles',
    );
    await until(() => bus.length > 0, 2_000, 'the bus message');
    const invoice = new Invoice({ pr: paid.pr, verify: paid.verifyUrl });
    expect(await invoice.isPaid()).toBe(true);
    expect(sha256(Buffer.from(invoice.preimage as string, 'hex'))).toBe(paid.hash);
    await expectSettledOnce(a, acct.key, assetId, paid.paymentId, bus);
    a.bridge.bus.off(bus);
  });

  it("as the server default (LIGHTNING_BACKEND=lnaddress): A's verify finds the settlement at once; LNADDRESS_FALLBACK serves accounts without an address", async () => {
    const a2 = await startBridge({ LIGHTNING_BACKEND: 'lnaddress', LNADDRESS_FALLBACK: bFallback, LIGHTNING_POLL_MS: 600_000 });
    try {
      const acct = await a2.signup('a2-forwarder', { lightning_address: bAddress });
      expect((await a2.request('GET', '/api/v1/accounts/me/wallet', { token: acct.key })).body).toMatchObject({ backend: 'lnaddress', source: 'server' });
      const { assetId, link } = await assetWithLink(a2, acct.key, 'Local coffee');
      const bus: string[] = [];
      a2.bridge.bus.on('payment.settled', bus, ({ payment }) => void bus.push(payment.payment_id));
      const paid = await payThroughA(a2, acct.key, assetId, link.lnurl);
      expect((await settleOn(b, paid.hash)).status).toBe(200);
      // No poll runs (10 minutes): A's own LUD-21 verify asks B (at most once a second per payment).
      await until(() => new Invoice({ pr: paid.pr, verify: paid.verifyUrl }).isPaid(), 5_000, "A's verify");
      await until(() => bus.length > 0, 2_000, 'the bus message');
      await expectSettledOnce(a2, acct.key, assetId, paid.paymentId, bus);
      a2.bridge.bus.off(bus);

      // An account without its own address is paid at the fallback (B's till, not B's coffee machine).
      const bare = await a2.signup('a2-bare');
      const other = await assetWithLink(a2, bare.key, 'Bare machine');
      const metadata = JSON.parse(((await (await fetch(other.link.url)).json()) as { metadata: string }).metadata) as string[][];
      expect(metadata).toContainEqual(['text/identifier', bFallback]);
      const own = JSON.parse(((await (await fetch(link.url)).json()) as { metadata: string }).metadata) as string[][];
      expect(own).toContainEqual(['text/identifier', bAddress]);
    } finally {
      await a2.close();
    }
  });

  it('validates the wallet body: an address is needed, well formed, with no other fields', async () => {
    const bare = await a.signup('a-bare');
    const put = (body: unknown) => a.request('PUT', '/api/v1/accounts/me/wallet', { token: bare.key, body });
    for (const body of [
      { backend: 'lnaddress' },
      { backend: 'lnaddress', address: 'not-an-address' },
      { backend: 'lnaddress', address: bAddress, api_key: 'x' },
    ]) {
      const res = await put(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('invalid_body');
    }
    const ok = await put({ backend: 'lnaddress', address: bAddress.toUpperCase() });
    expect(ok.body).toMatchObject({ backend: 'lnaddress', source: 'account', settings: { address: bAddress }, secrets_set: [] });
    expect((await a.request('GET', '/api/v1/accounts/me/wallet', { token: bare.key })).body).toEqual(ok.body);
  });

  it("forwards an account's own wallet to its chosen address, over the address it signed up with", async () => {
    const acct = await a.signup('a-redirected', { lightning_address: bAddress });
    expect((await a.request('PUT', '/api/v1/accounts/me/wallet', { token: acct.key, body: { backend: 'lnaddress', address: bFallback } })).status).toBe(200);
    const { link } = await assetWithLink(a, acct.key, 'Redirected machine');
    const metadata = JSON.parse(((await (await fetch(link.url)).json()) as { metadata: string }).metadata) as string[][];
    expect(metadata).toContainEqual(['text/identifier', bFallback]);
  });
});

describe('end to end against a failing remote service', () => {
  let a: TestBridge;
  beforeAll(async () => {
    a = await startBridge({ LIGHTNING_POLL_MS: 50, LIGHTNING_TIMEOUT_MS: 400 });
  });
  afterAll(async () => {
    await a?.close();
  });

  /** An account on A whose wallet forwards to `address`, with an asset and its payRequest fetched (and cached). */
  async function forwarding(address: string, label: string) {
    const acct = await a.signup(label);
    expect((await a.request('PUT', '/api/v1/accounts/me/wallet', { token: acct.key, body: { backend: 'lnaddress', address } })).status).toBe(200);
    const { assetId, link } = await assetWithLink(a, acct.key, 'Coffee');
    const payRequest = await (await fetch(link.url)).json();
    return { key: acct.key, assetId, link, payRequest, callback: `${link.url}/callback?amount=1500000` };
  }

  const payments = async (key: string, assetId: string) =>
    (await a.request('GET', `/api/v1/assets/${assetId}/payments`, { token: key })).body.payments as unknown[];

  it('serves the remote metadata and answers 503 with no pending payment when the remote is down', async () => {
    const remote = await startLnurlService();
    const address = remote.addUser('alice', { minSendable: 1_000_000, maxSendable: 1_500_000 });
    const f = await forwarding(address, 'down');
    expect(f.payRequest).toMatchObject({ tag: 'payRequest', metadata: remote.users.get('alice')?.metadata, minSendable: 1_500_000, maxSendable: 1_500_000 });
    await remote.close();
    const res = await fetch(f.callback);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'ERROR', reason: "The machine's Lightning wallet (lnaddress) is unavailable right now; try again later" });
    expect(await payments(f.key, f.assetId)).toEqual([]);
    // Without a cached payRequest, the link itself cannot be served.
    const acct = await a.signup('down-fresh');
    expect((await a.request('PUT', '/api/v1/accounts/me/wallet', { token: acct.key, body: { backend: 'lnaddress', address } })).status).toBe(200);
    const fresh = await fetch((await assetWithLink(a, acct.key, 'Coffee')).link.url);
    expect(fresh.status).toBe(503);
    expect(await fresh.json()).toEqual({ status: 'ERROR', reason: expect.stringMatching(/Lightning wallet \(lnaddress\) is unavailable/) });
  });

  it('refuses, with no pending payment, what a validating wallet would reject or we could never confirm', async () => {
    // The payer is told whether to retry, not the remote's details (those are in the log).
    const refused = /Lightning wallet \(lnaddress\) could not make an invoice/;
    const cases: [typeof fake.callbackMode, RegExp][] = [
      ['lnurl-error', refused],
      ['wrong-hash', refused],
      ['wrong-amount', refused],
      ['no-verify', refused],
      ['hang', /Lightning wallet \(lnaddress\) is unavailable right now/],
    ];
    for (const [mode, reason] of cases) {
      const f = await forwarding(fake.addUser(`e2e-${mode}`), `refuse-${mode}`);
      fake.callbackMode = mode;
      const started = Date.now();
      const res = await fetch(f.callback);
      expect(res.status, String(mode)).toBe(503);
      expect(await res.json()).toEqual({ status: 'ERROR', reason: expect.stringMatching(reason) });
      expect(Date.now() - started).toBeLessThan(10_000); // a hang: until the test times out
      expect(await payments(f.key, f.assetId)).toEqual([]);
      fake.callbackMode = 'ok';
    }
  });

  it('stays pending while the remote verify lies, and settles once a real preimage comes', async () => {
    const address = fake.addUser('liar-victim');
    const f = await forwarding(address, 'lied-to');
    const result = await requestInvoice({ lnUrlOrAddress: f.link.lnurl, tokens: 1500 as never, validateInvoice: true });
    expect(result.hasValidDescriptionHash).toBe(true);
    const hash = new Invoice({ pr: result.invoice }).paymentHash;
    fake.verifyMode = 'lie';
    const verifies = () => fake.requests.filter((r) => r.path === `/verify/${hash}`).length;
    const before = verifies();
    await until(() => verifies() >= before + 5, 5_000, 'polls of the lying verify');
    expect(await payments(f.key, f.assetId)).toMatchObject([{ status: 'pending' }]);
    expect(await new Invoice({ pr: result.invoice, verify: result.rawData['verify'] as string }).isPaid()).toBe(false);
    fake.verifyMode = 'ok';
    fake.pay(hash);
    await until(async () => ((await payments(f.key, f.assetId))[0] as { status: string }).status === 'settled', 5_000, 'settlement');
  });
});
