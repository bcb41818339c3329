/**
 * A peripheral speaking the Paywire serial protocol (device/PROTOCOL.md): the Uno sketch with a
 * relay and a display, on one port. `RLY` is timed by the peripheral; `PAID` returns to the QR by
 * itself. After a reset (`EVT:BOOT`) the last QR is sent again; a peripheral that stops answering
 * is reported once as a fault and pinged until it answers.
 */
import type { Display, FaultSource, PaidInfo, Relay } from '../outputs/types.js';
import { LinkError, SerialLink, type LinkOptions } from '../protocol/link.js';
import type { PortPool } from './ports.js';

/** PROTOCOL.md argument ranges. */
const MAX_QR = 160;
const MAX_TXT = 64;
const MAX_MS = 86_400_000;

/** Printable ASCII without `*` (PROTOCOL.md "Framing"): anything else becomes `?`. */
function sanitize(text: string, max: number): string {
  return text.replace(/[^\x20-\x29\x2B-\x7E]/g, '?').slice(0, max);
}

export class SerialPeripheral implements Relay, Display, FaultSource {
  readonly name: string;
  private link: SerialLink | undefined;
  private lastQr: string | undefined;
  private readonly faultListeners: ((fault: { output: string; message: string }) => void)[] = [];
  private starting: Promise<void> | undefined;
  private users = 0;

  constructor(
    private readonly ports: PortPool,
    private readonly options: { port: string; baud: number } & LinkOptions,
    private readonly onEvent: (name: string, arg: string | undefined) => void = () => undefined,
  ) {
    this.name = `serial:${options.port}`;
  }

  /** Started once however many roles (relay, display) it plays. */
  start(): Promise<void> {
    this.users += 1;
    this.starting ??= this.open();
    return this.starting;
  }

  private async open(): Promise<void> {
    const port = await this.ports.acquire(this.options.port, this.options.baud);
    const link = new SerialLink(port.stream, this.options);
    this.link = link;
    link.on('fault', (err) => {
      for (const l of this.faultListeners) l({ output: this.name, message: err.message });
    });
    link.on('event', ({ name, arg }) => {
      this.onEvent(name, arg);
      // PROTOCOL.md "Events": after a reset the host sends the display state again.
      if (name === 'BOOT' && this.lastQr !== undefined) this.link?.command('QR', this.lastQr).catch(() => undefined);
    });
    // PROTOCOL.md "Repeats": each session opens with a PING; a silent peripheral is a fault, not a crash.
    await link.open();
  }

  onFault(listener: (fault: { output: string; message: string }) => void): void {
    this.faultListeners.push(listener);
  }

  get faulty(): boolean {
    return this.link?.faulty ?? true;
  }

  get stats() {
    return this.link?.stats;
  }

  private send(name: string, arg?: string | number): Promise<void> {
    if (!this.link) return Promise.reject(new LinkError(name, 'closed'));
    return this.link.command(name, arg);
  }

  pulse(ms: number): Promise<void> {
    return this.send('RLY', Math.min(Math.max(Math.round(ms), 0), MAX_MS));
  }

  off(): Promise<void> {
    return this.send('RLY', 0);
  }

  showQr(text: string): Promise<void> {
    this.lastQr = sanitize(text, MAX_QR);
    return this.send('QR', this.lastQr);
  }

  showText(text: string): Promise<void> {
    return this.send('TXT', sanitize(text, MAX_TXT));
  }

  showPaid(ms: number, _info: PaidInfo): Promise<void> {
    return this.send('PAID', Math.min(Math.max(Math.round(ms), 1), MAX_MS));
  }

  clear(): Promise<void> {
    return this.send('CLR');
  }

  async stop(): Promise<void> {
    this.users -= 1;
    if (this.users > 0) return;
    this.link?.close();
    this.link = undefined;
    this.starting = undefined;
    await this.ports.release(this.options.port);
  }
}
