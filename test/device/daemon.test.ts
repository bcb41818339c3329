/**
 * The daemon against a real bridge (HTTP, embedded broker, journal store): a settled payment fires
 * the relay once for its duration, the display shows QR → paid → QR, and the vend is reported as an
 * event that acknowledges the payment.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon } from '../../device/daemon.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { captureLog } from '../helpers/log-capture.js';
import { allEvents, allPayments, createMachine, deviceLogin, pay } from '../helpers/machine.js';
import { config, RecordingRelay, stateDir, waitFor, QR } from './helpers.js';

let bridge: TestBridge | undefined;
let daemon: Daemon | undefined;
afterEach(async () => {
  await daemon?.stop();
  await bridge?.close();
  daemon = undefined;
  bridge = undefined;
});

describe('device daemon', () => {
  it('fires the relay for duration_ms, shows paid then the QR again, and reports the vend', async () => {
    bridge = await startBridge();
    const m = await createMachine(bridge.url, 'Vend', { duration_ms: 300 });
    const login = await deviceLogin(m);
    const relay = new RecordingRelay();
    const captured = captureLog('info');
    daemon = new Daemon(config(m, login, bridge.info.mqttPort!, await stateDir()), captured.log, { relay: () => relay });
    await daemon.start();
    await waitFor('status online', async () => (await bridge!.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === true);

    const paymentId = await pay(m, ADMIN_TOKEN);
    await waitFor('relay off', () => relay.writes.length >= 2 && relay.writes).catch((err) => {
      throw new Error(`${err.message}: ${JSON.stringify(relay.writes)}\n${captured.lines.join('')}`);
    });
    const [on, off] = relay.writes;
    expect(on!.on).toBe(true);
    expect(off!.on).toBe(false);
    expect(off!.at - on!.at).toBeGreaterThanOrEqual(295);
    expect(off!.at - on!.at).toBeLessThan(450);

    const events = await waitFor('vend event', async () => (await allEvents(m)).find((e: any) => e.type === 'action' && e.data?.payment_id === paymentId));
    expect(events).toMatchObject({ external_id: `vend-${paymentId}`, data: { payment_id: paymentId, amount_sats: 10, duration_ms: 300 } });
    await waitFor('payment acknowledged', async () => (await allPayments(m)).find((p) => p.payment_id === paymentId)?.delivered_at);

    await waitFor('QR shown again', () => captured.find('display: payment QR').length >= 2);
    const screens = captured
      .entries()
      .filter((e) => e['output'] === 'display')
      .map((e) => e['screen']);
    expect(screens).toEqual(['qr', 'paid', 'qr']);
    expect(captured.find('display: payment QR')[0]).toMatchObject({ qr: QR });
  });
});
