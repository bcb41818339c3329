/**
 * The peripheral side of device/PROTOCOL.md, as the Uno sketch behaves, for host tests: it carries
 * out commands, ACKs them, remembers the last seq and CRC (a repeat is ACKed, not carried out), NAKs
 * broken frames, and sends events. Faults are switched on per test: NAK the next frames, lose the
 * next ACKs (after carrying out), send noise before a reply, or fall silent.
 */
import { encodeFrame, LineSplitter, parseFrame } from '../../device/protocol/frame.js';

const COMMANDS = new Set(['PING', 'QR', 'TXT', 'PAID', 'CLR', 'RLY']);
const DECIMAL = /^(0|[1-9][0-9]{0,7})$/;

export class Peripheral {
  /** Every line received, as received. */
  readonly received: string[] = [];
  /** Commands carried out (body), in order. */
  readonly executed: string[] = [];
  /** When each RLY was carried out (performance.now()). */
  readonly relayAt: number[] = [];
  nakNext = 0;
  dropAcks = 0;
  noiseBeforeReply = false;
  silent = false;
  private last: { seq: string; crc: number } | undefined;
  private readonly splitter: LineSplitter;

  constructor(private readonly send: (data: Buffer) => void) {
    this.splitter = new LineSplitter(
      (line) => this.line(line),
      () => {
        if (!this.silent) this.reply(encodeFrame('--', 'NAK:LEN'));
      },
    );
  }

  receive(chunk: Buffer): void {
    this.splitter.push(chunk);
  }

  /** An unsolicited event (`~~:EVT:<name>`). */
  event(body: string): void {
    this.send(encodeFrame('~~', `EVT:${body}`));
  }

  /** Bodies carried out with this command name. */
  count(name: string): number {
    return this.executed.filter((b) => b === name || b.startsWith(`${name}:`)).length;
  }

  private reply(frame: Buffer): void {
    if (this.noiseBeforeReply) this.send(Buffer.concat([Buffer.from('\x00\xffnoise!!\n#$%^&*\nZZ:ACK*0000\n'), Buffer.alloc(260, 0x41), Buffer.from('\n')]));
    this.send(frame);
  }

  private line(line: string): void {
    this.received.push(line);
    if (this.silent) return;
    const f = parseFrame(line);
    if (!f.ok) return this.reply(encodeFrame('--', `NAK:${f.reason}`));
    if (f.seq === '~~' || f.seq === '--') return; // NAKs and events are never answered
    const seq = parseInt(f.seq, 16);
    if (this.nakNext > 0) {
      this.nakNext -= 1;
      return this.reply(encodeFrame(seq, 'NAK:CRC'));
    }
    if (this.last && this.last.seq === f.seq && this.last.crc === f.crc) return this.ack(seq); // a retry: ACK again, do not carry out
    if (!COMMANDS.has(f.name)) return this.reply(encodeFrame(seq, 'NAK:CMD'));
    const arg = f.arg;
    const bad =
      ((f.name === 'PING' || f.name === 'CLR') && arg !== undefined) ||
      (f.name === 'QR' && (arg === undefined || arg.length < 1 || arg.length > 160)) ||
      (f.name === 'TXT' && (arg === undefined || arg.length > 64)) ||
      (f.name === 'PAID' && (arg === undefined || !DECIMAL.test(arg) || Number(arg) < 1 || Number(arg) > 86_400_000)) ||
      (f.name === 'RLY' && (arg === undefined || !DECIMAL.test(arg) || Number(arg) > 86_400_000));
    if (bad) return this.reply(encodeFrame(seq, 'NAK:ARG'));
    this.executed.push(arg === undefined ? f.name : `${f.name}:${arg}`);
    if (f.name === 'RLY') this.relayAt.push(performance.now());
    this.last = { seq: f.seq, crc: f.crc };
    this.ack(seq);
    if (f.name === 'RLY' && arg !== '0') this.event('RLY:1');
  }

  private ack(seq: number): void {
    if (this.dropAcks > 0) {
      this.dropAcks -= 1;
      return;
    }
    this.reply(encodeFrame(seq, 'ACK'));
  }
}
