/**
 * The other drivers at their interface: Raspberry Pi GPIO through node-libgpiod's API (no GPIO
 * character device exists on these machines, so a module with the same interface stands in at the
 * line), a Nextion display and an ESC/POS printer on serialport's mock binding (the bytes on the
 * wire), and the console display's QR → paid → QR sequence.
 */
import { describe, expect, it } from 'vitest';
import { ConsoleDisplay } from '../../device/drivers/console.js';
import { escpos, EscposPrinter } from '../../device/drivers/escpos.js';
import { GpioRelay, loadLibgpiod, type GpioModule } from '../../device/drivers/gpio.js';
import { nextionString, NextionDisplay } from '../../device/drivers/nextion.js';
import { PortPool, wrapPort, type PortOpener } from '../../device/drivers/ports.js';
import { SerialPortMock } from 'serialport';
import { captureLog } from '../helpers/log-capture.js';
import { QR, sleep, waitFor } from './helpers.js';

function fakeGpio() {
  const calls: string[] = [];
  const module: GpioModule = {
    Chip: class {
      constructor(n: number | string) {
        if (n === 9) throw new Error('No such file or directory');
        calls.push(`chip ${n}`);
      }
    },
    Line: class {
      constructor(_chip: unknown, offset: number) {
        calls.push(`line ${offset}`);
      }
      requestOutputMode(consumer?: string) {
        calls.push(`output ${consumer}`);
      }
      setValue(v: 0 | 1) {
        calls.push(`set ${v}`);
      }
      release() {
        calls.push('release');
      }
    },
  };
  return { calls, module };
}

describe('GPIO (character device, node-libgpiod interface)', () => {
  it('requests the line as an output, pulses it, releases it', async () => {
    const { calls, module } = fakeGpio();
    const relay = new GpioRelay({ chip: 0, line: 17, activeLow: false }, () => module);
    await relay.start();
    await relay.pulse(60);
    await sleep(100);
    await relay.stop();
    expect(calls).toEqual(['chip 0', 'line 17', 'output paywire-device', 'set 0', 'set 1', 'set 0', 'set 0', 'release']);
  });

  it('active-low wiring inverts the values', async () => {
    const { calls, module } = fakeGpio();
    const relay = new GpioRelay({ chip: 0, line: 27, activeLow: true }, () => module);
    await relay.start();
    await relay.pulse(30);
    await waitFor('off', () => calls.filter((c) => c.startsWith('set')).length === 3);
    expect(calls.filter((c) => c.startsWith('set'))).toEqual(['set 1', 'set 0', 'set 1']);
  });

  it('a missing chip, or node-libgpiod not installed, is a clear start error', async () => {
    const { module } = fakeGpio();
    await expect(new GpioRelay({ chip: 9, line: 1, activeLow: false }, () => module).start()).rejects.toThrow(/cannot open GPIO chip 9/);
    // node-libgpiod is an optional dependency that is not built on this machine (no libgpiod, no GPIO chip).
    expect(() => loadLibgpiod()).toThrow(/node-libgpiod/);
  });
});

let mocks = 0;
/** A mock serial port that records what is written to it. */
function recordingPort(): { opener: PortOpener; path: string; written: () => Buffer } {
  const path = `/dev/mock-out-${process.pid}-${++mocks}`;
  SerialPortMock.binding.createPort(path, { record: true });
  let port: SerialPortMock | undefined;
  return {
    path,
    opener: async (p, baudRate) => {
      port = await new Promise<SerialPortMock>((resolve, reject) => {
        const sp: SerialPortMock = new SerialPortMock({ path: p, baudRate }, (err) => (err ? reject(err) : resolve(sp)));
      });
      return wrapPort(p, port);
    },
    written: () => (port as unknown as { port: { recording: Buffer } }).port.recording,
  };
}

const FF3 = '\xff\xff\xff';

describe('Nextion', () => {
  it('sets qr0.txt to the LNURL, shows paid in the text component, then the QR again; every instruction ends FF FF FF', async () => {
    const out = recordingPort();
    const d = new NextionDisplay(new PortPool(out.opener), { port: out.path, baud: 9_600, qrComponent: 'qr0', textComponent: 't0' });
    await d.start();
    await d.showQr(QR);
    await d.showPaid(80, { amountSats: 21 });
    await sleep(150);
    await d.stop();
    const text = out.written().toString('latin1');
    expect(text).toBe(
      FF3 +
        [`qr0.txt="${QR}"`, 'vis qr0,1', 't0.txt=""'].map((i) => i + FF3).join('') +
        ['vis qr0,0', 't0.txt="Paid 21 sats - thank you"'].map((i) => i + FF3).join('') +
        [`qr0.txt="${QR}"`, 'vis qr0,1', 't0.txt=""'].map((i) => i + FF3).join(''),
    );
  });

  it('escapes quotes and backslashes in strings', () => {
    expect(nextionString('say "hi" \\ bye\n')).toBe('"say \\"hi\\" \\\\ bye"');
  });
});

describe('ESC/POS', () => {
  it('prints a QR ticket once, then a receipt with the QR after each vend', async () => {
    const out = recordingPort();
    const p = new EscposPrinter(new PortPool(out.opener), { port: out.path, transport: 'serial', baud: 9_600, title: 'Coffee' });
    await p.start();
    await p.showQr(QR);
    await p.showQr(QR); // the same QR again (after a vend): no second ticket
    await p.showPaid(1000, { amountSats: 1500, paymentId: 'p123' });
    await p.stop();
    const bytes = out.written();
    const store = escpos.qr(QR);
    const count = (needle: Buffer) => {
      let n = 0;
      for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, i + 1)) n += 1;
      return n;
    };
    expect(count(store)).toBe(2); // the ticket and the receipt
    expect(count(escpos.cut())).toBe(2);
    const text = bytes.toString('latin1');
    expect(text).toContain('Scan to pay');
    expect(text).toContain('PAID');
    expect(text).toContain('1500 sats');
    expect(text).toContain('payment p123');
    // GS ( k store: pL pH = data length + 3, then 31 50 30 and the data.
    const len = QR.length + 3;
    expect(store.subarray(25, 33)).toEqual(Buffer.from([0x1d, 0x28, 0x6b, len & 0xff, len >> 8, 0x31, 0x50, 0x30]));
  });
});

describe('console display', () => {
  it('QR, then paid for its time, then the QR again', async () => {
    const captured = captureLog('info');
    const d = new ConsoleDisplay(captured.log, 'a1', false);
    await d.showQr(QR);
    await d.showPaid(60, { paymentId: 'p1' });
    await waitFor('QR again', () => captured.find('display: payment QR').length === 2);
    expect(captured.entries().map((e) => e['screen'])).toEqual(['qr', 'paid', 'qr']);
  });
});
