/**
 * Home Assistant MQTT discovery and the `…/stats` topic end to end: a real bridge on port 0 with
 * HOMEASSISTANT_DISCOVERY on, real `mqtt` clients standing in for Home Assistant (logged in with the
 * account's API key, subscribed to the account's discovery prefix) and for the machine, payments
 * settled through the dev backend; then a bridge with discovery left off.
 */
import { rm } from 'node:fs/promises';
import { Invoice } from '@getalby/lightning-tools';
import { requestInvoice } from 'lnurl-pay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { until } from '../helpers/receiver.js';

const open: TestClient[] = [];
const bridges: TestBridge[] = [];
afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  for (const b of bridges) await b.close().catch(() => undefined);
});

async function bridge(overrides: Record<string, unknown> = {}, dataDir?: string): Promise<TestBridge> {
  const t = await startBridge({ HOMEASSISTANT_DISCOVERY: true, ...overrides }, dataDir ? { dataDir } : {});
  bridges.push(t);
  return t;
}

async function client(t: TestBridge, username: string, password: string): Promise<TestClient> {
  const c = await connectMqtt(`mqtt://127.0.0.1:${t.info.mqttPort}`, { username, password });
  open.push(c);
  return c;
}

interface Machine {
  userId: string;
  key: string;
  assetId: string;
  lnurl: string;
  prefix: string;
  topic(kind: string): string;
  config(component: string, objectId: string): string;
}

/** An account (or another asset of one) with a payment link. */
async function machine(t: TestBridge, name: string, account?: { userId: string; key: string }): Promise<Machine> {
  const acct = account ?? (await t.signup(`ha-${name.toLowerCase().replace(/\W+/g, '-')}`));
  const created = await t.request('POST', '/api/v1/assets', { token: acct.key, body: { name, price_sats: 10, duration_ms: 1500, pricing: 'variable' } });
  expect(created.status).toBe(201);
  const assetId = created.body.asset_id as string;
  const link = (await t.request('POST', `/api/v1/assets/${assetId}/payment-link`, { token: acct.key })).body;
  const prefix = `paywire/${acct.userId}/homeassistant`;
  return {
    userId: acct.userId,
    key: acct.key,
    assetId,
    lnurl: link.lnurl as string,
    prefix,
    topic: (kind) => `paywire/${acct.userId}/${assetId}/${kind}`,
    config: (component, objectId) => `${prefix}/${component}/paywire_${assetId}/${objectId}/config`,
  };
}

