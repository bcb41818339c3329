/**
 * Relays on Raspberry Pi GPIO through the Linux GPIO character device (/dev/gpiochipN), with
 * node-libgpiod. It is an optional dependency loaded only when a `gpio` relay is configured, so the
 * package installs on machines without libgpiod; tests hand in a module with the same interface.
 */
import { createRequire } from 'node:module';
import { TimedRelay } from './timed-relay.js';

/** The part of node-libgpiod's API the driver uses (`new Chip(n)`, `new Line(chip, offset)`). */
export interface GpioLine {
  requestOutputMode(consumer?: string): unknown;
  setValue(value: 0 | 1): unknown;
  release(): unknown;
}
export interface GpioModule {
  Chip: new (chip: number | string) => unknown;
  Line: new (chip: unknown, offset: number) => GpioLine;
}

export function loadLibgpiod(): GpioModule {
  try {
    return createRequire(import.meta.url)('node-libgpiod') as GpioModule;
  } catch (err) {
    throw new Error(
      `a gpio relay needs node-libgpiod (the Linux GPIO character device): on the Pi, apt install libgpiod-dev build-essential, then npm install node-libgpiod (${(err as Error).message.split('\n')[0]})`,
    );
  }
}

export class GpioRelay extends TimedRelay {
  readonly name: string;
  private line: GpioLine | undefined;

  constructor(
    private readonly options: { chip: number | string; line: number; activeLow: boolean },
    private readonly load: () => GpioModule = loadLibgpiod,
  ) {
    super();
    this.name = `gpio:${options.chip}:${options.line}`;
  }

  async start(): Promise<void> {
    const gpio = this.load();
    let chip: unknown;
    try {
      chip = new gpio.Chip(this.options.chip);
    } catch (err) {
      throw new Error(`${this.name}: cannot open GPIO chip ${this.options.chip} (${(err as Error).message})`);
    }
    const line = new gpio.Line(chip, this.options.line);
    line.requestOutputMode('paywire-device');
    this.line = line;
    this.write(false);
  }

  protected write(on: boolean): void {
    if (!this.line) throw new Error(`${this.name}: not started`);
    this.line.setValue(on !== this.options.activeLow ? 1 : 0);
  }

  protected async release(): Promise<void> {
    this.line?.release();
    this.line = undefined;
  }
}
