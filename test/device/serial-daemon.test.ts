/**
 * The daemon with a PROTOCOL.md peripheral (relay and display on one port, serialport's mock
 * binding, the Uno simulated) against a real bridge: the display sequence on the wire, a lost ACK
 * that does not fire twice, and a peripheral that stops answering reported as faults on `…/action`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../device/config.js';
import { Daemon } from '../../device/daemon.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { captureLog } from '../helpers/log-capture.js';
import { allEvents, createMachine, deviceLogin, pay } from '../helpers/machine.js';
import { QR, rawConfig, stateDir, waitFor } from './helpers.js';
import { mockTransport, type Transport } from './transports.js';

let bridge: TestBridge | undefined;
let daemon: Daemon | undefined;
let transport: Transport | undefined;
afterEach(async () => {
  await daemon?.stop();
  await transport?.close();
  await bridge?.close();
});

async function start() {
  bridge = await startBridge();
  const m = await createMachine(bridge.url, 'Vend', { duration_ms: 700 });
  const login = await deviceLogin(m);
  transport = mockTransport();
  const raw = rawConfig(m, login, bridge.info.mqttPort!, await stateDir());
  const serial = { type: 'serial', port: transport.path, timeout_ms: 60, retries: 3 };
  raw['assets'][0].relay = serial;
  raw['assets'][0].displays = [serial];
  daemon = new Daemon(parseConfig(raw), captureLog('silent').log, { openPort: transport.opener });
  await daemon.start();
  await waitFor('online', async () => (await bridge!.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === true);
  return { m, peripheral: await transport.peripheral() };
}

describe('the daemon with a serial peripheral', () => {
  it('PING, QR; on a payment RLY then PAID (the peripheral shows the QR again itself); a lost ACK fires once', async () => {
    const { m, peripheral } = await start();
    expect(peripheral.executed).toEqual(['PING', `QR:${QR}`]);
    peripheral.dropAcks = 1; // the RLY's ACK is lost: the host resends the same frame
    const paymentId = await pay(m, ADMIN_TOKEN);
    await waitFor('reported', async () => (await allEvents(m)).some((e: any) => e.external_id === `vend-${paymentId}`));
    expect(peripheral.executed).toEqual(['PING', `QR:${QR}`, 'RLY:700', 'PAID:700']);
    expect(peripheral.received.filter((l) => l.includes(':RLY:'))).toHaveLength(2);
    expect(peripheral.relayAt).toHaveLength(1);
  });

  it('a peripheral that stops answering: the payment is reported as a relay fault, the output fault once', async () => {
    const { m, peripheral } = await start();
    peripheral.silent = true;
    const paymentId = await pay(m, ADMIN_TOKEN);
    const events = await waitFor('two error events', async () => {
      const errors = (await allEvents(m)).filter((e: any) => e.type === 'error');
      return errors.length >= 2 && errors;
    });
    const relayFault = events.find((e: any) => e.data?.fault === 'relay');
    expect(relayFault).toMatchObject({ external_id: `fault-${paymentId}`, data: { payment_id: paymentId, output: `serial:${transport!.path}` } });
    expect(String((relayFault as any)?.data?.message)).toMatch(/no answer from the peripheral/);
    expect(events.filter((e: any) => e.data?.fault === 'output')).toHaveLength(1);
    expect(peripheral.relayAt).toHaveLength(0);
    // It answers again: the next payment runs.
    peripheral.silent = false;
    const next = await pay(m, ADMIN_TOKEN);
    await waitFor('next vend', async () => (await allEvents(m)).some((e: any) => e.external_id === `vend-${next}`));
    expect(peripheral.relayAt).toHaveLength(1);
  });
});