/** A wallet pays: an invoice through the LNURL callback, settled by the admin's dev settle. */
async function pay(t: TestBridge, lnurl: string, sats: number): Promise<void> {
  const { invoice } = await requestInvoice({ lnUrlOrAddress: lnurl, tokens: sats as never });
  const res = await t.request('POST', `/api/v1/dev/payments/${new Invoice({ pr: invoice }).paymentHash}/settle`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(res.status).toBe(200);
}

/** Home Assistant as an MQTT client: the account's key, its discovery prefix and the asset's stats. */
async function homeAssistant(t: TestBridge, m: Machine): Promise<TestClient> {
  const ha = await client(t, m.userId, m.key);
  await ha.client.subscribeAsync([`${m.prefix}/#`, m.topic('stats')], { qos: 1 });
  return ha;
}

const CONFIGS = [
  ['button', 'test_vend'],
  ['sensor', 'sales'],
  ['sensor', 'revenue'],
] as const;

/** The last payload on each of the asset's three config topics, once all three arrived. */
async function configs(ha: TestClient, m: Machine, what: string, accept: (payloads: Record<string, any>[]) => boolean = () => true) {
  return until(
    () => {
      const latest = CONFIGS.map(([component, objectId]) => ha.received.filter((r) => r.topic === m.config(component, objectId)).at(-1));
      if (latest.some((r) => r === undefined)) return undefined;
      const payloads = latest.map((r) => JSON.parse((r as { payload: string }).payload) as Record<string, any>);
      return accept(payloads) ? { messages: latest as NonNullable<(typeof latest)[number]>[], payloads } : undefined;
    },
    5000,
    what,
  );
}

const statsOf = (c: TestClient, m: Machine) => c.on(m.topic('stats'));

describe('Home Assistant discovery (HOMEASSISTANT_DISCOVERY on)', () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await bridge();
  });

  it('publishes retained button and sensor configs under the account’s prefix, as Home Assistant subscribes them', async () => {
    const m = await machine(t, 'Coffee machine');
    // Home Assistant subscribes exactly these two filters below its discovery prefix.
    const ha = await client(t, m.userId, m.key);
    const granted = await ha.client.subscribeAsync([`${m.prefix}/+/+/config`, `${m.prefix}/+/+/+/config`], { qos: 0 });
    expect(granted.map((g) => g.qos)).toEqual([0, 0]);
    const { messages, payloads } = await configs(ha, m, 'three configs');
    expect(messages.every((r) => r.retain)).toBe(true);
    // HA trims `<prefix>/` and matches the rest against its TOPIC_MATCHER (homeassistant/components/mqtt/discovery.py).
    for (const r of messages) expect(r.topic.slice(m.prefix.length + 1)).toMatch(/^\w+\/(?:[a-zA-Z0-9_-]+\/)?[a-zA-Z0-9_-]+\/config$/);

    const availability = [
      { topic: m.topic('status'), payload_available: 'online', payload_not_available: 'offline' },
      { topic: 'paywire/bridge/state', payload_available: 'online', payload_not_available: 'offline' },
    ];
    const device = { identifiers: [`paywire_${m.assetId}`], name: 'Coffee machine', manufacturer: 'Paywire', model: 'asset' };
    const common = { availability, availability_mode: 'all', device, origin: { name: 'Paywire', sw_version: expect.any(String) } };
    const [button, sales, revenue] = payloads;
    expect(button).toEqual({
      ...common,
      name: 'Test vend',
      unique_id: `paywire_${m.assetId}_test_vend`,
      command_topic: m.topic('trigger'),
      payload_press: 'PRESS',
      qos: 1,
      retain: false,
      icon: expect.any(String),
    });
    expect(sales).toEqual({
      ...common,
      name: 'Sales',
      unique_id: `paywire_${m.assetId}_sales`,
      state_topic: m.topic('stats'),
      value_template: '{{ value_json.sales }}',
      state_class: 'total_increasing',
      icon: expect.any(String),
    });
    expect(revenue).toEqual({
      ...common,
      name: 'Revenue',
      unique_id: `paywire_${m.assetId}_revenue`,
      state_topic: m.topic('stats'),
      value_template: '{{ value_json.revenue_sats }}',
      unit_of_measurement: 'sats',
      state_class: 'total_increasing',
      icon: expect.any(String),
    });
  });

  it('turns a press of the Test vend button into action/set for the machine', async () => {
    const m = await machine(t, 'Vending');
    const ha = await homeAssistant(t, m);
    const [button] = (await configs(ha, m, 'configs')).payloads;
    const issued = await t.request('POST', `/api/v1/assets/${m.assetId}/device-credentials`, { token: m.key, body: { label: 'relay' } });
    const device = await client(t, issued.body.username, issued.body.password);
    await device.client.subscribeAsync(m.topic('action/set'), { qos: 1 });
    await ha.client.publishAsync(button?.command_topic, button?.payload_press, { qos: button?.qos, retain: button?.retain });
    const [set] = await until(() => (device.on(m.topic('action/set')).length ? device.on(m.topic('action/set')) : undefined), 3000, 'action/set');
    expect(set).toEqual({ trigger_id: expect.any(String), duration_ms: 1500, reason: 'mqtt trigger' });
  });

  it('republishes the configs with the new device name when the asset is renamed', async () => {
    const m = await machine(t, 'Old name');
    const ha = await homeAssistant(t, m);
    await configs(ha, m, 'first configs');
    expect((await t.request('PATCH', `/api/v1/assets/${m.assetId}`, { token: m.key, body: { name: 'Espresso bar' } })).status).toBe(200);
    const { payloads } = await configs(ha, m, 'renamed configs', (p) => p.every((c) => c.device.name === 'Espresso bar'));
    expect(payloads.map((p) => p.unique_id)).toEqual(CONFIGS.map(([, o]) => `paywire_${m.assetId}_${o}`));
  });

  it('removes a deleted asset’s configs and stats with empty retained payloads, and keeps the others', async () => {
    const m = await machine(t, 'Doomed');
    const kept = await machine(t, 'Kept', m);
    const ha = await homeAssistant(t, m);
    await configs(ha, m, 'configs before delete');
    expect((await t.request('DELETE', `/api/v1/assets/${m.assetId}`, { token: m.key })).status).toBe(200);
    const removed = [...CONFIGS.map(([c, o]) => m.config(c, o)), m.topic('stats')];
    await until(() => removed.every((topic) => ha.received.some((r) => r.topic === topic && r.payload === '')), 3000, 'empty payloads');

    // A Home Assistant that connects now finds the kept asset and nothing of the deleted one.
    const fresh = await client(t, m.userId, m.key);
    await fresh.client.subscribeAsync([`${m.prefix}/#`, `paywire/${m.userId}/+/stats`], { qos: 1 });
    await configs(fresh, kept, 'kept asset’s configs');
    await until(() => statsOf(fresh, kept).length > 0, 3000, 'kept asset’s stats');
    await new Promise((r) => setTimeout(r, 200));
    expect(fresh.received.filter((r) => r.topic.includes(m.assetId))).toEqual([]);
  });

  it('shows one account’s discovery to that account only', async () => {
    const a = await machine(t, 'Alpha');
    const b = await machine(t, 'Beta');
    const spy = await client(t, b.userId, b.key);
    await spy.client.subscribeAsync(`paywire/${b.userId}/#`, { qos: 1 });
    // The ACL refuses another account's prefix and the shared default one (SUBACK 0x80).
    for (const filter of [`${a.prefix}/#`, 'homeassistant/#']) await expect(spy.client.subscribeAsync(filter, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await configs(spy, b, 'own configs');
    await pay(t, a.lnurl, 10);
    expect((await t.request('PATCH', `/api/v1/assets/${a.assetId}`, { token: a.key, body: { name: 'Alpha 2' } })).status).toBe(200);
    const watcher = await homeAssistant(t, a);
    await configs(watcher, a, 'a’s renamed configs', (p) => p.every((c) => c.device.name === 'Alpha 2'));
    expect(spy.received.filter((r) => r.topic.includes(a.userId) || r.topic.includes(a.assetId))).toEqual([]);
  });
});

