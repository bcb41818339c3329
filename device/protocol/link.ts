/**
 * The host side of the Paywire serial protocol (device/PROTOCOL.md): one command outstanding at a
 * time, in order; each frame gets the next sequence number; a timeout, a NAK or a `--:NAK` sends the
 * same frame again (same seq) up to `retries` times; after that the peripheral counts as faulty and
 * is pinged every few seconds until it answers. Events (`~~:EVT:…`) are passed on and never answered.
 */
import { EventEmitter } from 'node:events';
import { encodeFrame, hex2, LineSplitter, parseFrame, UNTRUSTED_SEQ, EVENT_SEQ, type NakReason } from './frame.js';

/** What the link needs of a serial port (serialport's `SerialPort`, a pty, or a test stream). */
export interface ByteStream {
  write(data: Buffer): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  removeListener(event: 'data', listener: (chunk: Buffer) => void): unknown;
}

export interface LinkOptions {
  /** How long to wait for a reply (PROTOCOL.md "Host timing": 250 ms). */
  timeoutMs?: number;
  /** Resends after the first attempt (3, so 4 attempts). */
  retries?: number;
  /** How often a faulty peripheral is pinged. */
  pingEveryMs?: number;
  /** The first sequence number (tests; otherwise random). */
  firstSeq?: number;
}

export class LinkError extends Error {
  constructor(
    readonly command: string,
    readonly reason: 'timeout' | NakReason | 'closed',
  ) {
    super(
      reason === 'timeout'
        ? `${command}: no answer from the peripheral`
        : reason === 'closed'
          ? `${command}: link closed`
          : `${command}: refused (NAK ${reason})`,
    );
  }
}

export interface LinkStats {
  sent: number;
  resent: number;
  acked: number;
  naks: number;
  timeouts: number;
  /** Lines that were not frames, or broken ones (noise). */
  garbage: number;
  failed: number;
}

interface Pending {
  body: string;
  resolve: () => void;
  reject: (err: LinkError) => void;
}

interface Outstanding extends Pending {
  seq: number;
  frame: Buffer;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
}

export interface LinkEvents {
  event: [{ name: string; arg: string | undefined }];
  fault: [LinkError];
  recovered: [];
}

export class SerialLink extends EventEmitter<LinkEvents> {
  readonly stats: LinkStats = { sent: 0, resent: 0, acked: 0, naks: 0, timeouts: 0, garbage: 0, failed: 0 };
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly pingEveryMs: number;
  private readonly queue: Pending[] = [];
  private outstanding: Outstanding | undefined;
  private seq: number;
  private faultyNow = false;
  private pingTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly splitter: LineSplitter;
  private readonly onData = (chunk: Buffer) => this.splitter.push(chunk);

  constructor(
    private readonly port: ByteStream,
    options: LinkOptions = {},
  ) {
    super();
    this.timeoutMs = options.timeoutMs ?? 250;
    this.retries = options.retries ?? 3;
    this.pingEveryMs = options.pingEveryMs ?? 5_000;
    this.seq = (options.firstSeq ?? Math.floor(Math.random() * 256)) & 0xff;
    this.splitter = new LineSplitter(
      (line) => this.line(line),
      () => (this.stats.garbage += 1),
    );
    port.on('data', this.onData);
  }

  get faulty(): boolean {
    return this.faultyNow;
  }

  /**
   * Open the session with a PING (PROTOCOL.md "Repeats": a command repeated from a previous host run
   * must not be taken for a retry). Resolves either way; a silent peripheral is faulty from the start.
   */
  async open(): Promise<boolean> {
    return this.command('PING').then(
      () => true,
      () => false,
    );
  }

  /** Send a command; resolves on its ACK, rejects with a LinkError after the last attempt. */
  command(name: string, arg?: string | number): Promise<void> {
    const body = arg === undefined ? name : `${name}:${arg}`;
    if (this.closed) return Promise.reject(new LinkError(body, 'closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ body, resolve, reject });
      this.next();
    });
  }

