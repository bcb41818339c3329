/**
 * The Uno sketch (hardware/uno-serial-peripheral), compiled with Debian's avr-gcc against
 * arduino-core-avr, running in simavr with its UART on a pty (hardware/sim/uno-sim.c), driven by the
 * device daemon's serial driver (device/drivers/serial.ts over serialport, device/protocol/link.ts).
 * The runner reports the relay pin (D7) with simulated timestamps and decodes what the sketch sends
 * the Nextion display on D11.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialPeripheral } from '../../device/drivers/serial.js';
import { openSerialPort, PortPool, type PortHandle, type PortOpener } from '../../device/drivers/ports.js';
import { encodeFrame, LineSplitter } from '../../device/protocol/frame.js';
import { SerialLink } from '../../device/protocol/link.js';
import { ROOT } from '../helpers/process.js';

const run = promisify(execFile);

interface PinChange {
  level: number;
  ms: number;
}
interface DisplayCommand {
  command: string;
  ms: number;
}

let sim: ChildProcess;
let peripheral: SerialPeripheral;
/** The port itself, under the driver: raw writes and a tap on every line the Uno sends. */
let port: PortHandle;
/** Change the next frame the driver writes (a noisy cable). */
let corruptNext: ((frame: Buffer) => Buffer) | undefined;
const pins: PinChange[] = [];
const display: DisplayCommand[] = [];
const simLines: string[] = [];
/** Lines the Uno wrote on its UART, with the simulated time each ended. */
const tx: Array<{ line: string; ms: number }> = [];
const uart: string[] = [];
const events: string[] = [];

const line = (seq: number | '~~' | '--', body: string) => encodeFrame(seq, body).toString('latin1').trimEnd();

async function until<T>(probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out; uart ${JSON.stringify(uart.slice(-8))}, sim ${JSON.stringify(simLines.slice(-8))}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Replies come before the events and runner lines that follow them: let those arrive. */
const quiet = (ms = 100) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  // The sketch, the Arduino core and the runner: make builds only what changed.
  await run('make', ['-C', 'hardware', 'uno', 'runner'], { cwd: ROOT, timeout: 180_000 });
  sim = spawn(`${ROOT}hardware/build/uno-sim`, [`${ROOT}hardware/build/uno/uno-serial-peripheral.elf`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let partial = '';
  let ptyPath: (path: string) => void = () => undefined;
  const pty = new Promise<string>((resolve) => (ptyPath = resolve));
  sim.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      simLines.push(l);
      const m = /^PTY (\S+)$/.exec(l);
      if (m) ptyPath(m[1] as string);
      const pin = /^PIN 7 ([01]) ([\d.]+)$/.exec(l);
      if (pin) pins.push({ level: Number(pin[1]), ms: Number(pin[2]) });
      const sent = /^TX (.*) ([\d.]+)$/.exec(l);
      if (sent) tx.push({ line: sent[1] as string, ms: Number(sent[2]) });
      const cmd = /^DISPLAY (.*) ([\d.]+)$/.exec(l);
      if (cmd) display.push({ command: cmd[1] as string, ms: Number(cmd[2]) });
    }
  });
  const path = await pty;
  const opener: PortOpener = async (p, baud) => {
    port = await openSerialPort(p, baud);
    const splitter = new LineSplitter(
      (l) => uart.push(l),
      () => undefined,
    );
    port.stream.on('data', (chunk) => splitter.push(chunk));
    // Only now does the simulation start: nothing the Uno sends is lost before the host listens.
    sim.stdin?.write('go\n');
    const stream = port.stream;
    return {
      path: p,
      close: () => port.close(),
      stream: {
        write: (data: Buffer, cb?: (err?: Error | null) => void) => {
          const corrupt = corruptNext;
          corruptNext = undefined;
          return stream.write(corrupt ? corrupt(data) : data, cb);
        },
        on: (event: 'data', listener: (chunk: Buffer) => void) => stream.on(event, listener),
        removeListener: (event: 'data', listener: (chunk: Buffer) => void) => stream.removeListener(event, listener),
      },
    };
  };
  peripheral = new SerialPeripheral(new PortPool(opener), { port: path, baud: 115200 }, (name, arg) => events.push(arg === undefined ? name : `${name}:${arg}`));
  // Opens the port and the session (a PING); the Uno boots meanwhile and announces it.
  await peripheral.start();
}, 200_000);

