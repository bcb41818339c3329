/**
 * A Nextion HMI display over serial: ASCII instructions each ended by `FF FF FF` (Nextion
 * Instruction Set). The QR component takes the LNURL in its `txt` attribute (`qr0.txt="…"`); "paid"
 * is written to a text component while the QR is hidden (`vis qr0,0`), then the QR comes back.
 */
import type { Display, PaidInfo } from '../outputs/types.js';
import type { PortHandle, PortPool } from './ports.js';

/** Nextion Instruction Set: every instruction ends with three 0xFF bytes. */
const TERMINATOR = Buffer.from([0xff, 0xff, 0xff]);

/** A Nextion string literal: `"` and `\` are escaped with `\`; bytes outside printable ASCII are dropped. */
export function nextionString(text: string): string {
  return `"${text.replace(/[^\x20-\x7E]/g, '').replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function nextionInstruction(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'latin1'), TERMINATOR]);
}

export class NextionDisplay implements Display {
  readonly name: string;
  private port: PortHandle | undefined;
  private lastQr: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ports: PortPool,
    private readonly options: { port: string; baud: number; qrComponent: string; textComponent: string },
  ) {
    this.name = `nextion:${options.port}`;
  }

  async start(): Promise<void> {
    this.port = await this.ports.acquire(this.options.port, this.options.baud);
    // End whatever half-instruction the display holds from before.
    await this.write(TERMINATOR);
  }

  private send(instructions: string[]): Promise<void> {
    return this.write(Buffer.concat(instructions.map(nextionInstruction)));
  }

  private write(bytes: Buffer): Promise<void> {
    const port = this.port;
    if (!port) return Promise.reject(new Error(`${this.name}: not started`));
    return new Promise((resolve, reject) => {
      port.stream.write(bytes, (err) => (err ? reject(new Error(`${this.name}: ${err.message}`)) : resolve()));
    });
  }

  showQr(text: string): Promise<void> {
    clearTimeout(this.timer);
    this.lastQr = text;
    const { qrComponent: qr, textComponent: t } = this.options;
    return this.send([`${qr}.txt=${nextionString(text)}`, `vis ${qr},1`, `${t}.txt=${nextionString('')}`]);
  }

  showText(text: string): Promise<void> {
    clearTimeout(this.timer);
    const { qrComponent: qr, textComponent: t } = this.options;
    return this.send([`vis ${qr},0`, `${t}.txt=${nextionString(text)}`]);
  }

  async showPaid(ms: number, info: PaidInfo): Promise<void> {
    clearTimeout(this.timer);
    const { qrComponent: qr, textComponent: t } = this.options;
    const line = info.amountSats === undefined ? 'Paid - thank you' : `Paid ${info.amountSats} sats - thank you`;
    await this.send([`vis ${qr},0`, `${t}.txt=${nextionString(line)}`]);
    this.timer = setTimeout(() => {
      if (this.lastQr !== undefined) this.showQr(this.lastQr).catch(() => undefined);
    }, ms);
  }

  clear(): Promise<void> {
    clearTimeout(this.timer);
    const { qrComponent: qr, textComponent: t } = this.options;
    return this.send([`vis ${qr},0`, `${t}.txt=${nextionString('')}`]);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.port = undefined;
    await this.ports.release(this.options.port);
  }
}
