/**
 * The Lightning rail's rules around the happy path: machines that refuse invoices while offline,
 * invoices that expire, paid-event ids no account can take, payments that survive a restart, and
 * the account's wallet choice.
 */
import { requestInvoice } from 'lnurl-pay';
import { Invoice } from '@getalby/lightning-tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceStateSource } from '../../bridge/lightning/links.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { allEvents, createMachine, invoice } from '../helpers/machine.js';
import { connectMqtt } from '../helpers/mqtt.js';
import { until } from '../helpers/receiver.js';

async function machine(t: TestBridge, asset: Record<string, unknown>) {
  const acct = await t.signup('rules-bot');
  const assetId = (await t.request('POST', '/api/v1/assets', { token: acct.key, body: asset })).body.asset_id as string;
  const link = (await t.request('POST', `/api/v1/assets/${assetId}/payment-link`, { token: acct.key })).body;
  return { key: acct.key, assetId, link };
}

const settle = (t: TestBridge, hash: string) =>
  t.request('POST', `/api/v1/dev/payments/${hash}/settle`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });

describe('refusing invoices while the machine is offline', () => {
  const online = new Map<string, boolean>();
  const deviceState: DeviceStateSource = { isOnline: (assetId) => online.get(assetId) };
  let t: TestBridge;
  beforeAll(async () => {
    t = await startBridge({}, { bridge: { deviceState } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 409 {status: ERROR} (Retry-After) while the device is offline, and invoices again once it is back', async () => {
    const { assetId, link } = await machine(t, { name: 'Locker', price_sats: 10, refuse_when_offline: true });
    online.set(assetId, false);
    for (const url of [link.url, `${link.url}/callback?amount=10000`]) {
      const res = await fetch(url);
      expect([res.status, res.headers.get('retry-after')]).toEqual([409, '30']);
      expect(await res.json()).toEqual({ status: 'ERROR', reason: 'Locker is offline right now; try again later' });
    }
    online.set(assetId, true);
    expect((await fetch(`${link.url}/callback?amount=10000`)).status).toBe(200);
    online.delete(assetId); // unknown state: not refused
    expect((await fetch(`${link.url}/callback?amount=10000`)).status).toBe(200);
  });

  it('ignores the device state for assets that do not ask for it', async () => {
    const { assetId, link } = await machine(t, { name: 'Always on', price_sats: 10 });
    online.set(assetId, false);
    expect((await fetch(`${link.url}/callback?amount=10000`)).status).toBe(200);
  });
});

describe('invoices expire', () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await startBridge({ INVOICE_EXPIRY_SECONDS: 1, LIGHTNING_POLL_MS: 50 });
  });
  afterAll(async () => {
    await t.close();
  });

  it('marks an unpaid invoice expired, and an expired dev invoice cannot be paid', async () => {
    const { key, assetId, link } = await machine(t, { name: 'Quick', price_sats: 5 });
    const { invoice } = await requestInvoice({ lnUrlOrAddress: link.lnurl, tokens: 5 as never });
    const hash = new Invoice({ pr: invoice }).paymentHash;
    const expired = await until(
      async () => {
        const res = await t.request('GET', `/api/v1/assets/${assetId}/payments`, { token: key });
        return res.body.payments[0]?.status === 'expired' ? res.body.payments[0] : undefined;
      },
      4000,
      'expiry',
    );
    expect(expired.payment_hash).toBe(hash);
    const late = await settle(t, hash);
    expect(late.status).toBe(409);
    expect(late.body.error).toBe('invoice_expired');
    const verify = await (await fetch(`${t.info.publicUrl}/lnurl/verify/${hash}`)).json();
    expect(verify).toMatchObject({ status: 'OK', settled: false, preimage: null });
    expect((await t.request('GET', `/api/public/events?type=paid`, { token: key })).body.events).toEqual([]);
  });
});

