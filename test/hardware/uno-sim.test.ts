/**
 * The Uno sketch (hardware/uno-serial-peripheral), compiled with Debian's avr-gcc against
 * arduino-core-avr, running in simavr with its UART on a pty (hardware/sim/uno-sim.c), driven over
 * that pty with the serial protocol of device/PROTOCOL.md. The runner reports the relay pin (D7) with
 * simulated timestamps and decodes what the sketch sends the Nextion display on D11.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/process.js';
import { frame, SerialHost } from './serial-host.js';

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
let host: SerialHost;
const pins: PinChange[] = [];
const display: DisplayCommand[] = [];
const simLines: string[] = [];

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
    for (const line of lines) {
      simLines.push(line);
      const m = /^PTY (\S+)$/.exec(line);
      if (m) ptyPath(m[1] as string);
      const pin = /^PIN 7 ([01]) ([\d.]+)$/.exec(line);
      if (pin) pins.push({ level: Number(pin[1]), ms: Number(pin[2]) });
      const cmd = /^DISPLAY (.*) ([\d.]+)$/.exec(line);
      if (cmd) display.push({ command: cmd[1] as string, ms: Number(cmd[2]) });
    }
  });
  host = SerialHost.open(await pty);
  // Only now does the simulation start: nothing the Uno sends is lost before the host listens.
  sim.stdin?.write('go\n');
}, 200_000);

afterAll(async () => {
  host?.close();
  sim?.stdin?.end();
  await new Promise((resolve) => (sim && sim.exitCode === null ? sim.on('exit', resolve) : resolve(undefined)));
});

/** Replies come before the events and runner lines that follow them: let those arrive. */
async function quiet(ms = 100): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function pinChanges(count: number, timeoutMs = 3_000): Promise<void> {
  await host.waitFor(() => pins.length >= count, timeoutMs);
}

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

