/**
 * The caps a hosted broker holds each tenant to, with small values so a test reaches them: open
 * connections (MQTT_MAX_CONNECTIONS, TCP and WebSocket, logged in or not), connections of one address not
 * logged in yet (MQTT_MAX_PENDING_PER_ADDRESS: a login frees its place), connections per account and
 * per credential (CONNACK 3, WebSocket ones counted with TCP ones; a login taking over its own client
 * id replaces its connection and is not counted twice), and topic filters per client (SUBACK 0x80).
 * Each refusal is counted in the metrics.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startBridge, type TestBridge } from '../helpers/bridge.js';
import { createMachine, deviceLogin, type Machine } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { connackCode } from '../helpers/mqtt-probe.js';
import { mqttRefusals, mqttRefusalsServed } from '../helpers/mqtt-refusals.js';
import { RawMqtt } from '../helpers/raw-mqtt.js';
import { until } from '../helpers/receiver.js';

const PER_ACCOUNT = 3;
const PER_CREDENTIAL = 2;
const SUBSCRIPTIONS = 3;
const SERVER_UNAVAILABLE = 3;
const SUBACK_FAILURE = 0x80;

const open: TestClient[] = [];
afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
});

async function client(url: string, username: string, password: string, clientId?: string): Promise<TestClient> {
  const c = await connectMqtt(url, { username, password, ...(clientId ? { clientId } : {}) });
  open.push(c);
  return c;
}

/** A second full key of the account. */
async function secondKey(t: TestBridge, m: Machine): Promise<string> {
  const res = await t.request('POST', '/api/v1/accounts/me/keys', { token: m.key, body: {} });
  if (res.status !== 201) throw new Error(`key: ${res.status} ${res.text}`);
  return res.body.api_key as string;
}

describe('connections and subscriptions per login', () => {
  let t: TestBridge;
  let url: string;
  let ws: string;
  beforeAll(async () => {
    t = await startBridge({
      MQTT_MAX_CONNECTIONS_PER_ACCOUNT: PER_ACCOUNT,
      MQTT_MAX_CONNECTIONS_PER_CREDENTIAL: PER_CREDENTIAL,
      MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT: SUBSCRIPTIONS,
    });
    url = `mqtt://127.0.0.1:${t.info.mqttPort}`;
    ws = `ws://127.0.0.1:${t.info.httpPort}/mqtt`;
  });
  afterAll(async () => {
    await t.close();
  });

  it('per credential: one more is refused with CONNACK 3, over WebSocket too; a login taking over its own id is not; counted', async () => {
    const m = await createMachine(t.url, 'Per credential');
    const device = await deviceLogin(m);
    const before = await mqttRefusals(t, 'connections_per_credential');
    const first = await client(url, device.username, device.password, 'dev-1');
    await client(ws, device.username, device.password, 'dev-2');
    expect(await connackCode(url, { username: device.username, password: device.password, clientId: 'dev-3' })).toBe(SERVER_UNAVAILABLE);
    expect(await connackCode(ws, { username: device.username, password: device.password, clientId: 'dev-3' })).toBe(SERVER_UNAVAILABLE);
    expect(await mqttRefusals(t, 'connections_per_credential')).toBe(before + 2);
    expect(await mqttRefusalsServed(t, 'connections_per_credential')).toBe(before + 2);

    // The same login reconnecting with its own id replaces its connection [MQTT-3.1.4-2].
    const kicked = new Promise<void>((resolve) => first.client.once('close', () => resolve()));
    const again = await client(url, device.username, device.password, 'dev-1');
    await kicked;
    expect(again.client.connected).toBe(true);
    // And a closed connection makes room.
    await again.end();
    await until(
      async () => (await connackCode(url, { username: device.username, password: device.password, clientId: 'dev-4' })) === 'connected',
      5000,
      'room again',
    );
  });

  it('per account, over all its keys and credentials, TCP and WebSocket alike; counted', async () => {
    const m = await createMachine(t.url, 'Per account');
    const other = await secondKey(t, m);
    const device = await deviceLogin(m);
    const before = await mqttRefusals(t, 'connections_per_account');
    await client(url, m.userId, m.key);
    await client(ws, m.userId, other);
    await client(url, device.username, device.password);
    for (const [where, username, password] of [
      [url, m.userId, m.key],
      [ws, m.userId, other],
      [ws, device.username, device.password],
    ] as const) {
      expect(await connackCode(where, { username, password })).toBe(SERVER_UNAVAILABLE);
    }
    expect(await mqttRefusals(t, 'connections_per_account')).toBe(before + 3);
    // Another account is not affected.
    const n = await createMachine(t.url, 'Neighbour');
    expect(await connackCode(url, { username: n.userId, password: n.key })).toBe('connected');
  });

  it('per client: a filter past the cap gets SUBACK 0x80, in one SUBSCRIBE or many; an unsubscribe makes room; counted', async () => {
    const m = await createMachine(t.url, 'Subscriptions');
    const before = await mqttRefusals(t, 'subscriptions_per_client');
    const filters = Array.from({ length: 10 }, (_, i) => `paywire/${m.userId}/asset${i}/payment`);
    const c = await client(url, m.userId, m.key);
    const granted = await c.client.subscribeAsync(filters, { qos: 1 }).catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    const codes = Array.isArray(granted) ? granted.map((g) => (typeof g === 'number' ? g : g.qos)) : [];
    expect(codes.filter((g) => g === 1)).toHaveLength(SUBSCRIPTIONS);
    expect(codes.filter((g) => g === SUBACK_FAILURE)).toHaveLength(10 - SUBSCRIPTIONS);
    // Subscribing again to a granted filter is not another one.
    expect((await c.client.subscribeAsync(filters[0] as string, { qos: 1 }))[0]?.qos).toBe(1);
    const granted0 = filters.filter((_, i) => codes[i] === 1);
    await c.client.unsubscribeAsync(granted0[0] as string);
    expect((await c.client.subscribeAsync(`paywire/${m.userId}/another/payment`, { qos: 1 }))[0]?.qos).toBe(1);
    expect(await mqttRefusals(t, 'subscriptions_per_client')).toBe(before + 10 - SUBSCRIPTIONS);
  });
});