describe("the paid event's external_id belongs to the bridge", () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await startBridge();
  });
  afterAll(async () => {
    await t.close();
  });

  // A payment hash is public (it is in the invoice): an account that could store `lightning:<hash>`
  // first would leave its payment unable to settle.
  it('refuses lightning: and x402: ids from the API and from machines, and the payment still settles', async () => {
    const m = await createMachine(t.url, 'Reserved');
    const hash = await invoice(m, 10);
    for (const external_id of [`lightning:${hash}`, `LIGHTNING:${hash}`, '  lightning:x', 'x402:abc']) {
      const res = await t.request('POST', '/api/public/events', { token: m.key, body: { type: 'paid', asset_id: m.assetId, external_id } });
      expect(res.status, external_id).toBe(400);
      expect(res.body.error).toBe('invalid_body');
      expect(res.body.message).toMatch(/^Invalid body: external_id: must not start with (lightning|x402): \(reserved for events the bridge records itself\)$/);
    }
    // Over MQTT the report is taken and not stored; the next one is.
    const device = await connectMqtt(`mqtt://127.0.0.1:${t.info.mqttPort}`, { username: m.userId, password: m.key });
    try {
      await device.client.publishAsync(m.topic('action'), JSON.stringify({ type: 'action', external_id: `lightning:${hash}` }), { qos: 1 });
      await device.client.publishAsync(m.topic('action'), JSON.stringify({ type: 'action', external_id: `vend-lightning:${hash}` }), { qos: 1 });
    } finally {
      await device.end();
    }
    expect(await allEvents(m)).toMatchObject([{ type: 'action', source: 'mqtt', external_id: `vend-lightning:${hash}` }]);

    const settled = await settle(t, hash);
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({ status: 'settled', already_settled: false });
    const paid = (await allEvents(m)).filter((e) => e.type === 'paid');
    expect(paid).toMatchObject([{ source: 'lightning', external_id: `lightning:${hash}`, data: { payment_id: settled.body.payment_id } }]);
  });
});

describe('nothing is lost across a restart', () => {
  it('keeps pending payments and settles them after the bridge comes back', async () => {
    const first = await startBridge();
    const { key, assetId, link } = await machine(first, { name: 'Durable', price_sats: 21 });
    const { invoice, rawData } = await requestInvoice({ lnUrlOrAddress: link.lnurl, tokens: 21 as never, validateInvoice: true });
    const hash = new Invoice({ pr: invoice }).paymentHash;
    await first.stop();

    const again = await startBridge({}, { dataDir: first.dataDir });
    try {
      const pending = await again.request('GET', `/api/v1/assets/${assetId}/payments`, { token: key });
      expect(pending.body.payments[0]).toMatchObject({ payment_hash: hash, status: 'pending' });
      // The dev node kept its key and preimages: the same invoice is still payable.
      expect((await settle(again, hash)).body.status).toBe('settled');
      const verifyUrl = (rawData['verify'] as string).replace(first.info.publicUrl, again.info.publicUrl);
      expect(await new Invoice({ pr: invoice, verify: verifyUrl }).isPaid()).toBe(true);
      // The link is permanent.
      const same = await again.request('GET', `/api/v1/assets/${assetId}/payment-link`, { token: key });
      expect(same.body.lnurl.length).toBeGreaterThan(0);
      expect(same.body.link_id).toBe(link.link_id);
    } finally {
      await again.close();
    }
  });
});

describe('the account wallet', () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await startBridge();
  });
  afterAll(async () => {
    await t.close();
  });

  it('shows the server default until the account chooses, and validates the choice', async () => {
    const { key } = await t.signup('wallet-bot');
    expect((await t.request('GET', '/api/v1/accounts/me/wallet', { token: key })).body).toEqual({
      backend: 'dev',
      source: 'server',
      settings: {},
      secrets_set: [],
      created: null,
      updated: null,
    });
    const chosen = await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body: { backend: 'dev' } });
    expect(chosen.status).toBe(200);
    expect(chosen.body).toMatchObject({ backend: 'dev', source: 'account', secrets_set: [] });
    for (const body of [{}, { backend: 'paypal' }, { backend: 'dev', url: 'http://x' }, { backend: 42 }]) {
      const res = await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('invalid_body');
    }
    const removed = await t.request('DELETE', '/api/v1/accounts/me/wallet', { token: key });
    expect(removed.body.source).toBe('server');
  });
});
