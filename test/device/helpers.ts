/**
 * Device daemon tests: a config for a machine of a real bridge, a relay that records its pin writes
 * (a stand-in at the pin: the machine, ledger, MQTT and bridge are real), and waiting helpers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { parseConfig, type DeviceConfig } from '../../device/config.js';
import { TimedRelay } from '../../device/drivers/timed-relay.js';
import type { DeviceLogin, Machine } from '../helpers/machine.js';

export const QR =
  'LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HXQURZEPEXEJXXEPNXSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNS';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A fresh state directory, removed after the test. */
export async function stateDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'paywire-device-'));
  dirs.push(d);
  return d;
}

/** The raw config object of a one-asset daemon for a machine of a running bridge. */
export function rawConfig(m: Machine, login: DeviceLogin, mqttPort: number, dir: string, extra: Record<string, unknown> = {}): Record<string, any> {
  return {
    account_id: m.userId,
    mqtt: { url: `mqtt://127.0.0.1:${mqttPort}`, reconnect_min_ms: 100, reconnect_max_ms: 1_000 },
    state_dir: dir,
    log_level: 'silent',
    assets: [
      {
        asset_id: m.assetId,
        qr: QR,
        relay: { type: 'console' },
        displays: [{ type: 'console' }],
        login: { username: login.username, password: login.password },
      },
    ],
    ...extra,
  };
}

export function config(m: Machine, login: DeviceLogin, mqttPort: number, dir: string, extra: Record<string, unknown> = {}): DeviceConfig {
  return parseConfig(rawConfig(m, login, mqttPort, dir, extra));
}

export interface PinWrite {
  on: boolean;
  at: number;
}

/** A relay that records each pin write and when (performance.now()). */
export class RecordingRelay extends TimedRelay {
  readonly name = 'recording';
  readonly writes: PinWrite[] = [];
  constructor(readonly onWrite?: (w: PinWrite) => void) {
    super();
  }
  async start(): Promise<void> {}
  protected write(on: boolean): void {
    const w = { on, at: performance.now() };
    this.writes.push(w);
    this.onWrite?.(w);
  }
  protected async release(): Promise<void> {}
  get ons(): number {
    return this.writes.filter((w) => w.on).length;
  }
}

/** Poll until `check` returns a value (not undefined/false), or fail after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The daemon as a child process, as `npm run device -- --config <file>` runs it (tsx on the sources). */
export interface DaemonProcess {
  child: import('node:child_process').ChildProcess;
  /** stdout JSON lines (pino), parsed. */
  lines: Record<string, any>[];
  stderr: () => string;
  exited: Promise<number | null>;
}

export async function spawnDaemon(configPath: string, timeoutMs = 20_000): Promise<DaemonProcess> {
  const { spawn } = await import('node:child_process');
  const { ROOT } = await import('../helpers/process.js');
  const child = spawn(process.execPath, ['--import', 'tsx', 'device/cli.ts', '--config', configPath], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, any>[] = [];
  let partial = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Record<string, any>);
      } catch {
        lines.push({ msg: p });
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  process.once('exit', () => child.kill('SIGKILL'));
  const started = await Promise.race([
    waitFor('daemon running', () => lines.some((l) => l['msg'] === 'paywire-device running'), timeoutMs).then(() => true),
    exited.then(() => false),
  ]);
  if (!started) throw new Error(`daemon exited before running:\n${err}\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
  return { child, lines, stderr: () => err, exited };
}
