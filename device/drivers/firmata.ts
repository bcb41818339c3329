/**
 * Relays on Arduino pins through johnny-five over Firmata (StandardFirmata on the board). The
 * Firmata connection is firmata-io on a serialport 13 port (prebuilt bindings), not johnny-five's
 * own serialport 8, whose native binding would have to be compiled on the Pi. One board per port,
 * shared by every relay on it. Tests hand in `mock-firmata` as the io.
 */
import { createRequire } from 'node:module';
import type { PortHandle, PortPool } from './ports.js';
import { TimedRelay } from './timed-relay.js';

const require = createRequire(import.meta.url);

/** The part of a johnny-five io plugin (Firmata) the daemon touches. */
export interface FirmataIo {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  digitalWrite(pin: number, value: number): unknown;
}

interface J5Board {
  on(event: 'ready' | 'error' | 'fail', listener: (arg?: unknown) => void): unknown;
  io: FirmataIo;
}
interface J5Relay {
  close(): unknown;
  open(): unknown;
}
interface J5 {
  Board: new (options: Record<string, unknown>) => J5Board;
  Relay: new (options: Record<string, unknown>) => J5Relay;
}

/** Where a board's io comes from: Firmata on a port (the default), or a test's mock. */
export type FirmataIoFactory = (port: PortHandle) => FirmataIo;

const defaultIo: FirmataIoFactory = (port) => {
  const { Firmata } = require('firmata-io') as { Firmata: new (transport: unknown, options?: Record<string, unknown>) => FirmataIo };
  return new Firmata(port.stream, { reportVersionTimeout: 5_000 });
};

/** One johnny-five Board per serial port. */
export class FirmataBoards {
  private readonly boards = new Map<string, Promise<J5Board>>();

  constructor(
    private readonly ports: PortPool,
    private readonly ioFactory: FirmataIoFactory = defaultIo,
    private readonly readyTimeoutMs = 10_000,
  ) {}

  board(path: string, baud: number): Promise<J5Board> {
    let board = this.boards.get(path);
    if (!board) {
      board = this.connect(path, baud);
      this.boards.set(path, board);
      board.catch(() => this.boards.delete(path));
    }
    return board;
  }

  release(path: string): Promise<void> {
    this.boards.delete(path);
    return this.ports.release(path);
  }

  private async connect(path: string, baud: number): Promise<J5Board> {
    const port = await this.ports.acquire(path, baud);
    const io = this.ioFactory(port);
    const { Board } = require('johnny-five') as J5;
    const board = new Board({ io, repl: false, debug: false, timeout: this.readyTimeoutMs, id: path });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${path}: no Firmata board answered in ${this.readyTimeoutMs} ms (StandardFirmata uploaded?)`)),
        this.readyTimeoutMs,
      );
      board.on('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      board.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
    return board;
  }
}

export class FirmataRelay extends TimedRelay {
  readonly name: string;
  private relay: J5Relay | undefined;

  constructor(
    private readonly boards: FirmataBoards,
    private readonly options: { port: string; baud: number; pin: number; activeLow: boolean },
  ) {
    super();
    this.name = `firmata:${options.port}:${options.pin}`;
  }

  async start(): Promise<void> {
    const board = await this.boards.board(this.options.port, this.options.baud);
    const { Relay } = require('johnny-five') as J5;
    // johnny-five's "NC" relay is driven low to switch on (active-low relay boards).
    this.relay = new Relay({ pin: this.options.pin, type: this.options.activeLow ? 'NC' : 'NO', board });
    this.relay.open();
  }

  protected write(on: boolean): void {
    if (!this.relay) throw new Error(`${this.name}: not started`);
    if (on) this.relay.close();
    else this.relay.open();
  }

  protected release(): Promise<void> {
    return this.boards.release(this.options.port);
  }
}