describe('sales stats', () => {
  it('go 0 → 1 → 2 with the revenue as payments settle, and are recomputed after a restart', async () => {
    const t = await bridge();
    const m = await machine(t, 'Counter');
    const ha = await homeAssistant(t, m);
    await until(() => statsOf(ha, m).length === 1, 3000, 'initial stats');
    expect(ha.received.find((r) => r.topic === m.topic('stats'))?.retain).toBe(true);
    await pay(t, m.lnurl, 10);
    await until(() => statsOf(ha, m).length === 2, 3000, 'stats after one payment');
    await pay(t, m.lnurl, 25);
    await until(() => statsOf(ha, m).length === 3, 3000, 'stats after two payments');
    const [zero, one, two] = statsOf(ha, m) as { sales: number; revenue_sats: number; last_paid_at: string | null }[];
    expect(zero).toEqual({ sales: 0, revenue_sats: 0, last_paid_at: null });
    expect(one).toEqual({ sales: 1, revenue_sats: 10, last_paid_at: expect.any(String) });
    expect(two).toEqual({ sales: 2, revenue_sats: 35, last_paid_at: expect.any(String) });
    expect(Date.parse(two?.last_paid_at ?? '')).toBeGreaterThanOrEqual(Date.parse(one?.last_paid_at ?? ''));

    // The broker keeps retained messages in memory only: the restarted bridge counts again from the store.
    await t.stop();
    const again = await bridge({}, t.dataDir);
    try {
      const fresh = await homeAssistant(again, m);
      await until(() => statsOf(fresh, m).length === 1, 3000, 'stats after restart');
      expect(statsOf(fresh, m)).toEqual([two]);
      await configs(fresh, m, 'configs after restart');
      // The public URL follows the new HTTP port: ask for the link again.
      const link = (await again.request('GET', `/api/v1/assets/${m.assetId}/payment-link`, { token: m.key })).body;
      await pay(again, link.lnurl, 15);
      await until(() => statsOf(fresh, m).length === 2, 3000, 'stats after a third payment');
      expect(statsOf(fresh, m)[1]).toMatchObject({ sales: 3, revenue_sats: 50 });
    } finally {
      await again.stop();
      await rm(t.dataDir, { recursive: true, force: true });
    }
  });
});

describe('with HOMEASSISTANT_DISCOVERY off (the default)', () => {
  it('publishes no discovery topic, while the stats topic still works', async () => {
    const t = await bridge({ HOMEASSISTANT_DISCOVERY: false });
    const m = await machine(t, 'Quiet');
    const watcher = await client(t, m.userId, m.key);
    await watcher.client.subscribeAsync(`paywire/${m.userId}/#`, { qos: 1 });
    await until(() => statsOf(watcher, m).length === 1, 3000, 'stats');
    await pay(t, m.lnurl, 10);
    await until(() => statsOf(watcher, m).length === 2, 3000, 'stats after a payment');
    await t.request('PATCH', `/api/v1/assets/${m.assetId}`, { token: m.key, body: { name: 'Still quiet' } });
    await machine(t, 'Another', m);
    await t.request('DELETE', `/api/v1/assets/${m.assetId}`, { token: m.key });
    await until(() => watcher.received.some((r) => r.topic === m.topic('stats') && r.payload === ''), 3000, 'stats cleared');
    await new Promise((r) => setTimeout(r, 200));
    expect(watcher.received.filter((r) => r.topic.includes('homeassistant'))).toEqual([]);
  });
});
