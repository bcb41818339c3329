/**
 * What a subscription may cost the bridge, and what the broker takes when no one is behind it: a
 * replay goes only to full-scope clients whose subscription was granted, at most as often as the
 * login's message rate limit allows; a status is stored only on change, a status flood is refused past
 * the limit while a last will past it is still followed (in memory);
 * and a broker with no accept hook (before the bridge attaches, while it stops) acknowledges nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../broker/broker.js';
import type { ClientIdentity } from '../../broker/acl.js';
import { DeviceStates } from '../../bridge/devices/state.js';
import type { DevicesStore } from '../../bridge/devices/store.js';
import { createLogger } from '../../bridge/log.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { createMachine, deviceLogin, pay, readOnlyKey, type Machine } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { publishOutcome, subackCode } from '../helpers/mqtt-probe.js';
import { until } from '../helpers/receiver.js';

/** Low enough to run out of in a test (a burst of 20, then one every 3 s), high enough for the fixtures' HTTP calls. */
const RATE_LIMIT = 20;
/** Long enough for a replay that would come to have arrived (a replay takes a few ms). */
const QUIET_MS = 400;

let t: TestBridge;
let url: string;
const open: TestClient[] = [];

beforeAll(async () => {
  t = await startBridge({ RATE_LIMIT_PER_MINUTE: RATE_LIMIT });
  url = `mqtt://127.0.0.1:${t.info.mqttPort}`;
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await t.close();
});

async function client(username: string, password: string): Promise<TestClient> {
  const c = await connectMqtt(url, { username, password, clientId: `replay-${Math.random().toString(36).slice(2, 10)}` });
  open.push(c);
  return c;
}

/** A machine with one settled, unacknowledged payment in its outbox. */
async function machineWithPayment(name: string): Promise<{ m: Machine; paymentId: string }> {
  const m = await createMachine(t.url, name);
  return { m, paymentId: await pay(m, ADMIN_TOKEN) };
}

describe('replays', () => {
  it('are not sent to read-only clients, which never acknowledge', async () => {
    const { m, paymentId } = await machineWithPayment('Read only replay');
    const watcher = await client(m.userId, await readOnlyKey(m));
    expect(await subackCode(watcher.client, m.topic('payment'))).toBe(1);
    await new Promise((r) => setTimeout(r, QUIET_MS));
    expect(watcher.on(m.topic('payment'))).toEqual([]);
    // The control: a full-scope login subscribing to the same topic gets the payment.
    const device = await deviceLogin(m);
    const machine = await client(device.username, device.password);
    expect(await subackCode(machine.client, m.topic('payment'))).toBe(1);
    await until(() => machine.on(m.topic('payment')).length === 1, 5000, 'the replay');
    expect(machine.on(m.topic('payment'))).toMatchObject([{ payment_id: paymentId }]);
  });

  it('are not sent for a refused subscription, even one that would cover the payment', async () => {
    const { m } = await machineWithPayment('Refused replay');
    const device = await deviceLogin(m);
    const machine = await client(device.username, device.password);
    // A device credential may not reach beyond its asset: the account-wide filter is refused (SUBACK
    // 128), and nothing is published to the client on its account, though it covers the payment topic.
    expect(await subackCode(machine.client, `paywire/${m.userId}/#`)).toBe(128);
    await new Promise((r) => setTimeout(r, QUIET_MS));
    expect(machine.received).toEqual([]);
  });

  it('count against the login rate limit: a client subscribing in a loop gets no more replays', async () => {
    const { m } = await machineWithPayment('Replay loop');
    const device = await deviceLogin(m);
    const looper = await client(device.username, device.password);
    const rounds = RATE_LIMIT * 3;
    for (let i = 0; i < rounds; i++) {
      await looper.client.unsubscribeAsync(m.topic('payment'));
      expect(await subackCode(looper.client, m.topic('payment'))).toBe(1);
    }
    await new Promise((r) => setTimeout(r, QUIET_MS));
    const replays = looper.on(m.topic('payment')).length;
    // The burst, and whatever refilled while the loop ran; without the limit every round would replay.
    expect(replays).toBeGreaterThanOrEqual(1);
    expect(replays).toBeLessThan(rounds);
  });
});

describe('device status', () => {
  function countingStore(): { store: DevicesStore; writes: () => number } {
    let writes = 0;
    const store = {
      putState: async () => {
        writes += 1;
      },
      getState: async () => undefined,
    } as unknown as DevicesStore;
    return { store, writes: () => writes };
  }

  it('is stored when it changes, not on every repeat', async () => {
    const { store, writes } = countingStore();
    const states = new DeviceStates(store, createLogger('silent'));
    for (let i = 0; i < 50; i++) await states.status('u1', 'a1', false);
    expect(writes()).toBe(1);
    for (let i = 0; i < 50; i++) await states.status('u1', 'a1', true);
    expect(writes()).toBe(2);
    expect(states.isOnline('a1')).toBe(true);
  });

  it('over the rate limit is followed in memory but not stored', async () => {
    const { store, writes } = countingStore();
    const states = new DeviceStates(store, createLogger('silent'));
    await states.status('u1', 'a1', true);
    await states.status('u1', 'a1', false, false);
    expect(states.isOnline('a1')).toBe(false);
    expect(writes()).toBe(1);
  });

  it('over MQTT counts against the rate limit: a live one past it is refused, a last will past it is still taken', async () => {
    const m = await createMachine(t.url, 'Flapping');
    // The account key: no connection state of a device credential, so the online state is the status topic's alone.
    const flapper = await connectMqtt(url, {
      username: m.userId,
      password: m.key,
      will: { topic: m.topic('status'), payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    open.push(flapper);
    let sent = 0;
    let outcome: 'acked' | 'closed' = 'acked';
    while (outcome === 'acked' && sent < RATE_LIMIT * 3) {
      outcome = await publishOutcome(flapper.client, m.topic('status'), 'online');
      sent += 1;
    }
    expect(outcome, 'a status past the limit closes the connection').toBe('closed');
    expect(sent).toBeGreaterThan(RATE_LIMIT);
    // The connection closed without DISCONNECT: its will came long after the limit ran out, and counts.
    await until(async () => (await t.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === false, 5000, 'offline by will');
  });
});

describe('a broker with no accept hook', () => {
  const identity: ClientIdentity = { userId: 'u1', scope: 'full', credentialId: 'k1' };
  let broker: Broker;
  let brokerUrl: string;

  beforeAll(async () => {
    broker = new Broker({
      host: '127.0.0.1',
      port: 0,
      portExplicit: true,
      log: createLogger('silent'),
      auth: { authenticate: async (u, p) => (u === 'u1' && p === 'secret-password' ? identity : undefined) },
    });
    brokerUrl = `mqtt://127.0.0.1:${await broker.start()}`;
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('refuses messages until a hook takes them, and again once the hook is removed', async () => {
    const topic = 'paywire/u1/a1/action';
    const first = await connectMqtt(brokerUrl, { username: 'u1', password: 'secret-password' });
    open.push(first);
    expect(await publishOutcome(first.client, topic, '{}')).toBe('closed');

    const taken: string[] = [];
    broker.attach({ accept: async (_identity, t) => void taken.push(t) });
    const second = await connectMqtt(brokerUrl, { username: 'u1', password: 'secret-password' });
    open.push(second);
    expect(await publishOutcome(second.client, topic, '{}')).toBe('acked');
    expect(taken).toEqual([topic]);

    broker.attach({});
    expect(await publishOutcome(second.client, topic, '{}')).toBe('closed');
    expect(taken).toEqual([topic]);
  });
});
