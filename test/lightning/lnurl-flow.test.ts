/**
 * The whole LNURL-pay flow against a listening bridge, driven by third-party clients: `lnurl-pay`
 * fetches the payRequest, asks the callback for an invoice and validates it (description hash and
 * amount); `@getalby/lightning-tools` checks LUD-21 verify before and after the dev settle.
 */
import { createHash } from 'node:crypto';
import { Invoice } from '@getalby/lightning-tools';
import bolt11 from 'bolt11';
import { requestInvoice, requestPayServiceParams } from 'lnurl-pay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLnurl, encodeLnurl } from '../../bridge/lightning/lnurl.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { startReceiver, until } from '../helpers/receiver.js';

let t: TestBridge;
let key: string;
let username: string;
beforeAll(async () => {
  t = await startBridge({ LIGHTNING_POLL_MS: 50 });
  const acct = await t.signup('coffee-bot');
  key = acct.key;
  username = acct.body.username;
});
afterAll(async () => {
  await t.close();
});

async function asset(body: Record<string, unknown> = { name: 'Coffee machine', price_sats: 1500, duration_ms: 30_000 }) {
  const res = await t.request('POST', '/api/v1/assets', { token: key, body });
  expect(res.status).toBe(201);
  return res.body.asset_id as string;
}

async function link(assetId: string, body?: Record<string, unknown>) {
  return t.request('POST', `/api/v1/assets/${assetId}/payment-link`, { token: key, ...(body ? { body } : {}) });
}

const settle = (hash: string, token = ADMIN_TOKEN) =>
  t.request('POST', `/api/v1/dev/payments/${hash}/settle`, { headers: { authorization: `Bearer ${token}` } });

describe('payment links', () => {
  it('404s a GET before the first POST, then provisions one permanent link', async () => {
    const id = await asset();
    const before = await t.request('GET', `/api/v1/assets/${id}/payment-link`, { token: key });
    expect(before.status).toBe(404);
    expect(before.body.error).toBe('payment_link_not_found');
    expect(before.body.message).toMatch(/POST/);

    const created = await link(id);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      asset_id: id,
      lnurl: expect.stringMatching(/^LNURL1[02-9AC-HJ-NP-Z]+$/),
      url: expect.stringMatching(new RegExp(`^${t.info.publicUrl}/lnurl/pay/[a-z0-9]{15}$`)),
      lnurlp: expect.stringMatching(/^lnurlp:\/\//),
      lightning_address: `${username}.coffee-machine@${new URL(t.info.publicUrl).host}`,
      min_sats: 1500,
      max_sats: 1500,
      comment_allowed: 140,
    });
    expect(decodeLnurl(created.body.lnurl)).toBe(created.body.url);
    expect(created.body.lnurlp).toBe(created.body.url.replace('http://', 'lnurlp://'));
    expect(created.body.qr_png_url).toBe(`${created.body.url}/qr.png`);

    const again = await link(id);
    expect(again.status).toBe(200);
    expect(again.body.lnurl).toBe(created.body.lnurl);
    const got = await t.request('GET', `/api/v1/assets/${id}/payment-link`, { token: key });
    expect(got.body).toEqual(again.body);
  });

  it('serves the QR code as PNG and SVG, encoding the uppercase LNURL', async () => {
    const id = await asset();
    const { body } = await link(id);
    const png = await fetch(body.qr_png_url);
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await png.arrayBuffer());
    expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    const svg = await fetch(body.qr_svg_url);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(await svg.text()).toMatch(/^<svg/);
  });

  it('keeps assets apart', async () => {
    const other = await t.signup('other');
    const theirs = (await t.request('POST', '/api/v1/assets', { token: other.key, body: { name: 'X', price_sats: 1 } })).body.asset_id;
    expect((await link(theirs)).body.error).toBe('asset_not_owned');
    expect((await t.request('GET', `/api/v1/assets/${theirs}/payments`, { token: key })).status).toBe(403);
    expect((await link('nosuchasset0000')).status).toBe(404);
  });
});

