/**
 * The daemon's vending rules against a real bridge: duplicates dropped (live and across a restart,
 * from the ledger file), payments queued while the relay runs and none lost, manual triggers
 * (`…/action/set`), status online/offline with the last will, and reconnecting after a bridge restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { assetTopic } from '../../broker/topics.js';
import { Daemon } from '../../device/daemon.js';
import { Ledger } from '../../device/ledger.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { captureLog } from '../helpers/log-capture.js';
import { allEvents, allPayments, createMachine, deviceLogin, pay, type DeviceLogin, type Machine } from '../helpers/machine.js';
import { connectMqtt } from '../helpers/mqtt.js';
import { freePort } from '../helpers/process.js';
import { config, RecordingRelay, sleep, stateDir, waitFor } from './helpers.js';

let bridge: TestBridge | undefined;
const daemons: Daemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
  await bridge?.close();
  bridge = undefined;
});

async function setup(asset: Record<string, unknown> = {}, bridgeOverrides: Record<string, unknown> = {}, dataDir?: string) {
  bridge = await startBridge(bridgeOverrides, dataDir ? { dataDir } : {});
  const m = await createMachine(bridge.url, 'Vend', { duration_ms: 200, ...asset });
  const login = await deviceLogin(m);
  return { m, login, dir: await stateDir() };
}

async function run(m: Machine, login: DeviceLogin, dir: string, relay = new RecordingRelay(), extra: Record<string, unknown> = {}) {
  const captured = captureLog('debug');
  const daemon = new Daemon(config(m, login, bridge!.info.mqttPort!, dir, extra), captured.log, { relay: () => relay });
  daemons.push(daemon);
  await daemon.start();
  await waitFor('online', async () => (await bridge!.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === true);
  return { daemon, relay, captured };
}

const vendEvents = async (m: Machine) => (await allEvents(m)).filter((e: any) => e.type === 'action' && e.data?.payment_id);

describe('duplicates and the ledger', () => {
  it('a payment sent again (live, and after a restart) fires once', async () => {
    const { m, login, dir } = await setup();
    const first = await run(m, login, dir);
    const paymentId = await pay(m, ADMIN_TOKEN);
    await waitFor('vend reported', async () => (await vendEvents(m)).length === 1);
    const payments = await allPayments(m);
    const message = {
      payment_id: paymentId,
      asset_id: m.assetId,
      amount_sats: 10,
      rail: 'lightning',
      duration_ms: 200,
      paid_at: new Date().toISOString(),
    };
    expect(payments[0]!.payment_id).toBe(paymentId);
    const broker = bridge!.bridge.broker!;
    const topic = assetTopic(m.userId, m.assetId, 'payment');
    await broker.publish(topic, JSON.stringify(message), { qos: 1, retain: false });
    await broker.publish(topic, JSON.stringify(message), { qos: 1, retain: false });
    await waitFor('duplicates seen', () => first.daemon.units.get(m.assetId)!.machine.stats.duplicates === 2);
    expect(first.relay.ons).toBe(1);

    // A new daemon on the same state directory remembers it.
    await first.daemon.stop();
    daemons.length = 0;
    const second = await run(m, login, dir);
    await broker.publish(topic, JSON.stringify(message), { qos: 1, retain: false });
    await waitFor('duplicate seen after restart', () => second.daemon.units.get(m.assetId)!.machine.stats.duplicates >= 1);
    await sleep(100);
    expect(second.relay.ons).toBe(0);
    expect(await vendEvents(m)).toHaveLength(1);
  });

  it('a malformed payment message is reported as an error, acknowledged by its payment_id, and never fires', async () => {
    const { m, login, dir } = await setup();
    const { relay } = await run(m, login, dir);
    const broker = bridge!.bridge.broker!;
    await broker.publish(assetTopic(m.userId, m.assetId, 'payment'), JSON.stringify({ payment_id: 'pbad', asset_id: m.assetId, duration_ms: -5 }), {
      qos: 1,
      retain: false,
    });
    await broker.publish(assetTopic(m.userId, m.assetId, 'payment'), 'not json', { qos: 1, retain: false });
    const errors = await waitFor('two error events', async () => {
      const e = (await allEvents(m)).filter((x: any) => x.type === 'error' && x.data?.fault === 'bad_message');
      return e.length === 2 && e;
    });
    expect(errors.map((e: any) => e.data.payment_id ?? null).sort()).toEqual(['pbad', null].sort());
    expect(relay.ons).toBe(0);
  });
});

describe('queueing', () => {
  it('payments arriving while the relay runs wait their turn: all fire, one after the other', async () => {
    const { m, login, dir } = await setup({ duration_ms: 250 });
    const { relay, daemon } = await run(m, login, dir);
    const ids = await Promise.all([pay(m, ADMIN_TOKEN), pay(m, ADMIN_TOKEN), pay(m, ADMIN_TOKEN), pay(m, ADMIN_TOKEN)]);
    await waitFor('four vends reported', async () => (await vendEvents(m)).length === 4, 15_000);
    const ons = relay.writes.filter((w) => w.on);
    expect(ons).toHaveLength(4);
    for (let i = 1; i < ons.length; i++) expect(ons[i]!.at - ons[i - 1]!.at).toBeGreaterThanOrEqual(245);
    expect(daemon.units.get(m.assetId)!.machine.stats.queuedMax).toBeGreaterThanOrEqual(1);
    expect(new Set((await vendEvents(m)).map((e: any) => e.data.payment_id))).toEqual(new Set(ids));
    await waitFor('all acknowledged', async () => (await allPayments(m)).every((p) => p.delivered_at !== null));
  });
});

describe('triggers', () => {
  it('a test vend (POST …/trigger → action/set) runs the relay and is reported, once', async () => {
    const { m, login, dir } = await setup();
    const { relay } = await run(m, login, dir);
    const res = await bridge!.request('POST', `/api/v1/assets/${m.assetId}/trigger`, { token: m.key, body: { duration_ms: 150, reason: 'test vend' } });
    expect(res.status).toBe(202);
    expect(res.body.device_online).toBe(true);
    const event = await waitFor('trigger reported', async () => (await allEvents(m)).find((e: any) => e.external_id === `trigger-${res.body.trigger_id}`));
    expect(event).toMatchObject({ type: 'action', data: { trigger_id: res.body.trigger_id, reason: 'test vend', duration_ms: 150 } });
    await waitFor('relay off', () => relay.writes.length === 2);
    expect(relay.writes[1]!.at - relay.writes[0]!.at).toBeGreaterThanOrEqual(145);
  });
});

describe('status and reconnects', () => {
  it('says online, its will says offline when it dies, and a clean stop says offline', async () => {
    const { m, login, dir } = await setup();
    const { daemon } = await run(m, login, dir);
    const watcher = await connectMqtt(`mqtt://127.0.0.1:${bridge!.info.mqttPort}`, { username: m.userId, password: m.key, clean: true });
    await watcher.client.subscribeAsync(m.topic('status'), { qos: 1 });
    await waitFor('retained online', () => watcher.on(m.topic('status')).includes('online'));
    // The connection dies without a DISCONNECT: the broker sends the will; the daemon reconnects and says online again.
    daemon.units.get(m.assetId)!.link.drop();
    await waitFor('will, then online again', () => watcher.on(m.topic('status')).join(',') === 'online,offline,online');
    await daemon.stop();
    await watcher.end();
    daemons.length = 0;
    await waitFor(
      'offline after a clean stop',
      async () => (await bridge!.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === false,
    );
  });

  it('reconnects with backoff after a bridge restart and keeps vending', async () => {
    const ports = { PORT: await freePort(), MQTT_PORT: await freePort() };
    const dataDir = await stateDir();
    const { m, login, dir } = await setup({}, ports, dataDir);
    const { relay, daemon } = await run(m, login, dir);
    await pay(m, ADMIN_TOKEN);
    await waitFor('first vend', () => relay.ons === 1);
    const link = daemon.units.get(m.assetId)!.link;
    expect(link.connects).toBe(1);

    await bridge!.stop();
    await waitFor('disconnected', () => !link.connected);
    await sleep(600); // a few failed attempts (the backoff grows)
    bridge = await startBridge(ports, { dataDir });
    await waitFor('reconnected', () => link.connected && link.connects >= 2, 15_000);
    await waitFor('online again', async () => (await bridge!.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === true);
    const second = await pay(m, ADMIN_TOKEN);
    await waitFor('second vend reported', async () => (await vendEvents(m)).some((e: any) => e.data.payment_id === second));
    expect(relay.ons).toBe(2);
  });
});

describe('a full queue', () => {
  it('drops the connection instead of taking a payment it cannot hold: after the reconnect every payment fires once', async () => {
    const { m, login, dir } = await setup({ duration_ms: 300 });
    const { relay, daemon } = await run(m, login, dir, new RecordingRelay(), { max_queue: 1 });
    const ids = await Promise.all([pay(m, ADMIN_TOKEN), pay(m, ADMIN_TOKEN), pay(m, ADMIN_TOKEN), pay(m, ADMIN_TOKEN)]);
    await waitFor('four vends reported', async () => (await vendEvents(m)).length === 4, 20_000);
    expect(relay.ons).toBe(4);
    expect(new Set((await vendEvents(m)).map((e: any) => e.data.payment_id))).toEqual(new Set(ids));
    expect(daemon.units.get(m.assetId)!.link.connects).toBeGreaterThanOrEqual(2);
  });
});

describe('what a killed daemon left in its ledger', () => {
  it('at start: a queued payment runs, one that was running is reported as interrupted (never run again), an unsent report goes out', async () => {
    const { m, login, dir } = await setup({ duration_ms: 100 });
    const ledger = Ledger.open(dir, 100);
    const job = (id: string) => ({ id: `p:${id}`, durationMs: 100, paymentId: id, amountSats: 10, rail: 'lightning' });
    ledger.set({ asset: m.assetId, id: 'p:pqueued', state: 'queued', data: job('pqueued') }, true);
    ledger.set({ asset: m.assetId, id: 'p:prunning', state: 'running', data: job('prunning') }, true);
    ledger.set(
      {
        asset: m.assetId,
        id: 'p:pdone',
        state: 'done',
        report: { type: 'action', payment_id: 'pdone', external_id: 'vend-pdone', data: { duration_ms: 100 } },
      },
      true,
    );
    ledger.close();
    const { relay } = await run(m, login, dir);
    const events = await waitFor('three reports', async () => {
      const all = await allEvents(m);
      return all.length >= 3 && all;
    });
    const byId = new Map(events.map((e: any) => [e.external_id, e]));
    expect(byId.get('vend-pqueued')).toMatchObject({ type: 'action', data: { payment_id: 'pqueued' } });
    expect(byId.get('interrupted-prunning')).toMatchObject({ type: 'error', data: { payment_id: 'prunning', fault: 'interrupted' } });
    expect(byId.get('vend-pdone')).toMatchObject({ type: 'action', data: { payment_id: 'pdone' } });
    expect(relay.ons).toBe(1);
  });
});
