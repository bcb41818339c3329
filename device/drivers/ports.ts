/**
 * Serial ports for the drivers: serialport 13 (prebuilt bindings, nothing to compile on the Pi),
 * loaded only when a serial output is configured. Tests pass their own opener (serialport's mock
 * binding, or a pty from socat).
 */
import type { ByteStream } from '../protocol/link.js';

export interface PortHandle {
  readonly path: string;
  readonly stream: ByteStream & { write(data: Buffer, cb?: (err?: Error | null) => void): unknown };
  close(): Promise<void>;
}

export type PortOpener = (path: string, baudRate: number) => Promise<PortHandle>;

/** Open a real serial port (8N1). */
export const openSerialPort: PortOpener = async (path, baudRate) => {
  const { SerialPort } = await import('serialport');
  const port = await new Promise<InstanceType<typeof SerialPort>>((resolve, reject) => {
    const p: InstanceType<typeof SerialPort> = new SerialPort({ path, baudRate, dataBits: 8, parity: 'none', stopBits: 1, autoOpen: true }, (err) =>
      err ? reject(new Error(`cannot open ${path}: ${err.message}`)) : resolve(p),
    );
  });
  return wrapPort(path, port);
};

/** A serialport stream (real or mock) as a PortHandle. */
export function wrapPort(
  path: string,
  port: ByteStream & {
    write(data: Buffer, cb?: (err?: Error | null) => void): unknown;
    isOpen: boolean;
    close(cb?: (err?: Error | null) => void): unknown;
    on(event: 'error', l: (err: Error) => void): unknown;
  },
): PortHandle {
  // A port error (unplugged cable) surfaces as missing answers, which the drivers report as faults.
  port.on('error', () => undefined);
  return {
    path,
    stream: port,
    close: () =>
      new Promise<void>((resolve) => {
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}

/** Ports shared by the outputs that name them: each path is opened once, closed when the last user stops. */
export class PortPool {
  private readonly open = new Map<string, { handle: Promise<PortHandle>; users: number }>();

  constructor(private readonly opener: PortOpener) {}

  acquire(path: string, baudRate: number): Promise<PortHandle> {
    const had = this.open.get(path);
    if (had) {
      had.users += 1;
      return had.handle;
    }
    const handle = this.opener(path, baudRate);
    this.open.set(path, { handle, users: 1 });
    handle.catch(() => this.open.delete(path));
    return handle;
  }

  async release(path: string): Promise<void> {
    const had = this.open.get(path);
    if (!had) return;
    had.users -= 1;
    if (had.users > 0) return;
    this.open.delete(path);
    await (await had.handle.catch(() => undefined))?.close();
  }
}
