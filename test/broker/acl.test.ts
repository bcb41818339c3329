/**
 * The broker's access control as a matrix, each case a real client against a bridge on port 0:
 * other accounts' topics, wildcard escapes, `$SYS`, read-only keys, device credentials, topics only
 * the bridge publishes, `paywire/bridge/state`, and refused logins. A refused PUBLISH closes the
 * connection [MQTT-3.3.5-2], a refused filter gets SUBACK 0x80 [MQTT-3.9.3], and neither may leak:
 * watchers on both accounts check that no refused message was routed and no event was stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startBridge, type TestBridge } from '../helpers/bridge.js';
import { addAsset, allEvents, createMachine, deviceLogin, readOnlyKey, type DeviceLogin, type Machine } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { connackCode, publishOutcome, subackCode } from '../helpers/mqtt-probe.js';
import { RawMqtt } from '../helpers/raw-mqtt.js';
import { until } from '../helpers/receiver.js';

const SUBACK_FAILURE = 0x80;
/** Every refused payload carries this marker, so watchers can tell if one leaked. */
const MARK = 'acl-probe-refused';

let t: TestBridge;
let url: string;
let me: Machine; // account A, asset a1
let mine2: Machine; // account A, asset a2
let other: Machine; // account B, asset b1
let ro: string;
let device: DeviceLogin;
let watchA: TestClient;
let watchB: TestClient;
const open: TestClient[] = [];
const raws: RawMqtt[] = [];
let probes = 0;

beforeAll(async () => {
  t = await startBridge();
  url = `mqtt://127.0.0.1:${t.info.mqttPort}`;
  me = await createMachine(t.url, 'Alpha');
  mine2 = await addAsset(me, 'Alpha Two');
  other = await createMachine(t.url, 'Bravo');
  ro = await readOnlyKey(me);
  device = await deviceLogin(me);
  watchA = await client(me.userId, me.key);
  watchB = await client(other.userId, other.key);
  await watchA.client.subscribeAsync(`paywire/${me.userId}/#`, { qos: 1 });
  await watchB.client.subscribeAsync(`paywire/${other.userId}/#`, { qos: 1 });
});

afterAll(async () => {
  for (const r of raws) r.end();
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await t.close();
});

async function client(username: string, password: string): Promise<TestClient> {
  const c = await connectMqtt(url, { username, password });
  open.push(c);
  return c;
}

type Kind = 'full' | 'read-only' | 'device';
const login = (kind: Kind): [string, string] =>
  kind === 'full' ? [me.userId, me.key] : kind === 'read-only' ? [me.userId, ro] : [device.username, device.password];

/** A fresh connection of that kind publishes once at QoS 1: 'acked' or 'closed'. */
async function publishAs(kind: Kind, topic: string, payload?: string): Promise<'acked' | 'closed'> {
  const c = await client(...login(kind));
  return publishOutcome(c.client, topic, payload ?? JSON.stringify({ type: 'action', external_id: `${MARK}-${++probes}` }));
}

/** SUBACK codes of each filter, one SUBSCRIBE each, on one connection of that kind. */
async function subscribeAs(kind: Kind, filters: string[]): Promise<(number | 'closed')[]> {
  const c = await client(...login(kind));
  const codes: (number | 'closed')[] = [];
  for (const filter of filters) codes.push(await subackCode(c.client, filter));
  return codes;
}

/** A raw client (for what `mqtt` refuses to send) logged in with the account's full key. */
async function raw(kind: Kind = 'full'): Promise<RawMqtt> {
  const [username, password] = login(kind);
  const { client: r, code } = await RawMqtt.connect(t.info.mqttPort as number, { username, password });
  expect(code).toBe(0);
  raws.push(r);
  return r;
}

/** Leaked: anything a watcher saw that carries the refused marker. */
const leaked = (c: TestClient) => c.received.filter((m) => m.payload.includes(MARK));

/** Wait for a legitimate message to pass through both watchers: whatever was refused earlier had time to leak. */
async function flushWatchers(): Promise<void> {
  const sentinel = `sentinel-${++probes}`;
  const a = await client(me.userId, me.key);
  const b = await client(other.userId, other.key);
  await a.client.publishAsync(me.topic('status'), 'online', { qos: 1 });
  await b.client.publishAsync(other.topic('action'), JSON.stringify({ type: 'custom', external_id: sentinel }), { qos: 1 });
  await until(
    () => watchB.received.some((m) => m.payload.includes(sentinel)) && watchA.received.some((m) => m.topic === me.topic('status')),
    3000,
    'sentinels',
  );
}

describe('another account', () => {
  it('closes the connection of a client publishing to another account’s topics', async () => {
    for (const kind of ['full', 'device'] as const) {
      for (const topic of ['action', 'status', 'trigger', 'license/request']) {
        expect(await publishAs(kind, other.topic(topic), topic === 'status' ? `online ${MARK}` : undefined), `${kind} → B/${topic}`).toBe('closed');
      }
    }
  });

  it('refuses subscriptions to another account’s topics with SUBACK 0x80, and keeps the connection', async () => {
    const filters = [`paywire/${other.userId}/#`, other.topic('payment'), other.topic('+'), `paywire/${other.userId}/+/payment`];
    expect(await subscribeAs('full', [...filters, me.topic('payment')])).toEqual([...filters.map(() => SUBACK_FAILURE), 1]);
  });
});

