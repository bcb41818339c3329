/**
 * The MQTT contract end to end: a bridge on port 0, its embedded broker, real `mqtt` clients as the
 * machines, and payments settled through the dev backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestInvoice } from 'lnurl-pay';
import { Invoice } from '@getalby/lightning-tools';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { until } from '../helpers/receiver.js';

let t: TestBridge;
let url: string;
const open: TestClient[] = [];
beforeAll(async () => {
  t = await startBridge();
  url = `mqtt://127.0.0.1:${t.info.mqttPort}`;
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await t.close();
});

async function client(username: string, password: string, extra: Record<string, unknown> = {}): Promise<TestClient> {
  const c = await connectMqtt(url, { username, password, ...extra });
  open.push(c);
  return c;
}

/** An account with one asset and its payment link. */
async function machine(name = 'Vend', body: Record<string, unknown> = {}) {
  const acct = await t.signup(`mqtt-${name.toLowerCase()}`);
  const asset = (await t.request('POST', '/api/v1/assets', { token: acct.key, body: { name, price_sats: 10, duration_ms: 2500, ...body } })).body;
  const link = (await t.request('POST', `/api/v1/assets/${asset.asset_id}/payment-link`, { token: acct.key })).body;
  return { ...acct, assetId: asset.asset_id as string, link, topic: (kind: string) => `paywire/${acct.userId}/${asset.asset_id}/${kind}` };
}

