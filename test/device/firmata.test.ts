/**
 * Relays on Arduino pins through johnny-five over Firmata, on `mock-firmata` (the stand-in at the
 * pin): the pin writes and their timing, active-low wiring, one board shared by the relays on one
 * port, and the daemon firing a Firmata relay for a real payment.
 */
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon } from '../../device/daemon.js';
import { FirmataBoards, FirmataRelay, type FirmataIo } from '../../device/drivers/firmata.js';
import { PortPool, type PortOpener } from '../../device/drivers/ports.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { captureLog } from '../helpers/log-capture.js';
import { allEvents, createMachine, deviceLogin, pay } from '../helpers/machine.js';
import { rawConfig, stateDir, waitFor } from './helpers.js';
import { parseConfig } from '../../device/config.js';

const MockFirmata = createRequire(import.meta.url)('mock-firmata').Firmata as new () => FirmataIo & { emit(e: string): void };

interface PinWrite {
  pin: number;
  value: number;
  at: number;
}

/** A mock-firmata board that records digitalWrite (the mock does not keep pin values) and becomes ready. */
function mockBoards() {
  const writes: PinWrite[] = [];
  const ios: FirmataIo[] = [];
  const factory = () => {
    const io = new MockFirmata();
    io.digitalWrite = (pin: number, value: number) => writes.push({ pin, value, at: performance.now() });
    ios.push(io);
    setImmediate(() => {
      io.emit('connect');
      io.emit('ready');
    });
    return io;
  };
  return { writes, ios, factory };
}

/** Firmata runs on the port it is given; the mock io ignores it. */
const nullPorts: PortOpener = async (path) => ({ path, stream: new PassThrough(), close: async () => undefined });

describe('johnny-five on mock-firmata', () => {
  it('a pulse writes the pin high, then low after its time', async () => {
    const { writes, factory } = mockBoards();
    const relay = new FirmataRelay(new FirmataBoards(new PortPool(nullPorts), factory), { port: '/dev/ttyACM0', baud: 57_600, pin: 7, activeLow: false });
    await relay.start();
    expect(writes).toEqual([{ pin: 7, value: 0, at: expect.any(Number) }]); // off at start
    await relay.pulse(150);
    await waitFor('off', () => writes.length === 3);
    expect(writes.map((w) => [w.pin, w.value])).toEqual([
      [7, 0],
      [7, 1],
      [7, 0],
    ]);
    const held = writes[2]!.at - writes[1]!.at;
    expect(held).toBeGreaterThanOrEqual(145);
    expect(held).toBeLessThan(250);
    await relay.stop();
  });

  it('active-low relay boards are driven low to switch on; a pulse while on restarts the time', async () => {
    const { writes, factory } = mockBoards();
    const relay = new FirmataRelay(new FirmataBoards(new PortPool(nullPorts), factory), { port: '/dev/ttyACM0', baud: 57_600, pin: 4, activeLow: true });
    await relay.start();
    await relay.pulse(100);
    await new Promise((r) => setTimeout(r, 60));
    await relay.pulse(100);
    await waitFor('off', () => writes.filter((w) => w.value === 1).length === 2);
    const [start, on1, on2, off] = writes;
    expect([start!.value, on1!.value, on2!.value, off!.value]).toEqual([1, 0, 0, 1]);
    expect(off!.at - on2!.at).toBeGreaterThanOrEqual(95);
    await relay.stop();
  });

  it('relays on one port share one board', async () => {
    const { ios, writes, factory } = mockBoards();
    const boards = new FirmataBoards(new PortPool(nullPorts), factory);
    const a = new FirmataRelay(boards, { port: '/dev/ttyACM0', baud: 57_600, pin: 7, activeLow: false });
    const b = new FirmataRelay(boards, { port: '/dev/ttyACM0', baud: 57_600, pin: 8, activeLow: false });
    await Promise.all([a.start(), b.start()]);
    expect(ios).toHaveLength(1);
    await a.pulse(50);
    await b.pulse(50);
    await waitFor('both off', () => writes.length === 6);
    expect(new Set(writes.map((w) => w.pin))).toEqual(new Set([7, 8]));
  });
});

describe('the daemon with a Firmata relay', () => {
  let bridge: TestBridge | undefined;
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop();
    await bridge?.close();
  });

  it('a settled payment writes the Arduino pin for duration_ms and the vend is reported', async () => {
    bridge = await startBridge();
    const m = await createMachine(bridge.url, 'Vend', { duration_ms: 200 });
    const login = await deviceLogin(m);
    const raw = rawConfig(m, login, bridge.info.mqttPort!, await stateDir());
    raw['assets'][0].relay = { type: 'firmata', port: '/dev/ttyACM0', pin: 7 };
    const { writes, factory } = mockBoards();
    daemon = new Daemon(parseConfig(raw), captureLog('silent').log, { openPort: nullPorts, firmataIo: factory });
    await daemon.start();
    await waitFor('online', async () => (await bridge!.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === true);
    const paymentId = await pay(m, ADMIN_TOKEN);
    await waitFor('relay off', () => writes.length === 3);
    expect(writes.map((w) => [w.pin, w.value])).toEqual([
      [7, 0],
      [7, 1],
      [7, 0],
    ]);
    expect(writes[2]!.at - writes[1]!.at).toBeGreaterThanOrEqual(195);
    await waitFor('reported', async () => (await allEvents(m)).some((e: any) => e.external_id === `vend-${paymentId}`));
  });
});
