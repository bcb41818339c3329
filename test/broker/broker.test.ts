import { connect as netConnect, createServer, type Server } from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../broker/broker.js';
import { createLogger } from '../../bridge/log.js';
import { startBridge, type TestBridge } from '../helpers/bridge.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { connackCode, subackCode } from '../helpers/mqtt-probe.js';
import { until } from '../helpers/receiver.js';

let t: TestBridge;
let url: string;
const clients: TestClient[] = [];
beforeAll(async () => {
  t = await startBridge();
  url = `mqtt://127.0.0.1:${t.info.mqttPort}`;
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end()));
  await t.close();
});

/** SUBACK return codes for each filter (128 = refused), one SUBSCRIBE per filter. */
async function granted(client: MqttClient, filters: string[]): Promise<(number | 'closed')[]> {
  const out: (number | 'closed')[] = [];
  for (const filter of filters) out.push(await subackCode(client, filter));
  return out;
}

/** Publish something the broker must refuse: MQTT 3.1.1 has no negative PUBACK, so it closes the connection [MQTT-3.3.5-2]. */
function refusedPublish(client: MqttClient, topic: string): Promise<void> {
  return new Promise((resolve) => {
    client.once('close', () => resolve());
    client.publish(topic, '{}', { qos: 0 });
  });
}

/** Log in (closed after the file's tests). */
async function connect(username: string, password: string): Promise<TestClient> {
  const client = await connectMqtt(url, { username, password });
  clients.push(client);
  return client;
}

describe('embedded broker authentication', () => {
  it('refuses anonymous clients with CONNACK 5 (not authorised)', async () => {
    expect(await connackCode(url, {})).toBe(5);
  });

  it('refuses a wrong key, an unknown user and another account’s key with CONNACK 4', async () => {
    const a = await t.signup('mqtt-a');
    const b = await t.signup('mqtt-b');
    expect(await connackCode(url, { username: a.userId, password: 'lib_' + '0'.repeat(64) })).toBe(4);
    expect(await connackCode(url, { username: 'nobody', password: a.key })).toBe(4);
    expect(await connackCode(url, { username: a.userId, password: b.key })).toBe(4);
    expect(await connackCode(url, { username: a.userId, password: a.key })).toBe('connected');
  });

  it('refuses a rotated key', async () => {
    const a = await t.signup('mqtt-rotor');
    await t.request('POST', '/api/v1/accounts/me/rotate-key', { token: a.key });
    expect(await connackCode(url, { username: a.userId, password: a.key })).toBe(4);
  });
});

describe('embedded broker access control', () => {
  it('confines a client to its own account’s topics', async () => {
    const a = await t.signup('acl-a');
    const b = await t.signup('acl-b');
    const ca = await connect(a.userId, a.key);
    const cb = await connect(b.userId, b.key);

    const codes = await granted(ca.client, [
      `paywire/${a.userId}/#`,
      `paywire/${b.userId}/#`,
      'paywire/+/x/payment',
      '#',
      '+/+/#',
      '$SYS/#',
      'paywire/#',
      `paywire/${a.userId}`,
    ]);
    expect(codes).toEqual([1, 128, 128, 128, 128, 128, 128, 128]);

    // b publishing into a's subtree is refused (and b is disconnected); a publishing into its own arrives.
    await refusedPublish(cb.client, `paywire/${a.userId}/asset/action`);
    await ca.client.publishAsync(`paywire/${a.userId}/asset/action`, '{"from":"a"}', { qos: 1 });
    await until(() => ca.received.length > 0, 5000, "a's own message");
    await new Promise((r) => setTimeout(r, 200)); // room for b's, had it been let through
    expect(ca.received.map((m) => [m.topic, m.payload])).toEqual([[`paywire/${a.userId}/asset/action`, '{"from":"a"}']]);
  });

  it('never lets a client write $SYS, and lets read-only keys subscribe but not publish', async () => {
    const a = await t.signup('acl-ro');
    const ro = (await t.request('POST', '/api/v1/accounts/me/keys', { token: a.key, body: { scope: 'read' } })).body.api_key;
    const full = await connect(a.userId, a.key);
    const reader = await connect(a.userId, ro);
    await full.client.subscribeAsync(`paywire/${a.userId}/#`, { qos: 1 });
    expect(await granted(reader.client, [`paywire/${a.userId}/#`])).toEqual([1]);

    await refusedPublish(reader.client, `paywire/${a.userId}/asset/action`);
    const writer = await connect(a.userId, a.key);
    await refusedPublish(writer.client, '$SYS/broker/fake');
    const again = await connect(a.userId, a.key);
    await again.client.publishAsync(`paywire/${a.userId}/machine/status`, 'online', { qos: 1 });
    await until(() => full.received.length > 0, 5000, "the full key's message");
    await new Promise((r) => setTimeout(r, 200)); // room for the reader's, had it been let through
    expect(full.received.map((m) => m.topic)).toEqual([`paywire/${a.userId}/machine/status`]);
  });
});

describe('broker port', () => {
  const log = createLogger('silent');
  const auth = { authenticate: async () => undefined };
  let blocker: Server;
  let taken: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    taken = (blocker.address() as { port: number }).port;
  });
  afterAll(() => blocker.close());

  it('moves to the next free port when the default one is taken', async () => {
    const broker = new Broker({ host: '127.0.0.1', port: taken, portExplicit: false, auth, log });
    const port = await broker.start();
    expect(port).toBeGreaterThan(taken);
    expect(port).toBeLessThan(taken + 10);
    await broker.stop();
  });

  it('fails clearly when an explicitly chosen port is taken', async () => {
    const broker = new Broker({ host: '127.0.0.1', port: taken, portExplicit: true, auth, log });
    await expect(broker.start()).rejects.toThrow(`MQTT_PORT ${taken} is already in use`);
    await broker.stop();
  });
});

describe('packet size limit', () => {
  it('closes a connection whose packet header announces more than the limit, before the body arrives', async () => {
    const a = await t.signup('big-sender');
    // A valid CONNECT, then a PUBLISH header announcing 10 MiB with only a few bytes of body.
    const connectBytes = mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: 'big',
      keepalive: 30,
      username: a.userId,
      password: Buffer.from(a.key),
    });
    const socket = netConnect(Number(t.info.mqttPort), '127.0.0.1');
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
    socket.on('error', () => undefined);
    socket.resume(); // read (and drop) what the broker sends, so its close is seen
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(connectBytes);
    await new Promise((r) => setTimeout(r, 100));
    const length = 10 * 1024 * 1024;
    const header = Buffer.from([0x30, (length & 0x7f) | 0x80, ((length >> 7) & 0x7f) | 0x80, ((length >> 14) & 0x7f) | 0x80, (length >> 21) & 0x7f]);
    const started = Date.now();
    socket.write(Buffer.concat([header, Buffer.alloc(100)]));
    const at = await closed;
    // Closed on the header, not after the keepalive (45 s) or a 10 MiB read.
    expect(at - started).toBeLessThan(10_000);
    // The broker still serves others.
    const ok = await connect(a.userId, a.key);
    expect(ok.client.connected).toBe(true);
  });
});
