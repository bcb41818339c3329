/**
 * A client id belongs to one login. Aedes keys connections and persistent sessions by client id
 * alone, so any logged-in account asking for a device's id used to kick the device off and, with
 * `clean: false`, inherit its session and its queued `payment` and `action/set` messages. Now another
 * login with the same id gets a session of its own; the device keeps its connection and, reconnecting
 * with its own id, its session. Ids the spec lets a server refuse get CONNACK 2 [MQTT-3.1.3-8].
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { createMachine, deviceLogin, pay, readOnlyKey } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { mqttRefusals } from '../helpers/mqtt-refusals.js';
import { RawMqtt } from '../helpers/raw-mqtt.js';
import { until } from '../helpers/receiver.js';

/** Long enough for a message that would come to have arrived. */
const QUIET_MS = 400;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

async function client(username: string, password: string, clientId: string, clean = false): Promise<TestClient> {
  const c = await connectMqtt(url, { username, password, clientId, clean });
  open.push(c);
  return c;
}

const paymentIds = (c: TestClient, topic: string) => c.on(topic).map((p) => (p as { payment_id: string }).payment_id);

describe('another login with a device’s client id', () => {
  it('does not kick the connected device off, and gets none of its messages', async () => {
    const victim = await createMachine(t.url, 'Victim online');
    const login = await deviceLogin(victim);
    const thief = await createMachine(t.url, 'Thief online');
    const id = `vend-${victim.assetId}`;

    const device = await client(login.username, login.password, id);
    await device.client.subscribeAsync([victim.topic('payment'), victim.topic('action/set')], { qos: 1 });
    let kicked = false;
    device.client.on('close', () => {
      kicked = true;
    });

    const other = await client(thief.userId, thief.key, id);
    expect(other.client.connected).toBe(true);
    const paymentId = await pay(victim, ADMIN_TOKEN);
    await until(() => paymentIds(device, victim.topic('payment')).includes(paymentId), 5000, 'the payment at the device');
    await sleep(QUIET_MS);
    expect(kicked, 'the device kept its connection').toBe(false);
    expect(other.received).toEqual([]);
  });

  it('with clean: false gets none of an offline device’s queued payments and commands; the device gets them when it comes back', async () => {
    const victim = await createMachine(t.url, 'Victim away');
    const login = await deviceLogin(victim);
    const thief = await createMachine(t.url, 'Thief away');
    const sameAccountReader = await readOnlyKey(victim);
    const id = `vend-${victim.assetId}`;

    const device = await client(login.username, login.password, id);
    await device.client.subscribeAsync([victim.topic('payment'), victim.topic('action/set')], { qos: 1 });
    await device.end();

    // Queued for the device's session while it is away.
    const paymentId = await pay(victim, ADMIN_TOKEN);
    expect((await t.request('POST', `/api/v1/assets/${victim.assetId}/trigger`, { token: victim.key, body: {} })).status).toBe(202);

    // Another account, and another key of the device's own account, ask for its id.
    for (const [username, password] of [
      [thief.userId, thief.key],
      [victim.userId, sameAccountReader],
    ] as const) {
      const other = await client(username, password, id);
      await sleep(QUIET_MS);
      expect(other.received, `${username === thief.userId ? 'another account' : 'a read-only key'} got nothing`).toEqual([]);
      await other.end();
    }

    // The device's own login, reconnecting with its id without subscribing: its session is restored.
    const back = await client(login.username, login.password, id);
    await until(() => back.on(victim.topic('payment')).length > 0 && back.on(victim.topic('action/set')).length > 0, 5000, 'the queued messages');
    expect(paymentIds(back, victim.topic('payment'))).toEqual([paymentId]);
  });
});

describe('client ids the broker refuses (CONNACK 2)', () => {
  /** The CONNACK return code of a raw CONNECT (the `mqtt` client would not send an empty id with clean: false). */
  async function connackOf(login: { username: string; password: string; clientId: string; clean: boolean }): Promise<number> {
    const { client, code } = await RawMqtt.connect(Number(t.info.mqttPort), login);
    client.end();
    return code;
  }

  it('an empty id with clean: false [MQTT-3.1.3-8] and an id over 128 characters; counted', async () => {
    const m = await createMachine(t.url, 'Ids');
    const login = { username: m.userId, password: m.key };
    const before = await mqttRefusals(t, 'client_id_invalid');
    expect(await connackOf({ ...login, clientId: '', clean: false })).toBe(2);
    expect(await connackOf({ ...login, clientId: 'x'.repeat(129), clean: true })).toBe(2);
    expect(await mqttRefusals(t, 'client_id_invalid')).toBe(before + 2);
    // The controls: an empty id with a clean session, and a 128-character one.
    expect(await connackOf({ ...login, clientId: '', clean: true })).toBe(0);
    expect(await connackOf({ ...login, clientId: 'x'.repeat(128), clean: false })).toBe(0);
  });
});