afterAll(async () => {
  await peripheral?.stop();
  sim?.stdin?.end();
  await new Promise((resolve) => (sim && sim.exitCode === null ? sim.on('exit', resolve) : resolve(undefined)));
});

/** The relay's pin changes from `from` on, as [on, off] pairs. */
function runsSince(from: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const changes = pins.slice(from);
  for (let i = 0; i + 1 < changes.length; i += 2) {
    expect(changes[i]?.level).toBe(1);
    expect(changes[i + 1]?.level).toBe(0);
    out.push([changes[i]!.ms, changes[i + 1]!.ms]);
  }
  return out;
}

const LNURL = 'LNURL1DP68GURN8GHJ7MRWW4EXCTNXD9SHG6NPVCHXXMMD9AKXUATJDSKHQCTE8AEK2UMND9HKU0TXV4EKXUNJ893QNS5';

describe('the Uno serial peripheral in simavr, driven by the device daemon', () => {
  it('boots, announces it, and answers the session PING', async () => {
    await until(() => events.includes('BOOT'));
    expect(uart[0]).toBe(line('~~', 'EVT:BOOT'));
    expect(peripheral.faulty).toBe(false);
    expect(peripheral.stats?.acked).toBeGreaterThanOrEqual(1);
    expect(pins[0]).toMatchObject({ level: 0 });
    // The Nextion is switched to 38400 baud, then cleared.
    await until(() => display.some((d) => d.command === 't0.txt=""'));
    expect(display[0]?.command).toBe('bauds=38400');
  });

  it('shows a QR code and a line of text', async () => {
    await peripheral.showQr(LNURL);
    await until(() => display.some((d) => d.command === `qr0.txt="${LNURL}"`));
    await peripheral.showText('Coffee "large": 1500 sats');
    await until(() => display.some((d) => d.command === 't0.txt="Coffee \\"large\\": 1500 sats"'));
  });

  it('shows "paid" for its time, then the QR again', async () => {
    await quiet();
    const before = display.length;
    await peripheral.showPaid(400, { amountSats: 1500 });
    await until(() => display.slice(before).find((d) => d.command === 't0.txt="Paid - thank you"'));
    const start = display.slice(before).find((d) => d.command === 'qr0.txt=""');
    expect(start).toBeDefined();
    const back = await until(() => display.slice(before).find((d) => d.command === `qr0.txt="${LNURL}"`));
    // 400 simulated ms after the "paid" screen began (millis() ticks every 1.024 ms).
    expect(back.ms - start!.ms).toBeGreaterThanOrEqual(398);
    expect(back.ms - start!.ms).toBeLessThan(403);
  });

  it('switches the relay on and off at the right simulated times', async () => {
    await quiet();
    const from = pins.length;
    const seen = events.length;
    const sentFrom = tx.length;
    await peripheral.pulse(750);
    // For RLY the relay is on when the ACK is sent: in simulated time the pin changed before the ACK left.
    await until(() => pins.length >= from + 1 && tx.slice(sentFrom).some((t) => t.line.includes('EVT:RLY:1')));
    expect(pins[from]?.level).toBe(1);
    const ack = tx.slice(sentFrom).find((t) => /^[0-9A-F]{2}:ACK\*/.test(t.line));
    const onEvent = tx.slice(sentFrom).find((t) => t.line.startsWith('~~:EVT:RLY:1*'));
    expect(ack).toBeDefined();
    expect(pins[from]!.ms).toBeLessThan(ack!.ms);
    expect(ack!.ms).toBeLessThan(onEvent!.ms);
    await until(() => events.slice(seen).includes('RLY:0') && pins.length >= from + 2, 3_000);
    expect(events.slice(seen)).toEqual(['RLY:1', 'RLY:0']);
    const [[on, off]] = runsSince(from) as [[number, number]];
    expect(off - on).toBeGreaterThanOrEqual(747);
    expect(off - on).toBeLessThanOrEqual(753);
  });

  it('a new RLY while on restarts the timer; off() switches off at once', async () => {
    await quiet();
    const from = pins.length;
    await peripheral.pulse(600);
    await quiet(200);
    await peripheral.pulse(600);
    await until(() => pins.length >= from + 2, 3_000);
    await quiet();
    expect(pins.length).toBe(from + 2);
    const [[start, end]] = runsSince(from) as [[number, number]];
    // Restarted about 200 ms in: off about 800 ms after on, not 600.
    expect(end - start).toBeGreaterThan(750);
    const again = pins.length;
    await peripheral.pulse(60_000);
    await peripheral.off();
    await until(() => pins.length >= again + 2);
    const [[a, b]] = runsSince(again) as [[number, number]];
    expect(b - a).toBeLessThan(50);
  });

  it('NAKs a corrupted frame; the driver resends the same seq and the relay runs once', async () => {
    await quiet();
    const from = pins.length;
    const stats = { ...peripheral.stats! };
    const seen = uart.length;
    // One byte changes on the wire: "RLY:300" arrives as "RLY:301", and the CRC no longer matches.
    corruptNext = (frame) => Buffer.from(frame.toString('latin1').replace('RLY:300', 'RLY:301'), 'latin1');
    await peripheral.pulse(300);
    expect(uart.slice(seen)[0]).toBe(line('--', 'NAK:CRC'));
    expect(peripheral.stats!.naks - stats.naks).toBe(1);
    expect(peripheral.stats!.resent - stats.resent).toBe(1);
    expect(peripheral.faulty).toBe(false);
    await until(() => pins.length >= from + 2, 3_000);
    await quiet();
    const runs = runsSince(from);
    expect(runs).toHaveLength(1);
    expect(runs[0]![1] - runs[0]![0]).toBeGreaterThanOrEqual(297);
    expect(runs[0]![1] - runs[0]![0]).toBeLessThanOrEqual(303);
  });

  it('a repeated frame (a lost ACK) is ACKed again and not carried out twice', async () => {
    await quiet();
    const from = pins.length;
    const wire = encodeFrame(200, 'RLY:200');
    const seen = uart.length;
    port.stream.write(wire);
    await until(() => uart.slice(seen).includes(line(200, 'ACK')));
    port.stream.write(wire);
    await until(() => uart.slice(seen).filter((l) => l === line(200, 'ACK')).length === 2);
    await quiet(400);
    expect(runsSince(from)).toHaveLength(1);
  });

  it('refuses bad commands and arguments for good (CMD and ARG are final), answers noise and overlong lines, keeps going', async () => {
    await quiet();
    // The daemon's link layer, on the same port, for commands its drivers never send.
    const link = new SerialLink(port.stream, { firstSeq: 100 });
    expect(await link.open()).toBe(true);
    await expect(link.command('NOPE')).rejects.toMatchObject({ reason: 'CMD' });
    await expect(link.command('RLY', 86_400_001)).rejects.toMatchObject({ reason: 'ARG' });
    await expect(link.command('QR', 'A'.repeat(161))).rejects.toMatchObject({ reason: 'ARG' });
    expect(link.stats.resent).toBe(0);
    expect(link.faulty).toBe(false);
    link.close();
    const seen = uart.length;
    port.stream.write(Buffer.from('line noise\n'));
    await until(() => uart.slice(seen).includes(line('--', 'NAK:FMT')));
    port.stream.write(Buffer.from(`${'X'.repeat(500)}\n`));
    await until(() => uart.slice(seen).includes(line('--', 'NAK:LEN')));
    // Events and NAKs sent to it are never answered.
    const quietFrom = uart.length;
    port.stream.write(encodeFrame('~~', 'EVT:BOOT'));
    port.stream.write(encodeFrame('--', 'NAK:CRC'));
    await quiet(200);
    expect(uart.slice(quietFrom)).toEqual([]);
    const shown = display.length;
    await peripheral.clear();
    await until(() => display.slice(shown).some((d) => d.command === 'qr0.txt=""') && display.slice(shown).some((d) => d.command === 't0.txt=""'));
    expect(simLines.some((l) => l.startsWith('EXIT'))).toBe(false);
  });
});