describe('wildcard escapes', () => {
  it('refuses filters that would widen the account prefix', async () => {
    const filters = [
      'paywire/+/payment',
      `paywire/+/${other.assetId}/payment`,
      'paywire/+/+/payment',
      'paywire/+/#',
      '+/+/#',
      '+/#',
      '#',
      'paywire/#',
      `+/${other.userId}/#`,
      `+/${me.userId}/#`,
      // Empty levels outside the prefix.
      'paywire//#',
      `/paywire/${me.userId}/#`,
      `paywire//${me.userId}/#`,
      `paywire/${me.userId}`,
    ];
    expect(await subscribeAs('full', filters)).toEqual(filters.map(() => SUBACK_FAILURE));
  });

  it('refuses (or drops) filters with a wildcard glued to the account id, which no client library would send', async () => {
    // [MQTT-4.7.1-2]/[MQTT-4.7.1-3]: `+` and `#` must fill a whole level; the broker may refuse or close.
    for (const filter of [`paywire/${me.userId}+`, `paywire/${me.userId}+/#`, `paywire/${me.userId}#`, `paywire/${me.userId.slice(0, -1)}+/#`]) {
      const r = await raw();
      expect([SUBACK_FAILURE, 'closed'], filter).toContain(await r.subscribe(filter));
    }
  });

  it('treats `..` and empty levels inside the prefix as literal levels: granted or not, nothing of another asset or account arrives', async () => {
    const c = await client(me.userId, me.key);
    const tricky = [
      `paywire/${me.userId}/../${other.userId}/${other.assetId}/payment`,
      `paywire/${me.userId}//payment`,
      `paywire/${me.userId}/${me.assetId}/../${mine2.assetId}/#`,
    ];
    for (const filter of tricky) expect([1, SUBACK_FAILURE], filter).toContain(await subackCode(c.client, filter));
    const b = await client(other.userId, other.key);
    await b.client.publishAsync(other.topic('action'), JSON.stringify({ type: 'custom', external_id: 'dotdot' }), { qos: 1 });
    const a = await client(me.userId, me.key);
    await a.client.publishAsync(mine2.topic('status'), 'online', { qos: 1 });
    await until(() => watchA.received.some((m) => m.topic === mine2.topic('status')), 3000, 'a2 status');
    await new Promise((r) => setTimeout(r, 100));
    expect(c.received).toEqual([]);
  });

  it('closes the connection of a publish with wildcards, empty levels, `..` or trailing levels', async () => {
    const topics = [
      `paywire/+/${other.assetId}/action`,
      `paywire/${me.userId}/+/action`,
      `paywire/${me.userId}/${me.assetId}/#`,
      `paywire/${me.userId}//action`,
      `paywire//${me.assetId}/action`,
      `paywire/${me.userId}/${me.assetId}/action/`,
      `paywire/${me.userId}/${me.assetId}//action`,
      `paywire/${me.userId}/../${other.userId}/${other.assetId}/action`,
      `/paywire/${me.userId}/${me.assetId}/action`,
      `paywire/${me.userId}/${me.assetId}/action/extra`,
      `paywire/${me.userId}/${me.assetId}`,
    ];
    for (const topic of topics) {
      const r = await raw();
      expect(await r.publish(topic, JSON.stringify({ type: 'action', external_id: `${MARK}-${++probes}` })), topic).toBe('closed');
    }
  });
});

describe('$SYS', () => {
  it('refuses $SYS subscriptions and closes $SYS publishers, for every kind of client', async () => {
    for (const kind of ['full', 'read-only', 'device'] as const) {
      expect(await subscribeAs(kind, ['$SYS/#', '$SYS/+/clients/total', '$SYS/broker/uptime'])).toEqual([SUBACK_FAILURE, SUBACK_FAILURE, SUBACK_FAILURE]);
      expect(await publishAs(kind, '$SYS/broker/fake', MARK)).toBe('closed');
      expect(await publishAs(kind, `$SYS/${me.userId}/new/clients`, MARK)).toBe('closed');
    }
  });
});

describe('read-only keys', () => {
  it('subscribe to their account, and any publish closes the connection', async () => {
    expect(await subscribeAs('read-only', [me.topic('payment'), `paywire/${me.userId}/#`, 'paywire/bridge/state'])).toEqual([1, 1, 1]);
    for (const topic of ['action', 'status', 'trigger', 'license/request']) {
      expect(await publishAs('read-only', me.topic(topic), topic === 'status' ? `offline ${MARK}` : undefined), topic).toBe('closed');
    }
  });
});