describe('the Uno serial peripheral in simavr', () => {
  it('announces its boot and starts with the relay off', async () => {
    await host.waitFor(() => host.events.includes('EVT:BOOT'));
    expect(host.lines[0]).toBe(frame('~~', 'EVT:BOOT').trimEnd());
    expect(pins[0]).toMatchObject({ level: 0 });
    // The Nextion is switched to 38400 baud, then cleared.
    await host.waitFor(() => display.some((d) => d.command === 't0.txt=""'));
    expect(display[0]?.command).toBe('bauds=38400');
  });

  it('answers PING and shows a QR code', async () => {
    expect(await host.send('PING')).toMatchObject({ reply: 'ACK', attempts: 1 });
    const lnurl = 'LNURL1DP68GURN8GHJ7MRWW4EXCTNXD9SHG6NPVCHXXMMD9AKXUATJDSKHQCTE8AEK2UMND9HKU0TXV4EKXUNJ893QNS5';
    const before = display.length;
    expect(await host.send(`QR:${lnurl}`)).toMatchObject({ reply: 'ACK', attempts: 1 });
    await host.waitFor(() => display.slice(before).some((d) => d.command === `qr0.txt="${lnurl}"`));
    expect(await host.send('TXT:Coffee "large": 1500 sats')).toMatchObject({ reply: 'ACK' });
    await host.waitFor(() => display.some((d) => d.command === 't0.txt="Coffee \\"large\\": 1500 sats"'));
  });

  it('shows "paid" for its time, then the QR again', async () => {
    await quiet();
    const before = display.length;
    expect(await host.send('PAID:400')).toMatchObject({ reply: 'ACK' });
    const paid = await host.waitFor(() => display.slice(before).find((d) => d.command === 't0.txt="Paid - thank you"'));
    const start = display.slice(before).find((d) => d.command === 'qr0.txt=""');
    expect(start).toBeDefined();
    expect(paid.ms).toBeGreaterThan(start!.ms);
    const back = await host.waitFor(() => display.slice(before).find((d) => d.command.startsWith('qr0.txt="LNURL1')));
    // 400 simulated ms after the "paid" screen began (millis() ticks every 1.024 ms).
    expect(back.ms - start!.ms).toBeGreaterThanOrEqual(398);
    expect(back.ms - start!.ms).toBeLessThan(403);
    await host.waitFor(() => display.slice(before).some((d) => d.command.startsWith('t0.txt="Coffee')));
  });

  it('switches the relay on and off at the right simulated times', async () => {
    await quiet();
    const from = pins.length;
    const events = host.events.length;
    const result = await host.send('RLY:750');
    expect(result).toMatchObject({ reply: 'ACK', attempts: 1 });
    // For RLY the relay is on when the ACK is sent: the pin changed before it.
    await pinChanges(from + 1);
    await host.waitFor(() => host.events.slice(events).includes('EVT:RLY:0'), 3_000);
    await pinChanges(from + 2);
    const ack = host.lines.lastIndexOf(result.replies[0]!);
    expect(host.lines.indexOf(frame('~~', 'EVT:RLY:1').trimEnd(), ack)).toBeGreaterThan(ack);
    expect(host.events.slice(events)).toEqual(['EVT:RLY:1', 'EVT:RLY:0']);
    const [run1] = runsSince(from);
    expect(run1).toBeDefined();
    const [on, off] = run1!;
    expect(off - on).toBeGreaterThanOrEqual(747);
    expect(off - on).toBeLessThanOrEqual(753);
  });

  it('a new RLY while on restarts the timer; RLY:0 switches off at once', async () => {
    await quiet();
    const from = pins.length;
    await host.send('RLY:600');
    await quiet(200);
    const restart = await host.send('RLY:600');
    expect(restart.reply).toBe('ACK');
    await pinChanges(from + 2);
    await quiet();
    expect(pins.length).toBe(from + 2);
    const [[start, end]] = runsSince(from) as [[number, number]];
    // Restarted about 200 ms in: off about 800 ms after on, not 600.
    expect(end - start).toBeGreaterThan(750);
    const again = pins.length;
    await host.send('RLY:60000');
    expect((await host.send('RLY:0')).reply).toBe('ACK');
    await pinChanges(again + 2);
    const [[a, b]] = runsSince(again) as [[number, number]];
    expect(b - a).toBeLessThan(50);
  });

  it('NAKs a corrupted frame; the retry with the same seq runs the relay once', async () => {
    await quiet();
    const from = pins.length;
    const events = host.events.length;
    const result = await host.send('RLY:300', {
      // The first attempt loses a bit on the wire: "RLY:300" arrives as "RLY:301".
      corrupt: (wire, attempt) => (attempt === 1 ? wire.replace('RLY:300', 'RLY:301') : wire),
    });
    expect(result.reply).toBe('ACK');
    expect(result.attempts).toBe(2);
    expect(result.replies[0]).toBe(frame('--', 'NAK:CRC').trimEnd());
    expect(result.replies[1]).toBe(frame(result.seq, 'ACK').trimEnd());
    await host.waitFor(() => host.events.slice(events).includes('EVT:RLY:0'), 3_000);
    await pinChanges(from + 2);
    await quiet();
    const runs = runsSince(from);
    expect(runs).toHaveLength(1);
    expect(runs[0]![1] - runs[0]![0]).toBeGreaterThanOrEqual(297);
    expect(runs[0]![1] - runs[0]![0]).toBeLessThanOrEqual(303);
  });

  it('a repeated frame (a lost ACK) is ACKed again and not carried out twice', async () => {
    await quiet();
    const from = pins.length;
    const wire = frame(200, 'RLY:200');
    const seen = host.lines.length;
    host.writeRaw(wire);
    await host.waitFor(() => host.lines.slice(seen).includes(frame(200, 'ACK').trimEnd()));
    host.writeRaw(wire);
    await host.waitFor(() => host.lines.slice(seen).filter((l) => l === frame(200, 'ACK').trimEnd()).length === 2);
    await new Promise((r) => setTimeout(r, 400));
    expect(runsSince(from)).toHaveLength(1);
  });

  it('NAKs bad commands, bad arguments, noise and overlong lines, and keeps going', async () => {
    expect((await host.send('NOPE')).reply).toBe('NAK:CMD');
    expect((await host.send('RLY:86400001')).reply).toBe('NAK:ARG');
    expect((await host.send(`QR:${'A'.repeat(161)}`)).reply).toBe('NAK:ARG');
    const seen = host.lines.length;
    host.writeRaw('line noise\n');
    await host.waitFor(() => host.lines.slice(seen).includes(frame('--', 'NAK:FMT').trimEnd()));
    host.writeRaw(`${'X'.repeat(500)}\n`);
    await host.waitFor(() => host.lines.slice(seen).includes(frame('--', 'NAK:LEN').trimEnd()));
    expect((await host.send('PING')).reply).toBe('ACK');
    expect(simLines.some((l) => l.startsWith('EXIT'))).toBe(false);
  });
});
