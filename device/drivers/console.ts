/**
 * The console (simulated) outputs for demos, tests and benchmarks: the relay and the display log
 * what they would do, one JSON line each, with the time of the "pin write" on the wall clock in
 * milliseconds (fractional), so another process can time the path to it.
 */
import QRCode from 'qrcode';
import type { Logger } from 'pino';
import type { Display, PaidInfo } from '../outputs/types.js';
import { TimedRelay } from './timed-relay.js';

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export class ConsoleRelay extends TimedRelay {
  readonly name = 'console';

  constructor(
    private readonly log: Logger,
    private readonly assetId: string,
  ) {
    super();
  }

  async start(): Promise<void> {}

  protected write(on: boolean): void {
    this.log.info({ asset_id: this.assetId, output: 'relay', on, at: wallClockMs() }, on ? 'relay on' : 'relay off');
  }

  protected async release(): Promise<void> {}
}

export class ConsoleDisplay implements Display {
  readonly name = 'console-display';
  private lastQr: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly assetId: string,
    private readonly renderQr: boolean,
  ) {}

  async start(): Promise<void> {}

  async showQr(text: string): Promise<void> {
    clearTimeout(this.timer);
    this.lastQr = text;
    this.log.info({ asset_id: this.assetId, output: 'display', screen: 'qr', qr: text, at: wallClockMs() }, 'display: payment QR');
    if (this.renderQr) process.stderr.write(await QRCode.toString(text, { type: 'terminal', small: true }));
  }

  async showText(text: string): Promise<void> {
    clearTimeout(this.timer);
    this.log.info({ asset_id: this.assetId, output: 'display', screen: 'text', text, at: wallClockMs() }, `display: ${text}`);
  }

  async showPaid(ms: number, info: PaidInfo): Promise<void> {
    clearTimeout(this.timer);
    this.log.info({ asset_id: this.assetId, output: 'display', screen: 'paid', ms, payment_id: info.paymentId, at: wallClockMs() }, 'display: paid');
    this.timer = setTimeout(() => {
      if (this.lastQr !== undefined) void this.showQr(this.lastQr);
    }, ms);
  }

  async clear(): Promise<void> {
    clearTimeout(this.timer);
    this.log.info({ asset_id: this.assetId, output: 'display', screen: 'clear', at: wallClockMs() }, 'display: clear');
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
  }
}
