/**
 * Two ways to put a simulated peripheral on the other end of the host's serial port: serialport's
 * mock binding (`SerialPortMock`), and a real pseudo-terminal pair made by `socat` (the host opens
 * one end with the real serialport binding, the peripheral the other).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort, SerialPortMock } from 'serialport';
import { openSerialPort, wrapPort, type PortHandle, type PortOpener } from '../../device/drivers/ports.js';
import { Peripheral } from './peripheral.js';

export interface Transport {
  /** The host's port opener: pass it to the drivers. */
  opener: PortOpener;
  /** The path the host opens. */
  path: string;
  /** The simulated peripheral, once the host opened the port. */
  peripheral(): Promise<Peripheral>;
  close(): Promise<void>;
}

let mockCount = 0;

/** serialport's mock binding: host writes reach the peripheral, its replies come back as port data. */
export function mockTransport(): Transport {
  const path = `/dev/mock-paywire-${process.pid}-${++mockCount}`;
  SerialPortMock.binding.createPort(path, { echo: false, record: true });
  let resolvePeripheral: (p: Peripheral) => void = () => undefined;
  const ready = new Promise<Peripheral>((r) => (resolvePeripheral = r));
  let handle: PortHandle | undefined;
  const opener: PortOpener = async (p, baudRate) => {
    const port = await new Promise<SerialPortMock>((resolve, reject) => {
      const sp: SerialPortMock = new SerialPortMock({ path: p, baudRate }, (err) => (err ? reject(err) : resolve(sp)));
    });
    // The mock binding (SerialPortStream.port) after open: tap its writes, answer through emitData.
    const binding = (port as unknown as { port: { write(b: Buffer): Promise<void>; emitData(b: Buffer): void; isOpen: boolean } }).port;
    const peripheral = new Peripheral((data) => {
      if (binding.isOpen) binding.emitData(data);
    });
    const write = binding.write.bind(binding);
    binding.write = async (b: Buffer) => {
      await write(b);
      setImmediate(() => peripheral.receive(Buffer.from(b)));
    };
    resolvePeripheral(peripheral);
    handle = wrapPort(p, port);
    return handle;
  };
  return { opener, path, peripheral: () => ready, close: async () => void (await handle?.close()) };
}

/** A real pty pair from socat: `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`. */
export async function socatTransport(): Promise<Transport> {
  const dir = await mkdtemp(join(tmpdir(), 'paywire-pty-'));
  const host = join(dir, 'host');
  const dev = join(dir, 'dev');
  const child: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${dev}`], { stdio: 'ignore' });
  const deadline = Date.now() + 5_000;
  while (!(existsSync(host) && existsSync(dev))) {
    if (Date.now() > deadline) throw new Error('socat did not make its pty pair');
    await new Promise((r) => setTimeout(r, 20));
  }
  const devPort = await new Promise<SerialPort>((resolve, reject) => {
    const sp: SerialPort = new SerialPort({ path: dev, baudRate: 115_200 }, (err) => (err ? reject(err) : resolve(sp)));
  });
  const peripheral = new Peripheral((data) => devPort.write(data));
  devPort.on('data', (chunk: Buffer) => peripheral.receive(chunk));
  let handle: PortHandle | undefined;
  return {
    path: host,
    opener: async (p, baud) => (handle = await openSerialPort(p, baud)),
    peripheral: async () => peripheral,
    async close() {
      await handle?.close();
      await new Promise<void>((r) => (devPort.isOpen ? devPort.close(() => r()) : r()));
      child.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