  close(): void {
    this.closed = true;
    this.port.removeListener('data', this.onData);
    clearTimeout(this.pingTimer);
    const out = this.outstanding;
    this.outstanding = undefined;
    if (out) {
      clearTimeout(out.timer);
      out.reject(new LinkError(out.body, 'closed'));
    }
    for (const p of this.queue.splice(0)) p.reject(new LinkError(p.body, 'closed'));
  }

  private next(): void {
    if (this.outstanding || this.closed) return;
    const pending = this.queue.shift();
    if (!pending) return;
    const seq = this.seq;
    // PROTOCOL.md "Repeats": the next seq (mod 256) for every new command, never the same twice in a row.
    this.seq = (this.seq + 1) & 0xff;
    this.outstanding = { ...pending, seq, frame: encodeFrame(seq, pending.body), attempts: 0, timer: undefined };
    this.transmit();
  }

  private transmit(): void {
    const out = this.outstanding;
    if (!out) return;
    out.attempts += 1;
    if (out.attempts > 1) this.stats.resent += 1;
    this.stats.sent += 1;
    clearTimeout(out.timer);
    out.timer = setTimeout(() => {
      this.stats.timeouts += 1;
      this.retryOrFail('timeout');
    }, this.timeoutMs);
    try {
      this.port.write(out.frame);
    } catch {
      // A port that throws on write is handled like one that does not answer: the timeout follows.
    }
  }

  private retryOrFail(reason: 'timeout' | NakReason): void {
    const out = this.outstanding;
    if (!out) return;
    // A NAK CMD or ARG is final: the same frame would be refused again (PROTOCOL.md "Host timing").
    const final = reason === 'CMD' || reason === 'ARG';
    if (!final && out.attempts <= this.retries) return this.transmit();
    clearTimeout(out.timer);
    this.outstanding = undefined;
    this.stats.failed += 1;
    const err = new LinkError(out.body, reason);
    out.reject(err);
    if (!final) {
      if (!this.faultyNow) {
        this.faultyNow = true;
        this.emit('fault', err);
      }
      this.schedulePing();
    }
    this.next();
  }

  /** While faulty, a PING every few seconds when nothing else is waiting (PROTOCOL.md "Host timing"). */
  private schedulePing(): void {
    if (this.closed || this.pingTimer) return;
    this.pingTimer = setTimeout(() => {
      this.pingTimer = undefined;
      if (!this.faultyNow || this.closed) return;
      if (this.outstanding || this.queue.length > 0) return this.schedulePing();
      this.command('PING').catch(() => this.schedulePing());
    }, this.pingEveryMs);
    this.pingTimer.unref();
  }

  private line(line: string): void {
    const frame = parseFrame(line);
    if (!frame.ok) {
      // Broken replies are not answered by the host: its timeout (or the next resend) covers them.
      this.stats.garbage += 1;
      return;
    }
    if (frame.seq === EVENT_SEQ) {
      if (frame.name === 'EVT') {
        const [name = '', ...rest] = (frame.arg ?? '').split(':');
        this.emit('event', { name, arg: rest.length > 0 ? rest.join(':') : undefined });
      } else this.stats.garbage += 1;
      return;
    }
    const out = this.outstanding;
    if (frame.seq === UNTRUSTED_SEQ) {
      // The peripheral could not read our frame: send it again at once.
      if (frame.name === 'NAK' && out) {
        this.stats.naks += 1;
        this.retryOrFail(nakReason(frame.arg));
      }
      return;
    }
    // A reply to an earlier frame (a late ACK after our resend) is ignored.
    if (!out || frame.seq !== hex2(out.seq)) return;
    if (frame.name === 'ACK') {
      clearTimeout(out.timer);
      this.outstanding = undefined;
      this.stats.acked += 1;
      if (this.faultyNow) {
        this.faultyNow = false;
        this.emit('recovered');
      }
      out.resolve();
      this.next();
    } else if (frame.name === 'NAK') {
      this.stats.naks += 1;
      this.retryOrFail(nakReason(frame.arg));
    } else this.stats.garbage += 1;
  }
}

function nakReason(arg: string | undefined): NakReason {
  return arg === 'CRC' || arg === 'LEN' || arg === 'CMD' || arg === 'ARG' ? arg : 'FMT';
}
