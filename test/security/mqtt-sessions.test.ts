/**
 * Persistent sessions (clean: false), which Aedes keeps in memory with no cap and no expiry: a
 * session queues at most MQTT_MAX_QUEUED_PER_SESSION messages and MQTT_MAX_QUEUED_BYTES_PER_SESSION
 * bytes; an account keeps at most MQTT_MAX_SESSIONS_PER_ACCOUNT sessions (its least recently used
 * offline one makes room, and when all are connected a new one is refused with CONNACK 3); a revoked
 * credential's sessions end; and a session keeps only the filters the broker granted (Aedes stored a
 * refused filter of a mixed SUBSCRIBE too, and queued another tenant's messages for it). Each
 * refusal is counted in the metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { createMachine, deviceLogin, pay, payMany, type Machine } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { connackCode, publishOutcome } from '../helpers/mqtt-probe.js';
import { mqttRefusals } from '../helpers/mqtt-refusals.js';
import { until } from '../helpers/receiver.js';

const QUEUED = 5;
const QUEUED_BYTES = 2_048;
const SESSIONS = 2;
const SERVER_UNAVAILABLE = 3;
/** Long enough for a message that would come to have arrived. */
const QUIET_MS = 400;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t: TestBridge;
let url: string;
const open: TestClient[] = [];

beforeAll(async () => {
  t = await startBridge({
    MQTT_MAX_QUEUED_PER_SESSION: QUEUED,
    MQTT_MAX_QUEUED_BYTES_PER_SESSION: QUEUED_BYTES,
    MQTT_MAX_SESSIONS_PER_ACCOUNT: SESSIONS,
    LNURL_CALLBACKS_PER_MINUTE: 0,
  });
  url = `mqtt://127.0.0.1:${t.info.mqttPort}`;
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await t.close();
});

async function session(username: string, password: string, clientId: string): Promise<TestClient> {
  const c = await connectMqtt(url, { username, password, clientId, clean: false });
  open.push(c);
  return c;
}

/** Connect with a persistent session, subscribe to `filter`, and go away. */
async function leaveSession(m: Machine, clientId: string, filter: string, login: [string, string] = [m.userId, m.key]): Promise<void> {
  const c = await session(...login, clientId);
  await c.client.subscribeAsync(filter, { qos: 1 });
  await c.end();
}

describe('a session’s queue', () => {
  it(`holds at most ${QUEUED} messages while its client is away; counted`, async () => {
    const m = await createMachine(t.url, 'Queue count');
    await leaveSession(m, 'away-count', m.topic('payment'));
    const before = await mqttRefusals(t, 'queue_full');
    const paid = await payMany(m, ADMIN_TOKEN, QUEUED + 3, 1);
    await until(async () => (await mqttRefusals(t, 'queue_full')) === before + 3, 5000, 'three refused');
    // Back without subscribing: what arrives is the session's queue, oldest first.
    const back = await session(m.userId, m.key, 'away-count');
    await until(() => back.received.length >= QUEUED, 5000, 'the queued payments');
    await sleep(QUIET_MS);
    expect(back.on(m.topic('payment')).map((p) => (p as { payment_id: string }).payment_id)).toEqual(paid.slice(0, QUEUED));
  });

  it(`holds at most ${QUEUED_BYTES} bytes; counted`, async () => {
    const m = await createMachine(t.url, 'Queue bytes');
    await leaveSession(m, 'away-bytes', `paywire/${m.userId}/+/action`);
    const before = await mqttRefusals(t, 'queue_full');
    const sender = await connectMqtt(url, { username: m.userId, password: m.key });
    open.push(sender);
    // ~900 bytes each: two fit in 2 KiB, the third does not.
    for (let i = 0; i < 3; i++) {
      const report = JSON.stringify({ type: 'action', external_id: `big-${i}`, data: { pad: 'x'.repeat(800) } });
      expect(await publishOutcome(sender.client, m.topic('action'), report)).toBe('acked');
    }
    await until(async () => (await mqttRefusals(t, 'queue_full')) === before + 1, 5000, 'one refused');
    const back = await session(m.userId, m.key, 'away-bytes');
    await until(() => back.received.length >= 2, 5000, 'the queued reports');
    await sleep(QUIET_MS);
    expect(back.received).toHaveLength(2);
  });
});