describe('open connections (MQTT_MAX_CONNECTIONS)', () => {
  let t: TestBridge;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    t = await startBridge({ MQTT_MAX_CONNECTIONS: 2 });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await t.close();
  });

  /** A TCP connection that never logs in; resolves when it is open. */
  async function idle(): Promise<{ socket: Socket; closed: Promise<void> }> {
    const socket = netConnect(Number(t.info.mqttPort), '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return { socket, closed };
  }

  /** The HTTP status of a WebSocket upgrade: 101 when it went through. */
  function upgradeStatus(wsUrl: string): Promise<number> {
    return new Promise((resolve) => {
      const socket = new WebSocket(wsUrl, 'mqtt');
      socket.once('upgrade', () => {
        resolve(101);
        socket.terminate();
      });
      socket.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? -1);
        res.resume();
      });
      socket.once('error', () => resolve(-1));
    });
  }

  it('closes one past the cap at once, logged in or not, TCP or WebSocket; counted', async () => {
    const before = await mqttRefusals(t, 'connections_total');
    await idle();
    await idle();
    const third = await idle();
    await third.closed;
    expect(await upgradeStatus(`ws://127.0.0.1:${t.info.httpPort}/mqtt`)).toBe(503);
    const m = await createMachine(t.url, 'Crowded');
    expect(await mqttRefusals(t, 'connections_total')).toBe(before + 2);
    // Room again once one goes.
    sockets.shift()?.destroy();
    await until(
      async () => {
        const { client: c, code } = await RawMqtt.connect(Number(t.info.mqttPort), { username: m.userId, password: m.key });
        c.end();
        return code === 0;
      },
      5000,
      'room again',
    );
  });
});

describe('connections of one address not logged in yet (MQTT_MAX_PENDING_PER_ADDRESS)', () => {
  const PENDING = 2;
  let t: TestBridge;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    t = await startBridge({ MQTT_MAX_PENDING_PER_ADDRESS: PENDING });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await t.close();
  });

  /** A TCP connection that never logs in; resolves when it is open, with whether the broker closed it at once. */
  async function idle(): Promise<{ socket: Socket; closedAtOnce: boolean }> {
    const socket = netConnect(Number(t.info.mqttPort), '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => undefined);
    const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Closed at once, or still open a moment later (the CONNECT deadline is 10 s).
    const closedAtOnce = await Promise.race([closed, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300))]);
    return { socket, closedAtOnce };
  }

  it('closes one more from the same address at once, TCP or WebSocket; a login frees its place; counted', async () => {
    const m = await createMachine(t.url, 'Pending logins');
    const before = await mqttRefusals(t, 'pending_per_address');
    const first = await idle();
    expect(first.closedAtOnce).toBe(false);
    expect((await idle()).closedAtOnce).toBe(false);
    expect((await idle()).closedAtOnce).toBe(true);
    const ws = new WebSocket(`ws://127.0.0.1:${t.info.httpPort}/mqtt`, 'mqtt');
    const status = await new Promise<number>((resolve) => {
      ws.once('upgrade', () => resolve(101));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? -1));
      ws.once('error', () => resolve(-1));
    });
    ws.terminate();
    expect(status).toBe(503);
    // A login needs a place too: none while both are held.
    const refused = await RawMqtt.connect(Number(t.info.mqttPort), { username: m.userId, password: m.key });
    expect(refused.code).toBe(-1);
    expect(await mqttRefusals(t, 'pending_per_address')).toBe(before + 3);

    // One goes: a login takes its place, and frees it once logged in.
    first.socket.destroy();
    const logged = await until(
      async () => {
        const login = await RawMqtt.connect(Number(t.info.mqttPort), { username: m.userId, password: m.key });
        if (login.code === 0) return login.client;
        login.client.end();
        return undefined;
      },
      5000,
      'a login once a place is free',
    );
    // Logged in, it no longer counts: one more idle connection fits, then the cap holds again.
    expect((await idle()).closedAtOnce).toBe(false);
    expect((await idle()).closedAtOnce).toBe(true);
    // (A login tried before the broker saw the first socket close was refused too.)
    expect(await mqttRefusals(t, 'pending_per_address')).toBeGreaterThanOrEqual(before + 4);
    logged.end();
  });
});
