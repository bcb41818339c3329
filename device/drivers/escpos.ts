/**
 * An ESC/POS receipt printer: a QR ticket ("scan to pay") when the payment QR first shows, and a
 * receipt after each vend with the QR again for the next buyer. Serial printers go through the port
 * pool; USB printers through their character device (/dev/usb/lp0). The QR is the printer's own
 * symbol (ESC/POS `GS ( k`, model 2), so no image is rendered on the host.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Display, PaidInfo } from '../outputs/types.js';
import type { PortPool } from './ports.js';

const ESC = 0x1b;
const GS = 0x1d;

/** ESC/POS command bytes (Epson ESC/POS Command Reference). */
export const escpos = {
  init: () => Buffer.from([ESC, 0x40]), // ESC @
  align: (n: 0 | 1 | 2) => Buffer.from([ESC, 0x61, n]), // ESC a n: left, center, right
  bold: (on: boolean) => Buffer.from([ESC, 0x45, on ? 1 : 0]), // ESC E n
  size: (w: number, h: number) => Buffer.from([GS, 0x21, ((w - 1) << 4) | (h - 1)]), // GS ! n
  text: (s: string) => Buffer.from(`${s.replace(/[^\x20-\x7E]/g, '?')}\n`, 'latin1'),
  feed: (lines: number) => Buffer.from([ESC, 0x64, lines]), // ESC d n
  cut: () => Buffer.from([GS, 0x56, 0x42, 0x00]), // GS V 66 0: feed and partial cut
  /** GS ( k: select model 2 (fn 165), module size (fn 167), error correction M (fn 169), store (fn 180), print (fn 181). */
  qr(data: string, moduleSize = 6): Buffer {
    const bytes = Buffer.from(data, 'latin1');
    const len = bytes.length + 3;
    return Buffer.concat([
      Buffer.from([GS, 0x28, 0x6b, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]),
      Buffer.from([GS, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x43, moduleSize]),
      Buffer.from([GS, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x45, 0x31]),
      Buffer.from([GS, 0x28, 0x6b, len & 0xff, len >> 8, 0x31, 0x50, 0x30]),
      bytes,
      Buffer.from([GS, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30]),
    ]);
  },
};

type Sink = { write(data: Buffer): Promise<void>; close(): Promise<void> };

export class EscposPrinter implements Display {
  readonly name: string;
  private sink: Sink | undefined;
  private lastQr: string | undefined;
  private printedQr: string | undefined;

  constructor(
    private readonly ports: PortPool,
    private readonly options: { port: string; transport: 'serial' | 'file'; baud: number; title: string },
  ) {
    this.name = `escpos:${options.port}`;
  }

  async start(): Promise<void> {
    if (this.options.transport === 'file') {
      const file: FileHandle = await open(this.options.port, 'a');
      this.sink = { write: async (data) => void (await file.write(data)), close: () => file.close() };
    } else {
      const port = await this.ports.acquire(this.options.port, this.options.baud);
      this.sink = {
        write: (data) => new Promise((resolve, reject) => port.stream.write(data, (err) => (err ? reject(err) : resolve()))),
        close: () => this.ports.release(this.options.port),
      };
    }
    await this.sink.write(escpos.init());
  }

  private print(parts: Buffer[]): Promise<void> {
    if (!this.sink) return Promise.reject(new Error(`${this.name}: not started`));
    return this.sink.write(Buffer.concat([escpos.init(), ...parts, escpos.feed(3), escpos.cut()]));
  }

  /** A "scan to pay" ticket, once per QR (not after every vend: the receipt carries it). */
  async showQr(text: string): Promise<void> {
    this.lastQr = text;
    if (this.printedQr === text) return;
    this.printedQr = text;
    await this.print([escpos.align(1), escpos.bold(true), escpos.text(this.options.title), escpos.bold(false), escpos.text('Scan to pay'), escpos.qr(text)]);
  }

  /** Text screens (faults, license) are not printed: paper is for buyers. */
  async showText(_text: string): Promise<void> {}

  async showPaid(_ms: number, info: PaidInfo): Promise<void> {
    const parts: Buffer[] = [
      escpos.align(1),
      escpos.bold(true),
      escpos.size(2, 2),
      escpos.text('PAID'),
      escpos.size(1, 1),
      escpos.bold(false),
      escpos.text(this.options.title),
    ];
    if (info.amountSats !== undefined) parts.push(escpos.text(`${info.amountSats} sats`));
    if (info.paymentId !== undefined) parts.push(escpos.text(`payment ${info.paymentId}`));
    parts.push(escpos.text(new Date().toISOString().replace('T', ' ').slice(0, 19) + ' UTC'));
    if (this.lastQr !== undefined) parts.push(escpos.feed(1), escpos.text('Pay again:'), escpos.qr(this.lastQr));
    await this.print(parts);
  }

  async clear(): Promise<void> {}

  async stop(): Promise<void> {
    await this.sink?.close();
    this.sink = undefined;
  }
}