describe('LNURL-pay with third-party clients', () => {
  it('lnurl-pay gets a valid invoice; Alby sees it unpaid, then paid after the dev settle', async () => {
    const id = await asset();
    const { body: payLink } = await link(id, { success_message: 'Enjoy your coffee' });

    const params = await requestPayServiceParams({ lnUrlOrAddress: payLink.lnurl });
    expect(params).toMatchObject({ min: 1500, max: 1500, fixed: true, commentAllowed: 140, description: 'Coffee machine: 1500 sats' });

    const received: string[] = [];
    t.bridge.bus.on('payment.settled', received, ({ payment }) => {
      received.push(payment.payment_id);
    });

    const result = await requestInvoice({ lnUrlOrAddress: payLink.lnurl, tokens: 1500 as never, comment: 'two sugars', validateInvoice: true });
    expect(result.hasValidDescriptionHash).toBe(true);
    expect(result.hasValidAmount).toBe(true);
    expect(result.successAction).toMatchObject({ tag: 'message', message: 'Enjoy your coffee' });
    const decoded = bolt11.decode(result.invoice);
    expect(result.invoice.startsWith('lnbcrt15u')).toBe(true);
    expect(decoded.satoshis).toBe(1500);
    const hashTag = decoded.tags.find((tag) => tag.tagName === 'purpose_commit_hash')?.data;
    expect(hashTag).toBe(
      createHash('sha256')
        .update(params.rawData['metadata'] as string)
        .digest('hex'),
    );
    expect(bolt11.decode(result.invoice).complete).toBe(true);

    const invoice = new Invoice({ pr: result.invoice, verify: result.rawData['verify'] as string });
    expect(await invoice.isPaid()).toBe(false);

    const payments = await t.request('GET', `/api/v1/assets/${id}/payments`, { token: key });
    expect(payments.body.payments).toHaveLength(1);
    const pending = payments.body.payments[0];
    expect(pending).toMatchObject({ amount_sats: 1500, status: 'pending', rail: 'lightning', comment: 'two sugars', settled_at: null, duration_ms: 30_000 });
    expect(pending.payment_hash).toBe(invoice.paymentHash);

    const settled = await settle(invoice.paymentHash);
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({ status: 'settled', already_settled: false });

    const paidInvoice = new Invoice({ pr: result.invoice, verify: result.rawData['verify'] as string });
    expect(await paidInvoice.isPaid()).toBe(true);
    expect(paidInvoice.preimage && createHash('sha256').update(Buffer.from(paidInvoice.preimage, 'hex')).digest('hex')).toBe(invoice.paymentHash);
    expect(received).toEqual([pending.payment_id]);

    const events = await t.request('GET', `/api/public/events?type=paid&asset_id=${id}`, { token: key });
    expect(events.body.events).toHaveLength(1);
    expect(events.body.events[0]).toMatchObject({
      type: 'paid',
      source: 'lightning',
      external_id: `lightning:${invoice.paymentHash}`,
      data: { payment_id: pending.payment_id, amount_sats: 1500, duration_ms: 30_000, rail: 'lightning', comment: 'two sugars' },
    });
    const after = await t.request('GET', `/api/v1/assets/${id}/payments?status=settled`, { token: key });
    expect(after.body.payments[0]).toMatchObject({ status: 'settled', settled_at: expect.any(String) });
    t.bridge.bus.off(received);
  });

  it('sends the signed webhook for the paid event when a payment settles', async () => {
    const acct = await t.signup('hooked-vendor');
    const receiver = await startReceiver();
    try {
      await t.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: { url: receiver.url, events: ['paid'] } });
      const id = (await t.request('POST', '/api/v1/assets', { token: acct.key, body: { name: 'Hooked', price_sats: 3 } })).body.asset_id;
      const { body: payLink } = await t.request('POST', `/api/v1/assets/${id}/payment-link`, { token: acct.key });
      const { invoice } = await requestInvoice({ lnUrlOrAddress: payLink.lnurl, tokens: 3 as never, validateInvoice: true });
      const hash = new Invoice({ pr: invoice }).paymentHash;
      await settle(hash);
      const delivery = await until(() => receiver.received[0], 3000, 'the paid webhook');
      const body = JSON.parse(delivery.body);
      expect(body).toMatchObject({
        type: 'event.paid',
        data: { type: 'paid', asset_id: id, source: 'lightning', data: { payment_hash: hash, amount_sats: 3 } },
      });
      expect(delivery.headers['webhook-signature']).toMatch(/^v1a,/);
    } finally {
      await receiver.close();
    }
  });

  it('settles once however often and however concurrently it is reported', async () => {
    const id = await asset();
    const { body: payLink } = await link(id);
    const { invoice } = await requestInvoice({ lnUrlOrAddress: payLink.lnurl, tokens: 1500 as never, validateInvoice: true });
    const hash = new Invoice({ pr: invoice }).paymentHash;
    const messages: string[] = [];
    t.bridge.bus.on('payment.settled', messages, ({ payment }) => {
      messages.push(payment.payment_id);
    });
    const results = await Promise.all(Array.from({ length: 10 }, () => settle(hash)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.body.already_settled === false)).toHaveLength(1);
    expect(messages).toHaveLength(1);
    const events = await t.request('GET', `/api/public/events?type=paid&asset_id=${id}`, { token: key });
    expect(events.body.events).toHaveLength(1);
    const payments = await t.request('GET', `/api/v1/assets/${id}/payments`, { token: key });
    expect(payments.body.payments).toHaveLength(1);
    t.bridge.bus.off(messages);
  });

  it('pays through a Lightning address (LUD-16), committing to the identifier too', async () => {
    const id = await asset({ name: 'Snack vendor', price_sats: 210 });
    const { body: payLink } = await link(id, { name: 'snacks' });
    expect(payLink.lightning_address).toBe(`${username}.snacks@${new URL(t.info.publicUrl).host}`);
    const wellKnown = `${t.info.publicUrl}/.well-known/lnurlp/${username}.snacks`;
    const raw = (await (await fetch(wellKnown)).json()) as { metadata: string };
    expect(JSON.parse(raw.metadata)).toEqual([
      ['text/plain', 'Snack vendor: 210 sats'],
      ['text/identifier', payLink.lightning_address],
    ]);
    const result = await requestInvoice({ lnUrlOrAddress: encodeLnurl(wellKnown), tokens: 210 as never, validateInvoice: true });
    expect(result.hasValidDescriptionHash).toBe(true);
    // The account's username alone is the address of its primary (first) link.
    const primary = (await (await fetch(`${t.info.publicUrl}/.well-known/lnurlp/${username}`)).json()) as { tag: string; metadata: string };
    expect(primary.tag).toBe('payRequest');
    expect(JSON.parse(primary.metadata)[1]).toEqual(['text/identifier', `${username}@${new URL(t.info.publicUrl).host}`]);
  });

  it('keeps one primary link per account: <username>@host pays the one chosen last', async () => {
    const acct = await t.signup('two-machines');
    const make = async (name: string, primary?: boolean) => {
      const id = (await t.request('POST', '/api/v1/assets', { token: acct.key, body: { name, price_sats: 7 } })).body.asset_id;
      return (await t.request('POST', `/api/v1/assets/${id}/payment-link`, { token: acct.key, body: primary === undefined ? {} : { primary } })).body;
    };
    const first = await make('First');
    const second = await make('Second');
    expect([first.primary, second.primary]).toEqual([true, false]);
    const promoted = await make('Third', true);
    const links = await Promise.all(
      [first, second, promoted].map(async (l) => (await t.request('GET', `/api/v1/assets/${l.asset_id}/payment-link`, { token: acct.key })).body.primary),
    );
    expect(links).toEqual([false, false, true]);
    const payRequest = (await (await fetch(`${t.info.publicUrl}/.well-known/lnurlp/${acct.body.username}`)).json()) as { metadata: string };
    expect(JSON.parse(payRequest.metadata)[0]).toEqual(['text/plain', 'Third: 7 sats']);
    // Promoting an older link demotes the newer primary too.
    await t.request('POST', `/api/v1/assets/${first.asset_id}/payment-link`, { token: acct.key, body: { primary: true } });
    const after = await Promise.all(
      [first, second, promoted].map(async (l) => (await t.request('GET', `/api/v1/assets/${l.asset_id}/payment-link`, { token: acct.key })).body.primary),
    );
    expect(after).toEqual([true, false, false]);
  });

  it('takes a chosen amount for variable prices and scales the run time', async () => {
    const id = await asset({ name: 'EV charger', price_sats: 100, duration_ms: 60_000, pricing: 'variable', min_sats: 50, max_sats: 1000 });
    const { body: payLink } = await link(id);
    expect(payLink).toMatchObject({ min_sats: 50, max_sats: 1000 });
    const params = await requestPayServiceParams({ lnUrlOrAddress: payLink.lnurl });
    expect(params).toMatchObject({ min: 50, max: 1000, fixed: false });
    const result = await requestInvoice({ lnUrlOrAddress: payLink.lnurl, tokens: 250 as never, validateInvoice: true });
    expect(bolt11.decode(result.invoice).satoshis).toBe(250);
    const payments = await t.request('GET', `/api/v1/assets/${id}/payments`, { token: key });
    expect(payments.body.payments[0]).toMatchObject({ amount_sats: 250, duration_ms: 150_000 });
  });
});

