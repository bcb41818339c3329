/**
 * Retained messages and message rates. A retained message is kept for every future subscriber, so
 * a client used to grow the broker without bound with retained publishes to assets that do not exist
 * (1,500 × 60 KB: +100 MB, replayed to every subscriber). Now only a live asset of the account holds
 * a retained message, only on `status` (the one retained topic devices send), of at most
 * MQTT_RETAINED_MAX_BYTES; a deleted asset's are cleared; wills are held to the same rules; and every
 * publish counts against the login's rate limit, whatever its topic or asset, wills too. Each refusal
 * closes the connection [MQTT-3.3.5-2] and is counted in the metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';
import { createMachine, type Machine } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { connackCode, publishOutcome } from '../helpers/mqtt-probe.js';
import { mqttRefusals, mqttRefusalsServed } from '../helpers/mqtt-refusals.js';
import { until } from '../helpers/receiver.js';

/** Long enough for a retained message that would come to have arrived. */
const QUIET_MS = 400;
const RETAINED_MAX = 64;
const RATE_LIMIT = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const open: TestClient[] = [];
afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
});

async function client(url: string, m: Machine, extra: Record<string, unknown> = {}): Promise<TestClient> {
  const c = await connectMqtt(url, { username: m.userId, password: m.key, ...extra });
  open.push(c);
  return c;
}

/** What a new subscriber to `filter` is given at once: the retained messages. */
async function retainedFor(url: string, m: Machine, filter: string): Promise<{ topic: string; payload: string }[]> {
  const c = await client(url, m);
  await c.client.subscribeAsync(filter, { qos: 1 });
  await sleep(QUIET_MS);
  await c.end();
  return c.received.filter((r) => r.retain).map((r) => ({ topic: r.topic, payload: r.payload }));
}

describe('retained messages', () => {
  let t: TestBridge;
  let url: string;
  beforeAll(async () => {
    t = await startBridge({ MQTT_RETAINED_MAX_BYTES: RETAINED_MAX });
    url = `mqtt://127.0.0.1:${t.info.mqttPort}`;
  });
  afterAll(async () => {
    await t.close();
  });

  it('are refused for an asset that does not exist, and nothing is kept or replayed; counted', async () => {
    const m = await createMachine(t.url, 'Real');
    const before = await mqttRefusals(t, 'retained_unknown_asset');
    for (let i = 0; i < 3; i++) {
      const c = await client(url, m);
      expect(await publishOutcome(c.client, `paywire/${m.userId}/nosuchasset${i}/status`, 'online', true)).toBe('closed');
    }
    expect(await retainedFor(url, m, `paywire/${m.userId}/+/status`)).toEqual([]);
    expect(await mqttRefusals(t, 'retained_unknown_asset')).toBe(before + 3);
    expect(await mqttRefusalsServed(t, 'retained_unknown_asset')).toBe(before + 3);

    // The control: the account's real asset keeps its retained status.
    const c = await client(url, m);
    expect(await publishOutcome(c.client, m.topic('status'), 'online', true)).toBe('acked');
    expect(await retainedFor(url, m, `paywire/${m.userId}/+/status`)).toEqual([{ topic: m.topic('status'), payload: 'online' }]);
  });

  it('are refused over MQTT_RETAINED_MAX_BYTES, and on topics the contract does not retain; counted', async () => {
    const m = await createMachine(t.url, 'Sizes');
    const tooLarge = await mqttRefusals(t, 'retained_too_large');
    const notAllowed = await mqttRefusals(t, 'retained_not_allowed');
    const c1 = await client(url, m);
    expect(await publishOutcome(c1.client, m.topic('status'), 'x'.repeat(RETAINED_MAX + 1), true)).toBe('closed');
    const c2 = await client(url, m);
    expect(await publishOutcome(c2.client, m.topic('action'), JSON.stringify({ type: 'action' }), true)).toBe('closed');
    expect(await retainedFor(url, m, `paywire/${m.userId}/+/status`)).toEqual([]);
    expect(await retainedFor(url, m, `paywire/${m.userId}/+/action`)).toEqual([]);
    expect(await mqttRefusals(t, 'retained_too_large')).toBe(tooLarge + 1);
    expect(await mqttRefusals(t, 'retained_not_allowed')).toBe(notAllowed + 1);
  });

  it('of a deleted asset are cleared', async () => {
    const m = await createMachine(t.url, 'Doomed');
    const c = await client(url, m);
    expect(await publishOutcome(c.client, m.topic('status'), 'online', true)).toBe('acked');
    expect(await retainedFor(url, m, m.topic('status'))).toHaveLength(1);
    expect((await t.request('DELETE', `/api/v1/assets/${m.assetId}`, { token: m.key })).status).toBe(200);
    await until(async () => (await retainedFor(url, m, m.topic('status'))).length === 0, 5000, 'the retained status cleared');
  });

  it('as a last will: a retained will over the cap is refused at CONNECT (5), one to an asset that does not exist is never kept; counted', async () => {
    const m = await createMachine(t.url, 'Wills');
    const tooLarge = await mqttRefusals(t, 'retained_too_large');
    const unknown = await mqttRefusals(t, 'retained_unknown_asset');
    const big = { topic: m.topic('status'), payload: Buffer.from('x'.repeat(RETAINED_MAX + 1)), qos: 1 as const, retain: true };
    expect(await connackCode(url, { username: m.userId, password: m.key, will: big })).toBe(5);
    expect(await mqttRefusals(t, 'retained_too_large')).toBe(tooLarge + 1);

    const fake = `paywire/${m.userId}/nosuchasset/status`;
    const c = await client(url, m, { will: { topic: fake, payload: Buffer.from('offline'), qos: 1, retain: true } });
    // Cut the connection without DISCONNECT: the broker publishes the will.
    c.client.stream.destroy();
    await until(async () => (await mqttRefusals(t, 'retained_unknown_asset')) === unknown + 1, 5000, 'the will refused');
    expect(await retainedFor(url, m, `paywire/${m.userId}/+/status`)).toEqual([]);
  });
});

