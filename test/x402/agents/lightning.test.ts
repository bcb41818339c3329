/**
 * x402 over Lightning against a listening bridge: the 402 offers a BOLT 11 invoice (v2 PAYMENT-REQUIRED,
 * draft PR #2861 layout), the payer's preimage in PAYMENT-SIGNATURE buys the run, and a device
 * subscribed over MQTT receives the payment. On the dev backend (paid with the admin's dev settle, the
 * preimage read back through LUD-21 verify as a wallet would hold it) and on an account's own LNbits
 * (a fake on port 0 that keeps the invoice pending: the preimage alone settles it, no node asked).
 */
import { createHash, randomBytes } from 'node:crypto';
import bolt11 from 'bolt11';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../../helpers/bridge.js';
import { connectMqtt, type TestClient } from '../../helpers/mqtt.js';
import { until } from '../../helpers/receiver.js';
import { FakeLnbits } from '../../lightning/fakes/lnbits.js';

const REGTEST = 'bip122:0f9188f13cb7b2c71f2a335e3a4fc328';

let t: TestBridge;
let fake: FakeLnbits;
const open: TestClient[] = [];
beforeAll(async () => {
  fake = await FakeLnbits.start();
  // The poll is slow on purpose: a settlement seen within the test came from the preimage, not the backend.
  t = await startBridge({ LIGHTNING_POLL_MS: 60_000 });
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await t.close();
  await fake.close();
});

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');
const unb64 = (s: string | null) => JSON.parse(Buffer.from(s ?? '', 'base64').toString('utf8'));

/** An account, an asset and a device subscribed to its payments over MQTT. */
async function machine(body: Record<string, unknown> = {}) {
  const acct = await t.signup('x402-ln');
  const asset = await t.request('POST', '/api/v1/assets', { token: acct.key, body: { name: 'Espresso', price_sats: 21, duration_ms: 4000, ...body } });
  expect(asset.status).toBe(201);
  const assetId = asset.body.asset_id as string;
  const device = await connectMqtt(`mqtt://127.0.0.1:${t.info.mqttPort}`, { username: acct.userId, password: acct.key });
  open.push(device);
  const topic = `paywire/${acct.userId}/${assetId}/payment`;
  await device.client.subscribeAsync(topic, { qos: 1 });
  return { ...acct, assetId, device, topic, path: `/api/v1/assets/${assetId}/x402` };
}

/** The Lightning requirement of a 402 answer. */
async function offer(path: string) {
  const res = await t.request('GET', path);
  expect(res.status).toBe(402);
  const required = unb64(res.headers.get('payment-required'));
  const lightning = required.accepts.find((a: any) => a.extra?.paymentMethod === 'lightning');
  return { res, required, lightning };
}

const proof = (accepted: unknown, preimage: string, invoice = (accepted as any).extra.invoice) => ({
  x402Version: 2,
  accepted,
  payload: { invoice, preimage },
});