describe('device credentials', () => {
  it('subscribe to their own asset only', async () => {
    expect(
      await subscribeAs('device', [
        me.topic('payment'),
        me.topic('#'),
        me.topic('+'),
        mine2.topic('payment'),
        `paywire/${me.userId}/#`,
        `paywire/${me.userId}/+/payment`,
        other.topic('payment'),
      ]),
    ).toEqual([1, 1, 1, SUBACK_FAILURE, SUBACK_FAILURE, SUBACK_FAILURE, SUBACK_FAILURE]);
  });

  it('publish to their own asset; publishing for another asset of the same account closes the connection and stores nothing', async () => {
    const external = `device-own-${++probes}`;
    expect(await publishAs('device', me.topic('action'), JSON.stringify({ type: 'action', external_id: external }))).toBe('acked');
    for (const topic of ['action', 'status', 'trigger', 'license/request']) {
      expect(await publishAs('device', mine2.topic(topic), topic === 'status' ? `online ${MARK}` : undefined), topic).toBe('closed');
    }
    expect((await allEvents(me)).map((e) => e.external_id)).toContain(external);
    expect(await allEvents(mine2)).toEqual([]);
  });
});

describe('topics only the bridge publishes', () => {
  it('close the connection of every kind of client that publishes them', async () => {
    for (const kind of ['full', 'read-only', 'device'] as const) {
      for (const topic of ['payment', 'action/set', 'license', 'stats']) {
        const payload = JSON.stringify({
          payment_id: `${MARK}-${++probes}`,
          asset_id: me.assetId,
          amount_sats: 1,
          rail: 'lightning',
          duration_ms: 60_000,
          paid_at: new Date().toISOString(),
        });
        expect(await publishAs(kind, me.topic(topic), payload), `${kind} → ${topic}`).toBe('closed');
      }
    }
    // Retained forgeries would be the worst: check that a later subscriber gets no retained forgery either.
    const late = await client(me.userId, me.key);
    await late.client.subscribeAsync(`paywire/${me.userId}/#`, { qos: 1 });
    await new Promise((r) => setTimeout(r, 150));
    expect(leaked(late)).toEqual([]);
  });

  it('paywire/bridge/state: every kind of client may read it (retained "online"), none may publish it', async () => {
    for (const kind of ['full', 'read-only', 'device'] as const) {
      const c = await client(...login(kind));
      expect(await subackCode(c.client, 'paywire/bridge/state')).toBe(1);
      await until(() => c.received.find((m) => m.topic === 'paywire/bridge/state'), 3000, `${kind}: bridge state`);
      expect(c.received[0]).toMatchObject({ topic: 'paywire/bridge/state', payload: 'online', retain: true });
      expect(await publishAs(kind, 'paywire/bridge/state', 'offline')).toBe('closed');
      expect(await subscribeAs(kind, ['paywire/bridge/#', 'paywire/+/state'])).toEqual([SUBACK_FAILURE, SUBACK_FAILURE]);
    }
    const b = await client(other.userId, other.key);
    await b.client.subscribeAsync('paywire/bridge/state', { qos: 1 });
    await until(() => b.received.length > 0, 3000, 'bridge state');
    expect(b.received).toEqual([{ topic: 'paywire/bridge/state', payload: 'online', retain: true, qos: 1 }]);
  });
});

describe('logins', () => {
  it('refuses anonymous clients with CONNACK 5, a wrong password with 4, and a revoked device credential with 4', async () => {
    expect(await connackCode(url, {})).toBe(5);
    expect(await connackCode(url, { username: me.userId })).toBe(5);
    expect(await connackCode(url, { username: me.userId, password: `${me.key}x` })).toBe(4);
    expect(await connackCode(url, { username: me.userId, password: other.key })).toBe(4);
    expect(await connackCode(url, { username: device.username, password: `dpw_${'0'.repeat(48)}` })).toBe(4);
    expect(await connackCode(url, { username: me.userId, password: device.password })).toBe(4);

    const doomed = await deviceLogin(me, 'to be revoked');
    expect(await connackCode(url, { username: doomed.username, password: doomed.password })).toBe('connected');
    const revoked = await request(t.url, 'DELETE', `/api/v1/assets/${me.assetId}/device-credentials/${doomed.credentialId}`, { token: me.key });
    expect(revoked.status).toBe(200);
    expect(await connackCode(url, { username: doomed.username, password: doomed.password })).toBe(4);
  });
});

describe('nothing refused leaks', () => {
  it('no refused message reached a subscriber, and none was stored as an event', async () => {
    await flushWatchers();
    expect(leaked(watchA)).toEqual([]);
    expect(leaked(watchB)).toEqual([]);
    // No payment, trigger or license request happened here: nothing may have appeared on those topics
    // (the bridge's retained `stats` are legitimate; a forged one would carry the marker).
    expect(watchA.received.filter((m) => /\/(payment|action\/set|license)$/.test(m.topic))).toEqual([]);
    for (const m of [me, mine2, other]) {
      expect(
        (await allEvents(m)).filter((e) => JSON.stringify(e).includes(MARK)),
        m.assetId,
      ).toEqual([]);
    }
    // The watchers themselves were never disconnected.
    expect([watchA.client.connected, watchB.client.connected]).toEqual([true, true]);
  });
});
