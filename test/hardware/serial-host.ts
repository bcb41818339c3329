/**
 * A small host for the Paywire serial protocol v1, written from device/PROTOCOL.md for the hardware
 * tests: frames with CRC-16/CCITT-FALSE, one command outstanding at a time, a 250 ms reply timeout and
 * up to 3 retries with the same seq (a NAK or `--:NAK` resends at once). It stands in for the device
 * daemon's serial driver until that exists (branch `device`); the test drives the simulated Uno with it.
 */
import { closeSync, openSync, writeSync, constants } from 'node:fs';
import { ReadStream } from 'node:tty';

/** CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor. */
export function crc16(data: Buffer | string): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'ascii') : data;
  let crc = 0xffff;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** `seq:body*CRC\n`; seq is 0..255, or '~~' / '--'. */
export function frame(seq: number | '~~' | '--', body: string): string {
  const head = `${typeof seq === 'number' ? seq.toString(16).toUpperCase().padStart(2, '0') : seq}:${body}`;
  return `${head}*${crc16(head).toString(16).toUpperCase().padStart(4, '0')}\n`;
}

export interface Parsed {
  seq: string;
  body: string;
  crcOk: boolean;
}

export function parseLine(line: string): Parsed | undefined {
  const m = /^([0-9A-F]{2}|~~|--):([^*]*)\*([0-9A-F]{4})\r?$/.exec(line);
  if (!m) return undefined;
  const [, seq, body, crc] = m as unknown as [string, string, string, string];
  return { seq, body, crcOk: crc16(`${seq}:${body}`) === parseInt(crc, 16) };
}

export interface SendResult {
  reply: string;
  attempts: number;
  seq: number;
  /** Every line answered to this command, in order (NAKs before the ACK). */
  replies: string[];
}

export interface SendOptions {
  /** Change the bytes of an attempt before they go out (1-based attempt number): a noisy cable. */
  corrupt?: (frame: string, attempt: number) => string;
}

export class SerialHost {
  readonly lines: string[] = [];
  readonly events: string[] = [];
  private readonly reader: ReadStream;
  private readonly writeFd: number;
  private readonly readFd: number;
  private partial = '';
  private seq = 0;
  private waiters: Array<() => void> = [];

  private constructor(
    path: string,
    private readonly timeoutMs: number,
    private readonly retries: number,
  ) {
    this.readFd = openSync(path, constants.O_RDWR | constants.O_NOCTTY);
    this.writeFd = openSync(path, constants.O_RDWR | constants.O_NOCTTY);
    this.reader = new ReadStream(this.readFd);
    this.reader.setRawMode(true);
    this.reader.setEncoding('latin1');
    this.reader.on('data', (chunk: string) => this.onData(chunk));
  }

  static open(path: string, options: { timeoutMs?: number; retries?: number } = {}): SerialHost {
    return new SerialHost(path, options.timeoutMs ?? 250, options.retries ?? 3);
  }

  private onData(chunk: string): void {
    this.partial += chunk;
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      this.lines.push(line);
      const parsed = parseLine(line);
      if (parsed?.seq === '~~' && parsed.crcOk) this.events.push(parsed.body);
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  writeRaw(data: string): void {
    writeSync(this.writeFd, Buffer.from(data, 'latin1'));
  }

  /** Wait until `predicate` holds over the lines received so far. */
  async waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate();
      if (value) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; lines so far: ${JSON.stringify(this.lines.slice(-10))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Send a command and wait for its ACK, retrying as PROTOCOL.md says. Resolves with the final reply (ACK, or the last NAK / 'TIMEOUT'). */
  async send(body: string, options: SendOptions = {}): Promise<SendResult> {
    const seq = this.seq;
    this.seq = (this.seq + 1) % 256;
    const wire = frame(seq, body);
    const hex = seq.toString(16).toUpperCase().padStart(2, '0');
    const replies: string[] = [];
    let reply = 'TIMEOUT';
    for (let attempt = 1; attempt <= 1 + this.retries; attempt++) {
      const from = this.lines.length;
      this.writeRaw(options.corrupt ? options.corrupt(wire, attempt) : wire);
      const answer = await this.waitFor(() => {
        for (const line of this.lines.slice(from)) {
          const p = parseLine(line);
          if (p && p.crcOk && (p.seq === hex || (p.seq === '--' && p.body.startsWith('NAK')))) return line;
        }
        return undefined;
      }, this.timeoutMs).catch(() => undefined);
      if (answer === undefined) {
        reply = 'TIMEOUT';
        continue;
      }
      replies.push(answer);
      const parsed = parseLine(answer);
      reply = parsed?.seq === '--' ? `--:${parsed.body}` : (parsed?.body ?? '');
      if (parsed?.seq === hex && parsed.body === 'ACK') return { reply: 'ACK', attempts: attempt, seq, replies };
    }
    return { reply, attempts: 1 + this.retries, seq, replies };
  }

  close(): void {
    this.reader.destroy();
    closeSync(this.writeFd);
  }
}