describe('LNURL errors', () => {
  it('answers {status: "ERROR", reason} for bad amounts, comments and unknown links', async () => {
    const id = await asset();
    const { body: payLink } = await link(id, { comment_allowed: 5 });
    const callback = `${payLink.url}/callback`;
    const cases: [string, number, RegExp][] = [
      [`${callback}`, 400, /amount is required/],
      [`${callback}?amount=abc`, 400, /amount is required/],
      [`${callback}?amount=1499000`, 400, /between 1500000 and 1500000/],
      [`${callback}?amount=1500000&comment=far-too-long`, 400, /longer than 5/],
      [`${callback}?amount=1500000&amount=1500000`, 400, /more than once/],
      [`${t.info.publicUrl}/lnurl/pay/nosuchlink000000`, 404, /Unknown payment link/],
      [`${t.info.publicUrl}/lnurl/verify/${'0'.repeat(64)}`, 404, /Not found/],
      [`${t.info.publicUrl}/lnurl/verify/nothex`, 404, /Not found/],
      [`${t.info.publicUrl}/.well-known/lnurlp/nobody-here`, 404, /Unknown Lightning address/],
      [`${t.info.publicUrl}/lnurl/nothing`, 404, /No such endpoint/],
    ];
    for (const [url, status, reason] of cases) {
      const res = await fetch(url);
      expect(res.status, url).toBe(status);
      const body = await res.json();
      expect(body, url).toEqual({ status: 'ERROR', reason: expect.stringMatching(reason) });
    }
    const noComments = await link(await asset(), { comment_allowed: 0 });
    const refused = await fetch(`${noComments.body.url}/callback?amount=1500000&comment=hi`);
    expect(((await refused.json()) as { reason: string }).reason).toMatch(/no comments/);
  });

  it('protects the dev settle with the admin token and refuses unknown or foreign invoices', async () => {
    expect((await settle('a'.repeat(64), 'wrong-admin-token-0000000000')).status).toBe(401);
    expect((await t.request('POST', `/api/v1/dev/payments/${'a'.repeat(64)}/settle`)).body.error).toBe('missing_token');
    expect((await settle('a'.repeat(64))).body.error).toBe('payment_not_found');
    expect((await settle('xyz')).status).toBe(400);
    // A user's API key is not the admin token.
    expect((await settle('a'.repeat(64), key)).status).toBe(401);
  });
});
