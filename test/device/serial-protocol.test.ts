/**
 * device/PROTOCOL.md from the host's side, over serialport's mock binding and over a real socat pty
 * pair: framing and CRC, ACK, NAK → resend, a lost ACK → resend without a second relay fire, noise
 * on the line, a peripheral that never answers (a fault, then pings until it answers), and the
 * display state sent again after the peripheral's BOOT event.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PortPool } from '../../device/drivers/ports.js';
import { SerialPeripheral } from '../../device/drivers/serial.js';
import { crc16, encodeFrame, LineSplitter, parseFrame } from '../../device/protocol/frame.js';
import { LinkError } from '../../device/protocol/link.js';
import { QR, sleep, waitFor } from './helpers.js';
import { mockTransport, socatTransport, type Transport } from './transports.js';

describe('frames', () => {
  it('CRC-16/CCITT-FALSE has the check value 29B1, and frames carry it over seq:body', () => {
    expect(crc16('123456789')).toBe(0x29b1);
    const frame = encodeFrame(7, 'PING').toString('latin1');
    expect(frame).toBe(`07:PING*${crc16('07:PING').toString(16).toUpperCase().padStart(4, '0')}\n`);
    expect(parseFrame(frame.slice(0, -1))).toMatchObject({ ok: true, seq: '07', name: 'PING', arg: undefined });
    expect(parseFrame(`${frame.slice(0, -1)}\r`)).toMatchObject({ ok: true });
  });

  it('names what is wrong with a broken line', () => {
    const good = encodeFrame(0x1f, 'RLY:5000').toString('latin1').trimEnd();
    expect(parseFrame(good.replace('5000', '5001'))).toMatchObject({ ok: false, reason: 'CRC' });
    expect(parseFrame('hello')).toMatchObject({ ok: false, reason: 'FMT' });
    expect(parseFrame('1f:RLY:5000*ABCD')).toMatchObject({ ok: false, reason: 'FMT' }); // lowercase seq
    expect(parseFrame('x'.repeat(250))).toMatchObject({ ok: false, reason: 'LEN' });
    expect(() => encodeFrame(1, `QR:${'A'.repeat(200)}`)).toThrow(RangeError);
  });

  it('drops an overflowing line up to the next newline', () => {
    const lines: string[] = [];
    let overflows = 0;
    const s = new LineSplitter(
      (l) => lines.push(l),
      () => (overflows += 1),
    );
    s.push('A'.repeat(150));
    s.push('B'.repeat(150));
    s.push('C\nok\n');
    expect(lines).toEqual(['ok']);
    expect(overflows).toBe(1);
  });
});

const TRANSPORTS: [string, () => Promise<Transport>][] = [
  ['serialport mock binding', async () => mockTransport()],
  ['socat pty pair', socatTransport],
];

describe.each(TRANSPORTS)('the host over %s', (_name, make) => {
  let transport: Transport | undefined;
  let device: SerialPeripheral | undefined;
  afterEach(async () => {
    await device?.stop();
    await transport?.close();
    device = undefined;
    transport = undefined;
  });

  async function open(timeoutMs = 80, pingEveryMs = 200) {
    transport = await make();
    const pool = new PortPool(transport.opener);
    const events: string[] = [];
    device = new SerialPeripheral(pool, { port: transport.path, baud: 115_200, timeoutMs, retries: 3, pingEveryMs }, (name, arg) =>
      events.push(arg === undefined ? name : `${name}:${arg}`),
    );
    await device.start();
    return { device, peripheral: await transport.peripheral(), events };
  }

  it('opens with a PING, then each command is ACKed with its own seq', async () => {
    const { device, peripheral, events } = await open();
    await device.showQr(QR);
    await device.pulse(1500);
    await device.showPaid(1500, {});
    expect(peripheral.executed).toEqual(['PING', `QR:${QR}`, 'RLY:1500', 'PAID:1500']);
    const seqs = peripheral.received.map((l) => l.slice(0, 2));
    expect(new Set(seqs).size).toBe(4);
    seqs.slice(1).forEach((s, i) => expect(parseInt(s, 16)).toBe((parseInt(seqs[i]!, 16) + 1) & 0xff));
    await waitFor('relay event', () => events.includes('RLY:1'));
    expect(device.stats).toMatchObject({ acked: 4, resent: 0, failed: 0 });
  });

  it('a NAK makes the host send the same frame again', async () => {
    const { device, peripheral } = await open();
    peripheral.nakNext = 2;
    await device.pulse(800);
    expect(peripheral.count('RLY')).toBe(1);
    const rly = peripheral.received.filter((l) => l.includes(':RLY:'));
    expect(rly).toHaveLength(3);
    expect(new Set(rly).size).toBe(1); // the same bytes, the same seq
    expect(device.stats).toMatchObject({ naks: 2, resent: 2 });
  });

  it('a lost ACK is retried with the same seq and the relay fires once', async () => {
    const { device, peripheral } = await open();
    peripheral.dropAcks = 2;
    await device.pulse(2000);
    expect(peripheral.received.filter((l) => l.includes(':RLY:'))).toHaveLength(3);
    expect(peripheral.count('RLY')).toBe(1);
    expect(peripheral.relayAt).toHaveLength(1);
    // The next command is a new seq and is carried out.
    await device.pulse(2000);
    expect(peripheral.count('RLY')).toBe(2);
  });

  it('noise and an overlong line on the wire do not break the exchange', async () => {
    const { device, peripheral } = await open();
    peripheral.noiseBeforeReply = true;
    await device.showText('hello');
    await device.pulse(100);
    expect(peripheral.executed).toEqual(['PING', 'TXT:hello', 'RLY:100']);
    expect(device.stats!.garbage).toBeGreaterThanOrEqual(3);
    expect(device.stats).toMatchObject({ failed: 0 });
  });

  it('garbage from the host side is NAKed by the peripheral (--:NAK) and the host carries on', async () => {
    const { device, peripheral } = await open();
    const pool = (device as unknown as { ports: PortPool }).ports;
    const port = await pool.acquire(transport!.path, 115_200);
    port.stream.write(Buffer.from('\x07\x00garbage\n12:PING*0000\n'));
    await waitFor('two lines seen', () => peripheral.received.length >= 3);
    await device.showText('after noise');
    expect(peripheral.executed).toEqual(['PING', 'TXT:after noise']);
    await pool.release(transport!.path);
  });

  it('a peripheral that never answers: 4 attempts, a fault, then a PING every few seconds until it answers', async () => {
    const { device, peripheral } = await open(50, 150);
    const faults: string[] = [];
    device.onFault((f) => faults.push(f.message));
    peripheral.silent = true;
    const before = peripheral.received.length;
    const err = await device.pulse(500).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LinkError);
    expect((err as LinkError).reason).toBe('timeout');
    expect(device.faulty).toBe(true);
    expect(faults).toHaveLength(1);
    // Still silent: the pings fail without a second fault report.
    await sleep(500);
    expect(faults).toHaveLength(1);
    peripheral.silent = false;
    await waitFor('recovered by a ping', () => !device!.faulty, 3_000);
    expect(peripheral.executed.filter((b) => b === 'PING').length).toBeGreaterThanOrEqual(2);
    expect(peripheral.count('RLY')).toBe(0);
    const attempts = peripheral.received.slice(before).filter((l) => l.includes(':RLY:'));
    expect(attempts).toHaveLength(4);
    expect(new Set(attempts).size).toBe(1);
    await device.pulse(300);
    expect(peripheral.count('RLY')).toBe(1);
  });

  it('after EVT:BOOT the host sends the QR again', async () => {
    const { device, peripheral } = await open();
    await device.showQr(QR);
    peripheral.event('BOOT');
    await waitFor('QR re-sent', () => peripheral.executed.filter((b) => b.startsWith('QR:')).length === 2);
  });

  it('an unknown command or a bad argument is refused at once (NAK CMD/ARG is final)', async () => {
    const { device, peripheral } = await open();
    const err = await device.showPaid(0, {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    // showPaid clamps to 1 ms: accepted. A raw out-of-range RLY is refused with ARG, without resends.
    expect(err).toBeUndefined();
    const link = (device as unknown as { link: { command(n: string, a?: string): Promise<void> } }).link;
    await expect(link.command('RLY', '99999999999')).rejects.toMatchObject({ reason: 'ARG' });
    await expect(link.command('BEEP')).rejects.toMatchObject({ reason: 'CMD' });
    expect(device.faulty).toBe(false);
    expect(peripheral.received.filter((l) => l.includes('BEEP'))).toHaveLength(1);
  });
});