/** A payer: an invoice through LNURL, paid by the admin's dev settle. */
async function pay(lnurl: string, sats = 10): Promise<string> {
  const { invoice } = await requestInvoice({ lnUrlOrAddress: lnurl, tokens: sats as never });
  const hash = new Invoice({ pr: invoice }).paymentHash;
  const res = await t.request('POST', `/api/v1/dev/payments/${hash}/settle`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.body.payment_id as string;
}

describe('payments reach the machine', () => {
  it('publishes each settled payment on the asset topic, QoS 1, not retained; the machine acknowledges it by reporting it', async () => {
    const m = await machine('Coffee');
    const device = await client(m.userId, m.key);
    await device.client.subscribeAsync(m.topic('payment'), { qos: 1 });
    const paymentId = await pay(m.link.lnurl);
    const [message] = (await until(
      () => (device.on(m.topic('payment')).length ? device.on(m.topic('payment')) : undefined),
      3000,
      'payment message',
    )) as Record<string, unknown>[];
    expect(message).toEqual({ payment_id: paymentId, asset_id: m.assetId, amount_sats: 10, rail: 'lightning', duration_ms: 2500, paid_at: expect.any(String) });
    expect(device.received[0]).toMatchObject({ qos: 1, retain: false });
    const delivered = async () => (await t.request('GET', `/api/v1/assets/${m.assetId}/payments`, { token: m.key })).body.payments[0].delivered_at;
    expect(await delivered()).toBeNull();
    // The report is stored before the broker acknowledges it: once publishAsync resolves, it is durable.
    await device.client.publishAsync(m.topic('action'), JSON.stringify({ type: 'action', external_id: `vend-${paymentId}`, payment_id: paymentId }), {
      qos: 1,
    });
    expect(typeof (await delivered())).toBe('string');
  });

  it('counts the PUBACK of a persistent session as the acknowledgement', async () => {
    const m = await machine('Persistent');
    const device = await client(m.userId, m.key, { clean: false, clientId: `persistent-${m.assetId}` });
    await device.client.subscribeAsync(m.topic('payment'), { qos: 1 });
    await pay(m.link.lnurl);
    await until(
      async () => (await t.request('GET', `/api/v1/assets/${m.assetId}/payments`, { token: m.key })).body.payments[0].delivered_at,
      3000,
      'delivered by PUBACK',
    );
  });

  it('sends payments settled while the device was away when it subscribes again, each once, and not after it acknowledged them', async () => {
    const m = await machine('Locker');
    const paid = [await pay(m.link.lnurl), await pay(m.link.lnurl), await pay(m.link.lnurl)];
    const device = await client(m.userId, m.key, { clean: true });
    await device.client.subscribeAsync(m.topic('payment'), { qos: 1 });
    await until(() => device.on(m.topic('payment')).length === 3, 3000, 'three payments');
    expect((device.on(m.topic('payment')) as { payment_id: string }[]).map((p) => p.payment_id).sort()).toEqual([...paid].sort());
    await device.end();

    // Not acknowledged yet: a new subscription gets them again.
    const second = await client(m.userId, m.key, { clean: true });
    await second.client.subscribeAsync(m.topic('+'), { qos: 1 });
    await until(() => second.on(m.topic('payment')).length === 3, 3000, 'three payments again');
    for (const id of paid) await second.client.publishAsync(m.topic('action'), JSON.stringify({ type: 'action', payment_id: id }), { qos: 1 });
    await second.end();

    const third = await client(m.userId, m.key, { clean: true });
    await third.client.subscribeAsync(m.topic('#'), { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(third.on(m.topic('payment'))).toEqual([]);
  });

  it('does not send one account’s payments to another account’s subscription', async () => {
    const a = await machine('Alpha');
    const b = await machine('Beta');
    const spy = await client(b.userId, b.key);
    await spy.client.subscribeAsync(`paywire/${b.userId}/#`, { qos: 1 });
    await pay(a.link.lnurl);
    await new Promise((r) => setTimeout(r, 300));
    expect(spy.received.filter((m) => m.topic.includes(a.userId))).toEqual([]);
  });
});

describe('messages from the machine', () => {
  it('stores actions as events, once per external_id, and bad messages as error events', async () => {
    const m = await machine('Reporter');
    const device = await client(m.userId, m.key);
    const action = m.topic('action');
    await device.client.publishAsync(action, JSON.stringify({ type: 'action', external_id: 'vend-1', payment_id: 'p1', data: { slot: 4 } }), { qos: 1 });
    await device.client.publishAsync(action, JSON.stringify({ type: 'action', external_id: 'vend-1', data: { again: true } }), { qos: 1 });
    await device.client.publishAsync(action, '{not json', { qos: 1 });
    await device.client.publishAsync(action, JSON.stringify({ type: 'refund' }), { qos: 1 });
    const events = await until(
      async () => {
        const res = await t.request('GET', `/api/public/events?asset_id=${m.assetId}`, { token: m.key });
        return res.body.events.length === 3 ? res.body.events : undefined;
      },
      3000,
      'three events',
    );
    const byType = (type: string) => events.filter((e: { type: string }) => e.type === type);
    expect(byType('action')).toEqual([expect.objectContaining({ external_id: 'vend-1', source: 'mqtt', data: { slot: 4, payment_id: 'p1' } })]);
    expect(
      byType('error')
        .map((e: { data: { problem: string } }) => e.data.problem)
        .sort(),
    ).toEqual(['payload is not JSON', expect.stringMatching(/^type: /)]);
    expect(byType('error')[0].data).toMatchObject({ source: 'mqtt', topic: action });
  });

  it('follows status and the last will for the asset’s online state', async () => {
    const m = await machine('Status');
    const view = async () => (await t.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body;
    expect(await view()).toMatchObject({ online: null, last_seen: null });
    const device = await client(m.userId, m.key, { will: { topic: m.topic('status'), payload: Buffer.from('offline'), qos: 1, retain: true } });
    await device.client.publishAsync(m.topic('status'), 'online', { qos: 1, retain: true });
    const online = await until(async () => ((await view()).online === true ? await view() : undefined), 3000, 'online');
    expect(typeof online.last_seen).toBe('string');
    // Cut the connection without DISCONNECT: the broker publishes the will.
    device.client.stream.destroy();
    await until(async () => (await view()).online === false, 3000, 'offline by will');
  });

  it("answers license requests with the license server's validate answer, retained", async () => {
    const m = await machine('Licensed');
    const device = await client(m.userId, m.key);
    await device.client.subscribeAsync(m.topic('license'), { qos: 1 });
    await device.client.publishAsync(m.topic('license/request'), JSON.stringify({ request_id: 'r1', key: 'LIC1-AAAA-BBBB' }), { qos: 1 });
    const [answer] = await until(() => (device.on(m.topic('license')).length ? device.on(m.topic('license')) : undefined), 3000, 'license answer');
    expect(answer).toEqual({ request_id: 'r1', ok: false, reason: 'bad_format' });
    expect(device.received.find((r) => r.topic === m.topic('license'))?.qos).toBe(1);
  });
});

describe('manual triggers', () => {
  it('sends action/set for POST /api/v1/assets/{id}/trigger and for a trigger message, never retained', async () => {
    const m = await machine('Button');
    const device = await client(m.userId, m.key);
    await device.client.subscribeAsync(m.topic('action/set'), { qos: 1 });
    const res = await t.request('POST', `/api/v1/assets/${m.assetId}/trigger`, { token: m.key, body: { duration_ms: 1200, reason: 'test vend' } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ trigger_id: expect.any(String), duration_ms: 1200, reason: 'test vend', topic: m.topic('action/set') });
    await device.client.publishAsync(m.topic('trigger'), 'PRESS', { qos: 1 });
    const sets = (await until(
      () => (device.on(m.topic('action/set')).length === 2 ? device.on(m.topic('action/set')) : undefined),
      3000,
      'two action/set',
    )) as Record<string, unknown>[];
    expect(sets[0]).toEqual({ trigger_id: res.body.trigger_id, duration_ms: 1200, reason: 'test vend' });
    expect(sets[1]).toMatchObject({ duration_ms: 2500, reason: 'mqtt trigger' });
    expect(device.received.every((r) => !r.retain)).toBe(true);
    // A later subscriber does not get an old command.
    const late = await client(m.userId, m.key);
    await late.client.subscribeAsync(m.topic('action/set'), { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(late.received).toEqual([]);
    const ro = (await t.request('POST', '/api/v1/accounts/me/keys', { token: m.key, body: { scope: 'read' } })).body.api_key;
    expect((await t.request('POST', `/api/v1/assets/${m.assetId}/trigger`, { token: ro, body: {} })).status).toBe(403);
    expect((await t.request('POST', `/api/v1/assets/${m.assetId}/trigger`, { token: m.key, body: { duration_ms: -1 } })).status).toBe(400);
  });
});

describe('device credentials', () => {
  it('log in to one asset only, and stop working when revoked', async () => {
    const m = await machine('Kiosk');
    const other = (await t.request('POST', '/api/v1/assets', { token: m.key, body: { name: 'Other', price_sats: 1 } })).body.asset_id;
    const issued = await t.request('POST', `/api/v1/assets/${m.assetId}/device-credentials`, { token: m.key, body: { label: 'esp32 #1' } });
    expect(issued.status).toBe(201);
    expect(issued.body).toMatchObject({
      username: expect.stringMatching(/^dev_[a-z0-9]{15}$/),
      password: expect.stringMatching(/^dpw_[0-9a-f]{48}$/),
      label: 'esp32 #1',
      mqtt: { url: `mqtt://127.0.0.1:${t.info.mqttPort}`, topic_prefix: `paywire/${m.userId}/${m.assetId}/` },
    });
    const list = await t.request('GET', `/api/v1/assets/${m.assetId}/device-credentials`, { token: m.key });
    expect(JSON.stringify(list.body)).not.toContain(issued.body.password);

    const device = await client(issued.body.username, issued.body.password);
    const grants = await new Promise<number[]>((resolve) =>
      device.client.subscribe([m.topic('payment'), `paywire/${m.userId}/${other}/payment`], { qos: 1 }, (err, granted) =>
        resolve((err as (Error & { packet?: { granted: number[] } }) | null)?.packet?.granted ?? (granted ?? []).map((g) => g.qos)),
      ),
    );
    expect(grants).toEqual([1, 128]);
    expect((await t.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online).toBe(true);
    const paymentId = await pay(m.link.lnurl);
    await until(() => (device.on(m.topic('payment')) as { payment_id: string }[]).some((p) => p.payment_id === paymentId), 3000, 'payment');

    const closed = new Promise<void>((resolve) => device.client.once('close', () => resolve()));
    const revoked = await t.request('DELETE', `/api/v1/assets/${m.assetId}/device-credentials/${issued.body.credential_id}`, { token: m.key });
    expect(revoked.status).toBe(200);
    await closed;
    await expect(connectMqtt(url, { username: issued.body.username, password: issued.body.password })).rejects.toThrow();
    await until(async () => (await t.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === false, 3000, 'offline');
  });

  it('may not ask for free vends: a device credential publishing trigger is refused', async () => {
    const m = await machine('NoFreebies');
    const issued = (await t.request('POST', `/api/v1/assets/${m.assetId}/device-credentials`, { token: m.key, body: {} })).body;
    const owner = await client(m.userId, m.key);
    await owner.client.subscribeAsync(m.topic('action/set'), { qos: 1 });
    const device = await client(issued.username, issued.password);
    const closed = new Promise<void>((resolve) => device.client.once('close', () => resolve()));
    device.client.publish(m.topic('trigger'), 'PRESS', { qos: 1 });
    await closed;
    await new Promise((r) => setTimeout(r, 200));
    expect(owner.on(m.topic('action/set'))).toEqual([]);
  });

  it('disconnect when their asset is deleted', async () => {
    const m = await machine('Retired');
    const issued = (await t.request('POST', `/api/v1/assets/${m.assetId}/device-credentials`, { token: m.key, body: {} })).body;
    const device = await client(issued.username, issued.password);
    const closed = new Promise<void>((resolve) => device.client.once('close', () => resolve()));
    expect((await t.request('DELETE', `/api/v1/assets/${m.assetId}`, { token: m.key })).status).toBe(200);
    await closed;
    await expect(connectMqtt(url, { username: issued.username, password: issued.password })).rejects.toThrow();
  });

  it('drops clients of a rotated API key', async () => {
    const m = await machine('Rotor');
    const device = await client(m.userId, m.key);
    const closed = new Promise<void>((resolve) => device.client.once('close', () => resolve()));
    await t.request('POST', '/api/v1/accounts/me/rotate-key', { token: m.key });
    await closed;
  });
});

describe('the bridge state and WebSocket transport', () => {
  it('keeps paywire/bridge/state retained "online" for every client', async () => {
    const m = await machine('Watcher');
    const watcher = await client(m.userId, m.key);
    await watcher.client.subscribeAsync('paywire/bridge/state', { qos: 1 });
    await until(() => watcher.received.length > 0, 2000, 'bridge state');
    expect(watcher.received[0]).toMatchObject({ topic: 'paywire/bridge/state', payload: 'online', retain: true });
  });

  it('serves MQTT over WebSocket at /mqtt on the HTTP port', async () => {
    const m = await machine('Browser');
    const ws = await connectMqtt(`${t.url.replace('http', 'ws')}/mqtt`, { username: m.userId, password: m.key });
    open.push(ws);
    await ws.client.subscribeAsync(m.topic('payment'), { qos: 1 });
    const paymentId = await pay(m.link.lnurl);
    await until(() => (ws.on(m.topic('payment')) as { payment_id: string }[]).some((p) => p.payment_id === paymentId), 3000, 'payment over ws');
    await expect(connectMqtt(`${t.url.replace('http', 'ws')}/mqtt`, {})).rejects.toThrow();
  });
});

describe('refusing invoices while the machine is offline, from the broker', () => {
  it('answers the LNURL callback 409 once the device said offline, and invoices again when it is back', async () => {
    const m = await machine('Picky', { refuse_when_offline: true });
    const device = await client(m.userId, m.key);
    await device.client.publishAsync(m.topic('status'), 'offline', { qos: 1, retain: true });
    await until(async () => (await fetch(`${m.link.url}/callback?amount=10000`)).status === 409, 3000, '409 while offline');
    await device.client.publishAsync(m.topic('status'), 'online', { qos: 1, retain: true });
    await until(async () => (await fetch(`${m.link.url}/callback?amount=10000`)).status === 200, 3000, 'invoices again');
  });
});
