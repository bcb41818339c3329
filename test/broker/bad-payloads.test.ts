/**
 * Whatever a machine sends on the topics the bridge reads (`action`, `license/request`, `status`,
 * `trigger`), the connection stays up and the bridge keeps working: a payload the contract does not
 * allow is accepted (PUBACK) and recorded as an `error` event, at most 10 per asset per minute; an
 * asset that is not the account's is ignored; a QoS 0 flood is cut by the per-credential rate limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startBridge, type TestBridge } from '../helpers/bridge.js';
import { allEvents, createMachine, type EventView, type Machine } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { publishOutcome } from '../helpers/mqtt-probe.js';
import { until } from '../helpers/receiver.js';

const LIMIT = 16_384;
/** The dispatcher's cap on `error` events: 10 per asset per minute, refilled one every 6 s. */
const ERRORS_PER_MINUTE = 10;

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

async function client(m: Machine): Promise<TestClient> {
  const c = await connectMqtt(url, { username: m.userId, password: m.key });
  open.push(c);
  return c;
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
/** `[[[…]]]` nested `depth` deep: a parser that recurses would blow its stack. */
const arrayBomb = (depth: number) => Buffer.from('['.repeat(depth) + ']'.repeat(depth));
/** `{"a":{"a":…}}` nested `depth` deep. */
const objectBomb = (depth: number) => Buffer.from('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
const garbage = Buffer.from([0xff, 0xfe, 0x00, 0x01, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc, 0x00, 0x7f]);
const huge = (bytes: number) => json({ type: 'action', data: { pad: 'x'.repeat(bytes) } }).subarray(0, bytes);

/** Bad payloads of every kind, labelled, for one topic. Ten each: the error events of one asset all fit in the cap. */
function badPayloads(topic: 'action' | 'license/request' | 'status'): [string, Buffer, RegExp][] {
  const common: [string, Buffer, RegExp][] = [
    ['over 16 KiB', Buffer.alloc(LIMIT + 1, 0x61), new RegExp(`${LIMIT + 1} bytes is over the ${LIMIT}-byte limit`)],
    ['60 KiB', huge(60 * 1024), /61440 bytes is over the 16384-byte limit/],
    ['binary garbage', garbage, /./],
    ['empty', Buffer.alloc(0), /./],
    ['array depth bomb', arrayBomb(8_000), /./],
    ['object depth bomb', objectBomb(2_500), /./],
  ];
  if (topic === 'action') {
    return [
      ['invalid JSON', Buffer.from('{"type":"action",'), /not JSON/],
      ['wrong types', json({ type: 'action', external_id: 42, payment_id: ['p'], data: 'x' }), /external_id/],
      ['unknown field', json({ type: 'action', vend: true }), /vend/],
      ['__proto__ key', Buffer.from('{"type":"action","__proto__":{"isAdmin":true}}'), /__proto__/],
      ...common.slice(0, 5),
      ['string in place of an object', json('action'), /./],
    ];
  }
  if (topic === 'license/request') {
    return [
      ['invalid JSON', Buffer.from('{request_id: r1}'), /not JSON/],
      ['wrong types', json({ request_id: 1, key: true }), /request_id|key/],
      ['unknown field', json({ request_id: 'r1', key: 'LIC1-AAAA', sku: 'x' }), /sku/],
      ['__proto__ key', Buffer.from('{"request_id":"r1","key":"LIC1-AAAA","__proto__":{"ok":true}}'), /__proto__/],
      ...common.slice(0, 5),
      ['string in place of an object', json('LIC1-AAAA-BBBB'), /./],
    ];
  }
  return [
    ['not a status', Buffer.from('maybe'), /online/],
    ['an object', json({ status: 'online' }), /online/],
    ['a number', Buffer.from('42'), /online/],
    ['__proto__ key', Buffer.from('{"__proto__":"online"}'), /online/],
    ...common,
  ];
}

async function errorEvents(m: Machine): Promise<EventView[]> {
  return (await allEvents(m)).filter((e) => e.type === 'error');
}

describe('bad payloads on the topics the bridge reads', () => {
  for (const topic of ['action', 'license/request', 'status'] as const) {
    it(`${topic}: every bad payload is acknowledged and recorded as an error event; valid messages work after them`, async () => {
      const m = await createMachine(t.url, `Bad ${topic}`);
      const c = await client(m);
      await c.client.subscribeAsync(m.topic('license'), { qos: 1 });
      const cases = badPayloads(topic);
      expect(cases).toHaveLength(ERRORS_PER_MINUTE);
      for (const [label, payload] of cases) expect(await publishOutcome(c.client, m.topic(topic), payload), label).toBe('acked');

      const errors = await until(async () => ((await errorEvents(m)).length >= cases.length ? errorEvents(m) : undefined), 3000, 'error events');
      expect(errors).toHaveLength(cases.length);
      // Newest first: reverse to match the order sent.
      const ordered = [...errors].reverse();
      cases.forEach(([label, , problem], i) => {
        const data = ordered[i]?.data as { source: string; topic: string; problem: string; payload: string };
        expect(data, label).toMatchObject({ source: 'mqtt', topic: m.topic(topic), problem: expect.stringMatching(problem) });
        expect(data.payload.length, `${label}: stored excerpt`).toBeLessThanOrEqual(256);
      });
      expect(Object.prototype).not.toHaveProperty('isAdmin');
      expect(Object.prototype).not.toHaveProperty('ok');

      // The same connection is up and every topic still works.
      expect(c.client.connected).toBe(true);
      if (topic === 'action') {
        expect(await publishOutcome(c.client, m.topic('action'), json({ type: 'action', external_id: 'after-bad', data: { slot: 2 } }))).toBe('acked');
        const stored = (await allEvents(m)).find((e) => e.external_id === 'after-bad');
        expect(stored).toMatchObject({ type: 'action', source: 'mqtt', data: { slot: 2 } });
      } else if (topic === 'license/request') {
        expect(c.on(m.topic('license')), 'no answer to a bad request').toEqual([]);
        expect(await publishOutcome(c.client, m.topic('license/request'), json({ request_id: 'after-bad', key: 'LIC1-AAAA-BBBB' }))).toBe('acked');
        await until(() => c.on(m.topic('license')).length > 0, 3000, 'license answer');
        expect(c.on(m.topic('license'))).toEqual([{ request_id: 'after-bad', ok: false, reason: 'bad_format' }]);
      } else {
        const view = async () => (await t.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body as { online: boolean | null };
        expect((await view()).online, 'no bad status set it online').not.toBe(true);
        expect(await publishOutcome(c.client, m.topic('status'), 'online')).toBe('acked');
        await until(async () => (await view()).online === true, 3000, 'online');
      }
    });
  }

  it('trigger: any payload up to 16 KiB asks for a test vend (the contract allows anything); a bigger one is an error event', async () => {
    const m = await createMachine(t.url, 'Bad trigger');
    const c = await client(m);
    await c.client.subscribeAsync(m.topic('action/set'), { qos: 1 });
    const anything: [string, Buffer][] = [
      ['invalid JSON', Buffer.from('{"press":')],
      ['binary garbage', garbage],
      ['empty', Buffer.alloc(0)],
      ['array depth bomb', arrayBomb(8_000)],
      ['__proto__ key', Buffer.from('{"__proto__":{"polluted":true}}')],
      ['a string', json('PRESS')],
    ];
    for (const [label, payload] of anything) expect(await publishOutcome(c.client, m.topic('trigger'), payload), label).toBe('acked');
    for (const [label, payload] of [
      ['over 16 KiB', Buffer.alloc(LIMIT + 1, 0x62)],
      ['60 KiB', huge(60 * 1024)],
    ] as const) {
      expect(await publishOutcome(c.client, m.topic('trigger'), payload), label).toBe('acked');
    }
    await until(() => c.on(m.topic('action/set')).length >= anything.length, 3000, 'test vends');
    const errors = await until(async () => ((await errorEvents(m)).length >= 2 ? errorEvents(m) : undefined), 3000, 'two error events');
    await new Promise((r) => setTimeout(r, 200));
    expect(c.on(m.topic('action/set'))).toHaveLength(anything.length);
    expect(errors.map((e) => (e.data as { problem: string }).problem).sort()).toEqual([
      `payload of ${LIMIT + 1} bytes is over the ${LIMIT}-byte limit`,
      `payload of ${60 * 1024} bytes is over the ${LIMIT}-byte limit`,
    ]);
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(c.client.connected).toBe(true);
  });

  it('a __proto__ key inside `data` pollutes nothing', async () => {
    const m = await createMachine(t.url, 'Proto data');
    const c = await client(m);
    const payload = Buffer.from(
      '{"type":"custom","external_id":"proto-data","data":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"slot":1}}',
    );
    expect(await publishOutcome(c.client, m.topic('action'), payload)).toBe('acked');
    const stored = await until(async () => (await allEvents(m)).find((e) => e.external_id === 'proto-data'), 3000, 'event');
    expect(stored.data).toMatchObject({ slot: 1 });
    expect(Object.getPrototypeOf(stored.data)).toBe(Object.prototype);
    expect((stored.data as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('a 200 KiB packet is over the broker’s 64 KiB packet limit: the connection is closed before the bridge reads it, and the client comes back', async () => {
    // broker.ts refuses a packet once its header says it is over MAX_PACKET_BYTES (64 KiB):
    // MQTT 3.1.1 has no negative PUBACK, so the broker closes the connection [MQTT-4.8.0-1].
    const m = await createMachine(t.url, 'Oversized');
    for (const topic of ['action', 'license/request', 'status', 'trigger']) {
      const c = await client(m);
      expect(await publishOutcome(c.client, m.topic(topic), huge(200 * 1024)), topic).toBe('closed');
    }
    const back = await client(m);
    await back.client.subscribeAsync(m.topic('action/set'), { qos: 1 });
    expect(await publishOutcome(back.client, m.topic('action'), json({ type: 'action', external_id: 'after-oversized' }))).toBe('acked');
    await new Promise((r) => setTimeout(r, 100));
    // Nothing of the oversized packets reached the bridge: no error event, no test vend.
    expect((await allEvents(m)).map((e) => [e.type, e.external_id])).toEqual([['action', 'after-oversized']]);
    expect(back.on(m.topic('action/set'))).toEqual([]);
  });

  it('a WebSocket frame over the packet limit is refused before it is buffered, without logging in (close 1009)', async () => {
    // Anyone can open the WebSocket: its frames are capped near the 64 KiB MQTT packet limit, so an
    // anonymous client cannot make the server hold a large frame.
    const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/mqtt`, 'mqtt');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(Buffer.alloc(200 * 1024, 0x30));
    expect(await closed).toBe(1009);
  });

  it('caps error events at 10 per asset per minute, per asset, and still stores valid messages', async () => {
    const m = await createMachine(t.url, 'Noisy');
    const c = await client(m);
    const started = Date.now();
    const bad = [Buffer.from('{'), Buffer.from('nope'), garbage, Buffer.alloc(0), Buffer.alloc(LIMIT + 1, 0x63)];
    const topics = ['action', 'license/request', 'status', 'action', 'license/request', 'status'];
    let sent = 0;
    for (let round = 0; round < 5; round++) {
      for (const topic of topics) {
        const payload = bad[(round + sent) % bad.length] as Buffer;
        expect(await publishOutcome(c.client, m.topic(topic), payload)).toBe('acked');
        sent += 1;
      }
    }
    expect(await publishOutcome(c.client, m.topic('action'), json({ type: 'action', external_id: 'valid-after-noise' }))).toBe('acked');
    const elapsed = Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
    const events = await allEvents(m);
    const errors = events.filter((e) => e.type === 'error');
    // The bucket starts full (10) and refills one every 6 s while we send.
    expect(sent).toBe(30);
    expect(errors.length).toBeGreaterThanOrEqual(ERRORS_PER_MINUTE);
    expect(errors.length).toBeLessThanOrEqual(ERRORS_PER_MINUTE + Math.ceil(elapsed / 6_000));
    expect(events.filter((e) => e.external_id === 'valid-after-noise')).toHaveLength(1);

    // The cap is per asset: another asset's first bad message is still recorded.
    const quiet = await createMachine(t.url, 'Quiet');
    const q = await client(quiet);
    expect(await publishOutcome(q.client, quiet.topic('status'), 'sideways')).toBe('acked');
    await until(async () => (await errorEvents(quiet)).length === 1, 3000, 'the other asset’s error event');
  });
});

describe('messages for assets that are not the account’s', () => {
  it('are acknowledged and ignored: no event, no answer, no test vend', async () => {
    const m = await createMachine(t.url, 'Owner');
    const doomed = (await t.request('POST', '/api/v1/assets', { token: m.key, body: { name: 'Doomed', price_sats: 5 } })).body.asset_id as string;
    expect((await t.request('DELETE', `/api/v1/assets/${doomed}`, { token: m.key })).status).toBe(200);
    const c = await client(m);
    await c.client.subscribeAsync(`paywire/${m.userId}/#`, { qos: 1 });
    const before = (await t.request('GET', '/api/public/events?limit=200', { token: m.key })).body.events.length as number;
    for (const asset of ['nosuchasset0000', doomed]) {
      const topic = (kind: string) => `paywire/${m.userId}/${asset}/${kind}`;
      expect(await publishOutcome(c.client, topic('action'), json({ type: 'action', external_id: `ghost-${asset}` }))).toBe('acked');
      expect(await publishOutcome(c.client, topic('action'), Buffer.from('{not json'))).toBe('acked');
      expect(await publishOutcome(c.client, topic('license/request'), json({ request_id: 'ghost', key: 'LIC1-X' }))).toBe('acked');
      expect(await publishOutcome(c.client, topic('status'), 'online')).toBe('acked');
      expect(await publishOutcome(c.client, topic('trigger'), 'PRESS')).toBe('acked');
    }
    await new Promise((r) => setTimeout(r, 300));
    const after = (await t.request('GET', '/api/public/events?limit=200', { token: m.key })).body.events.length as number;
    expect(after).toBe(before);
    expect(c.received.filter((r) => /\/(license|action\/set)$/.test(r.topic))).toEqual([]);
    expect(c.client.connected).toBe(true);
  });
});

describe('after all that', () => {
  it('the server still answers HTTP and MQTT', async () => {
    expect((await t.request('GET', '/healthz')).status).toBe(200);
    const m = await createMachine(t.url, 'Survivor');
    const c = await client(m);
    await c.client.subscribeAsync('paywire/bridge/state', { qos: 1 });
    await until(() => c.received.some((r) => r.topic === 'paywire/bridge/state' && r.payload === 'online'), 3000, 'bridge state');
    expect(await publishOutcome(c.client, m.topic('action'), json({ type: 'action', external_id: 'survivor' }))).toBe('acked');
    expect((await allEvents(m)).map((e) => e.external_id)).toEqual(['survivor']);
  });
});

describe('a QoS 0 flood from one client', () => {
  let limited: TestBridge;
  beforeAll(async () => {
    limited = await startBridge({ RATE_LIMIT_PER_MINUTE: 60 });
  });
  afterAll(async () => {
    await limited.close();
  });

  it('stores events only up to the per-credential rate limit, then closes the flooding connection, and breaks nothing', async () => {
    const m = await createMachine(limited.url, 'Flooded');
    const flooder = await connectMqtt(`mqtt://127.0.0.1:${limited.info.mqttPort}`, { username: m.userId, password: m.key });
    open.push(flooder);
    const closed = new Promise<void>((resolve) => flooder.client.once('close', () => resolve()));
    const started = Date.now();
    for (let i = 0; i < 1_000; i++) flooder.client.publish(m.topic('action'), JSON.stringify({ type: 'action', external_id: `flood-${i}` }), { qos: 0 });
    // Over the limit a message is refused, not acknowledged-and-dropped: the broker closes the connection.
    await closed;
    let stored = -1;
    await until(
      async () => {
        const now = (await allEvents(m)).length;
        const stable = now === stored;
        stored = now;
        return stable;
      },
      5000,
      'the event count to settle',
    );
    const events = await allEvents(m);
    const flood = events.filter((e) => e.external_id?.startsWith('flood-'));
    console.log(`flood: 1000 QoS 0 actions, ${flood.length} stored at 60/minute before the connection was closed`);
    // The bucket holds 60 and refills one a second.
    expect(flood.length).toBeGreaterThanOrEqual(60);
    expect(flood.length).toBeLessThanOrEqual(60 + Math.ceil((Date.now() - started) / 1000));
    expect(new Set(flood.map((e) => e.external_id)).size).toBe(flood.length);
    // Others are not affected: another key of the account has its own budget.
    const key = await limited.request('POST', '/api/v1/accounts/me/keys', { token: m.key, body: { scope: 'full' } });
    expect(key.status).toBe(201);
    const second = await connectMqtt(`mqtt://127.0.0.1:${limited.info.mqttPort}`, { username: m.userId, password: key.body.api_key });
    open.push(second);
    expect(await publishOutcome(second.client, m.topic('action'), json({ type: 'action', external_id: 'second-key' }))).toBe('acked');
    await until(async () => (await allEvents(m)).some((e) => e.external_id === 'second-key'), 3000, 'the second key’s event');
    expect((await limited.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).status).toBe(200);
  });
});