describe('x402 over Lightning', () => {
  it('offers a regtest invoice for one run in PAYMENT-REQUIRED, and v1 clients only the EVM prices', async () => {
    const m = await machine();
    const { res, required, lightning } = await offer(m.path);
    expect(res.body).toEqual({ x402Version: 1, error: expect.any(String), accepts: [] });
    expect(required).toMatchObject({
      x402Version: 2,
      resource: { url: `${t.info.publicUrl}${m.path}`, description: 'Espresso: one run of 4 s', mimeType: 'application/json' },
    });
    expect(lightning).toEqual({
      scheme: 'exact',
      network: REGTEST,
      amount: '21000',
      asset: 'BTC',
      payTo: 'anonymous',
      maxTimeoutSeconds: expect.any(Number),
      extra: { paymentMethod: 'lightning', invoice: expect.stringMatching(/^lnbcrt210n1/), paymentHash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    const decoded = bolt11.decode(lightning.extra.invoice);
    expect(decoded.millisatoshis).toBe('21000');
    expect(decoded.tagsObject.payment_hash).toBe(lightning.extra.paymentHash);
    expect(lightning.maxTimeoutSeconds).toBeGreaterThan(0);
    // The invoice is a pending Lightning payment of the asset.
    const payments = await t.request('GET', `/api/v1/assets/${m.assetId}/payments`, { token: m.key });
    expect(payments.body.payments).toEqual([expect.objectContaining({ payment_hash: lightning.extra.paymentHash, status: 'pending', amount_sats: 21 })]);
  });

  it('on the dev backend: pays the invoice, presents the preimage, the device gets the payment once, a replay is refused', async () => {
    const m = await machine();
    const { lightning } = await offer(m.path);
    const hash = lightning.extra.paymentHash as string;
    // The payer's wallet pays (the admin's dev settle) and holds the preimage (LUD-21 verify shows it once settled).
    expect((await t.request('POST', `/api/v1/dev/payments/${hash}/settle`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    const verify = (await (await fetch(`${t.info.publicUrl}/lnurl/verify/${hash}`)).json()) as { preimage: string };
    expect(createHash('sha256').update(Buffer.from(verify.preimage, 'hex')).digest('hex')).toBe(hash);

    const paid = await t.request('GET', m.path, { headers: { 'payment-signature': b64(proof(lightning, verify.preimage)) } });
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'paid', asset_id: m.assetId, rail: 'lightning', duration_ms: 4000, network: REGTEST, transaction: hash });
    const response = unb64(paid.headers.get('payment-response'));
    expect(response).toEqual({
      success: true,
      transaction: hash,
      network: REGTEST,
      payer: 'anonymous',
      extra: { invoice: lightning.extra.invoice, settledAt: expect.any(Number) },
    });

    const [message] = (await until(() => (m.device.on(m.topic).length ? m.device.on(m.topic) : undefined), 3000, 'the MQTT payment')) as any[];
    expect(message).toMatchObject({ payment_id: paid.body.payment_id, asset_id: m.assetId, amount_sats: 21, rail: 'lightning', duration_ms: 4000 });

    const replay = await t.request('GET', m.path, { headers: { 'payment-signature': b64(proof(lightning, verify.preimage)) } });
    expect(replay.status).toBe(402);
    expect(replay.body).toMatchObject({ invalidReason: 'invoice_already_redeemed' });
    await new Promise((r) => setTimeout(r, 200));
    expect(m.device.on(m.topic)).toHaveLength(1);
    const events = await t.request('GET', `/api/public/events?asset_id=${m.assetId}`, { token: m.key });
    expect(events.body.events.map((e: any) => [e.type, e.source, e.external_id])).toEqual(
      expect.arrayContaining([
        ['paid', 'lightning', `lightning:${hash}`],
        ['custom', 'x402', `x402:receipt:${hash}`],
      ]),
    );
  });

  it("on an account's own LNbits: the preimage alone settles the pending invoice, without asking the node", async () => {
    const m = await machine();
    const wallet = await t.request('PUT', '/api/v1/accounts/me/wallet', {
      token: m.key,
      body: { backend: 'lnbits', url: fake.url, invoice_key: fake.invoiceKey },
    });
    expect(wallet.status).toBe(200);
    const { lightning } = await offer(m.path);
    const hash = lightning.extra.paymentHash as string;
    const made = fake.invoices.get(hash);
    expect(made?.status).toBe('pending');
    const lookups = () => fake.requests.filter((r) => r.method === 'GET' && r.path.includes(hash)).length;
    const before = lookups();

    const paid = await t.request('GET', m.path, { headers: { 'payment-signature': b64(proof(lightning, made?.preimage as string)) } });
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'paid', rail: 'lightning', transaction: hash });
    await until(() => (m.device.on(m.topic).length ? true : undefined), 3000, 'the MQTT payment');
    expect(lookups()).toBe(before);
    const payments = await t.request('GET', `/api/v1/assets/${m.assetId}/payments`, { token: m.key });
    expect(payments.body.payments[0]).toMatchObject({ payment_hash: hash, status: 'settled' });
    expect(fake.problems).toEqual([]);
  });

  it('refuses a wrong preimage, a substituted invoice, another amount, another machine’s invoice; nothing settles', async () => {
    const m = await machine();
    const other = await machine({ name: 'Other' });
    const { lightning } = await offer(m.path);
    const { lightning: theirs } = await offer(other.path);
    const send = (payment: unknown) => t.request('GET', m.path, { headers: { 'payment-signature': b64(payment) } });
    const wrong = await send(proof(lightning, randomBytes(32).toString('hex')));
    expect([wrong.status, wrong.body.invalidReason]).toEqual([402, 'invalid_exact_lightning_preimage']);
    // A 402 for a refused payment offers the terms again, without making another invoice.
    expect(unb64(wrong.headers.get('payment-required')).accepts).toEqual([]);
    const substituted = await send(proof(lightning, randomBytes(32).toString('hex'), theirs.extra.invoice));
    expect([substituted.status, substituted.body.invalidReason]).toEqual([402, 'invalid_payload']);
    const cheaper = await send(proof({ ...lightning, amount: '1000' }, randomBytes(32).toString('hex')));
    expect(cheaper.status).toBe(402);
    const malformed = await send({ x402Version: 2, accepted: lightning, payload: { preimage: 'zz' } });
    expect([malformed.status, malformed.body.invalidReason]).toEqual([402, 'invalid_payload']);
    const garbage = await t.request('GET', m.path, { headers: { 'payment-signature': '%%%not-base64' } });
    expect([garbage.status, garbage.body.invalidReason]).toEqual([402, 'invalid_payload']);
    // Their invoice on our route: not an invoice of this machine.
    const payments = await t.request('GET', `/api/v1/assets/${m.assetId}/payments`, { token: m.key });
    expect(payments.body.payments.every((p: any) => p.status === 'pending')).toBe(true);
    expect(m.device.on(m.topic)).toEqual([]);
  });

  it('answers 404 for an unknown or deleted asset, and 409 device_offline (no invoice made) while the machine is offline', async () => {
    expect((await t.request('GET', '/api/v1/assets/nosuchasset0000/x402')).body.error).toBe('asset_not_found');
    const m = await machine({ refuse_when_offline: true });
    // The device announces it is going away: the broker marks the asset offline.
    await m.device.client.publishAsync(`paywire/${m.userId}/${m.assetId}/status`, 'offline', { qos: 1, retain: true });
    await until(
      async () => ((await t.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === false ? true : undefined),
      3000,
      'offline',
    );
    const refused = await t.request('GET', m.path);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('device_offline');
    expect(refused.headers.get('retry-after')).toBe('30');
    expect((await t.request('GET', `/api/v1/assets/${m.assetId}/payments`, { token: m.key })).body.payments).toEqual([]);
    await t.request('DELETE', `/api/v1/assets/${m.assetId}`, { token: m.key });
    expect((await t.request('GET', m.path)).status).toBe(404);
  });
});