describe('every publish counts against the login’s rate limit', () => {
  let t: TestBridge;
  let url: string;
  beforeAll(async () => {
    t = await startBridge({ RATE_LIMIT_PER_MINUTE: RATE_LIMIT });
    url = `mqtt://127.0.0.1:${t.info.mqttPort}`;
  });
  afterAll(async () => {
    await t.close();
  });

  /** Publish until the broker closes the connection (or `max` were acknowledged): how many were acknowledged. */
  async function floodUntilClosed(c: TestClient, topic: string, max: number): Promise<number> {
    for (let acked = 0; acked < max; acked++) {
      if ((await publishOutcome(c.client, topic, JSON.stringify({ type: 'action', external_id: `flood-${acked}` }))) === 'closed') return acked;
    }
    return max;
  }

  it('messages for assets that do not exist too: past the limit they are refused; counted', async () => {
    const m = await createMachine(t.url, 'Ghost flood');
    const before = await mqttRefusals(t, 'rate_limited');
    const c = await client(url, m);
    const acked = await floodUntilClosed(c, `paywire/${m.userId}/nosuchasset/action`, RATE_LIMIT * 3);
    expect(acked).toBeGreaterThanOrEqual(RATE_LIMIT);
    expect(acked).toBeLessThan(RATE_LIMIT * 3);
    expect(await mqttRefusals(t, 'rate_limited')).toBe(before + 1);
  });

  it('wills too: a will past the limit is not published', async () => {
    const m = await createMachine(t.url, 'Will flood');
    const watcher = await client(url, m);
    await watcher.client.subscribeAsync(`paywire/${m.userId}/+/action`, { qos: 1 });
    const willTopic = `paywire/${m.userId}/nosuchasset/action`;
    const c = await client(url, m, { will: { topic: willTopic, payload: Buffer.from('{"type":"action","external_id":"the-will"}'), qos: 1, retain: false } });
    const before = await mqttRefusals(t, 'rate_limited');
    // The flood's last message is refused and closes the connection; the will that follows is past the limit too.
    await floodUntilClosed(c, `paywire/${m.userId}/nosuchasset/status`, RATE_LIMIT * 3);
    await until(async () => (await mqttRefusals(t, 'rate_limited')) === before + 2, 5000, 'the flood and the will refused');
    await sleep(QUIET_MS);
    expect(watcher.received.filter((r) => r.payload.includes('the-will'))).toEqual([]);
  });
});