describe('sessions per account', () => {
  it('the least recently used offline session makes room for a new one; counted', async () => {
    const m = await createMachine(t.url, 'Sessions');
    const before = await mqttRefusals(t, 'session_evicted');
    await leaveSession(m, 'one', m.topic('payment'));
    await leaveSession(m, 'two', m.topic('payment'));
    await leaveSession(m, 'three', m.topic('payment')); // ends "one"
    expect(await mqttRefusals(t, 'session_evicted')).toBe(before + 1);
    const paymentId = await pay(m, ADMIN_TOKEN);
    // "two" and "three" kept their sessions and queued the payment; "one" has none left.
    const two = await session(m.userId, m.key, 'two');
    await until(() => two.on(m.topic('payment')).length === 1, 5000, 'the payment queued for "two"');
    expect(two.on(m.topic('payment'))).toMatchObject([{ payment_id: paymentId }]);
    const one = await session(m.userId, m.key, 'one');
    await sleep(QUIET_MS);
    expect(one.received).toEqual([]);
  });

  it('when every session is connected, a new one is refused with CONNACK 3; counted', async () => {
    const m = await createMachine(t.url, 'Sessions full');
    await session(m.userId, m.key, 'on-1');
    await session(m.userId, m.key, 'on-2');
    const before = await mqttRefusals(t, 'sessions_per_account');
    expect(await connackCode(url, { username: m.userId, password: m.key, clientId: 'on-3', clean: false })).toBe(SERVER_UNAVAILABLE);
    expect(await mqttRefusals(t, 'sessions_per_account')).toBe(before + 1);
    // A clean session keeps nothing and is not refused.
    expect(await connackCode(url, { username: m.userId, password: m.key, clientId: 'on-3', clean: true })).toBe('connected');
  });

  it('a revoked credential’s sessions end with it', async () => {
    const m = await createMachine(t.url, 'Revoked');
    const device = await deviceLogin(m);
    await leaveSession(m, 'device', m.topic('payment'), [device.username, device.password]);
    await leaveSession(m, 'key-1', m.topic('payment'));
    const revoked = await t.request('DELETE', `/api/v1/assets/${m.assetId}/device-credentials/${device.credentialId}`, { token: m.key });
    expect(revoked.status).toBe(200);
    // The revoked credential's session is gone: a second one of the account's key needs no room made…
    const before = await mqttRefusals(t, 'session_evicted');
    await leaveSession(m, 'key-2', m.topic('payment'));
    expect(await mqttRefusals(t, 'session_evicted')).toBe(before);
    // …and the third does.
    await leaveSession(m, 'key-3', m.topic('payment'));
    expect(await mqttRefusals(t, 'session_evicted')).toBe(before + 1);
  });
});

describe('a session keeps only the filters the broker granted', () => {
  it('a refused filter in a mixed SUBSCRIBE queues none of another tenant’s messages', async () => {
    const victim = await createMachine(t.url, 'Victim');
    const evil = await createMachine(t.url, 'Eavesdropper');
    const c = await session(evil.userId, evil.key, 'mixed');
    const filters = [`paywire/${evil.userId}/#`, `paywire/${victim.userId}/#`, '#'];
    const granted = await c.client.subscribeAsync(filters, { qos: 1 }).catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    expect(Array.isArray(granted) ? granted.map((g) => (typeof g === 'number' ? g : g.qos)) : granted).toEqual([1, 128, 128]);
    await c.end();
    await pay(victim, ADMIN_TOKEN);
    const back = await session(evil.userId, evil.key, 'mixed');
    await sleep(QUIET_MS);
    expect(back.received.filter((r) => r.topic.startsWith(`paywire/${victim.userId}/`))).toEqual([]);
  });
});
