/**
 * Outputs from the config: each asset's relay and displays, with one driver per serial port however
 * many roles it plays (a PROTOCOL.md peripheral is a relay and a display on one cable; several
 * relays share one Firmata board). Hardware libraries are loaded only for the drivers configured.
 */
import type { Logger } from 'pino';
import type { AssetConfig, DisplayConfig, RelayConfig } from '../config.js';
import { ConsoleDisplay, ConsoleRelay } from '../drivers/console.js';
import { EscposPrinter } from '../drivers/escpos.js';
import { FirmataBoards, FirmataRelay, type FirmataIoFactory } from '../drivers/firmata.js';
import { GpioRelay, loadLibgpiod, type GpioModule } from '../drivers/gpio.js';
import { NextionDisplay } from '../drivers/nextion.js';
import { openSerialPort, PortPool, type PortOpener } from '../drivers/ports.js';
import { SerialPeripheral } from '../drivers/serial.js';
import type { Display, Relay } from './types.js';

/** Seams for tests and benchmarks: where ports, Firmata boards and GPIO lines come from. */
export interface HardwareSeams {
  openPort?: PortOpener;
  firmataIo?: FirmataIoFactory;
  gpio?: () => GpioModule;
  /** Replace the relay of every asset (the benchmark's instrumented relay). */
  relay?: (assetId: string) => Relay;
}

export interface AssetOutputs {
  relay: Relay;
  displays: Display[];
}

export class OutputFactory {
  private readonly ports: PortPool;
  private readonly boards: FirmataBoards;
  private readonly peripherals = new Map<string, SerialPeripheral>();

  constructor(
    private readonly log: Logger,
    private readonly seams: HardwareSeams = {},
  ) {
    this.ports = new PortPool(seams.openPort ?? openSerialPort);
    this.boards = new FirmataBoards(this.ports, seams.firmataIo);
  }

  forAsset(asset: AssetConfig): AssetOutputs {
    return {
      relay: this.seams.relay?.(asset.asset_id) ?? this.relay(asset.asset_id, asset.relay),
      displays: asset.displays.map((d) => this.display(asset.asset_id, d)),
    };
  }

  private peripheral(c: Extract<RelayConfig, { type: 'serial' }>): SerialPeripheral {
    let p = this.peripherals.get(c.port);
    if (!p) {
      p = new SerialPeripheral(this.ports, { port: c.port, baud: c.baud, timeoutMs: c.timeout_ms, retries: c.retries }, (name, arg) =>
        this.log.info({ output: `serial:${c.port}`, event: name, arg }, 'peripheral event'),
      );
      this.peripherals.set(c.port, p);
    }
    return p;
  }

  private relay(assetId: string, c: RelayConfig): Relay {
    switch (c.type) {
      case 'firmata':
        return new FirmataRelay(this.boards, { port: c.port, baud: c.baud, pin: c.pin, activeLow: c.active_low });
      case 'gpio':
        return new GpioRelay({ chip: c.chip, line: c.line, activeLow: c.active_low }, this.seams.gpio ?? loadLibgpiod);
      case 'serial':
        return this.peripheral(c);
      case 'console':
        return new ConsoleRelay(this.log, assetId);
    }
  }

  private display(assetId: string, c: DisplayConfig): Display {
    switch (c.type) {
      case 'serial':
        return this.peripheral(c);
      case 'nextion':
        return new NextionDisplay(this.ports, { port: c.port, baud: c.baud, qrComponent: c.qr_component, textComponent: c.text_component });
      case 'escpos':
        return new EscposPrinter(this.ports, { port: c.port, transport: c.transport, baud: c.baud, title: c.title });
      case 'console':
        return new ConsoleDisplay(this.log, assetId, c.render_qr);
    }
  }
}
