/** Shared set-up of the storage tests: a data dir with acknowledged events, log surgery, the CLI. */
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBridge, type ApiResponse, type TestBridge } from '../helpers/bridge.js';
import { ROOT } from '../helpers/process.js';

/** Start a bridge on `dataDir`, sign up, post `n` events (each acknowledged with 201), stop it. */
export async function seed(dataDir: string, n: number, overrides: Record<string, unknown> = {}): Promise<{ key: string; ids: string[] }> {
  const t = await startBridge(overrides, { dataDir });
  try {
    const { key } = await t.signup('storage-bot');
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const externalId = `ev-${i}`;
      const res = await t.request('POST', '/api/public/events', { token: key, body: { type: 'action', external_id: externalId, data: { i } } });
      if (res.status !== 201) throw new Error(`event ${i}: ${res.status} ${res.text}`);
      ids.push(externalId);
    }
    return { key, ids };
  } finally {
    await t.stop();
  }
}

/** Every stored event's external id, all pages. */
export async function storedEvents(t: TestBridge, key: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res: ApiResponse = await t.request('GET', `/api/public/events?limit=200${cursor ? `&cursor=${cursor}` : ''}`, { token: key });
    if (res.status !== 200) throw new Error(`list: ${res.status} ${res.text}`);
    ids.push(...res.body.events.map((e: { external_id: string }) => e.external_id));
    cursor = res.body.next_cursor;
  } while (cursor);
  return ids;
}

/** The newest log file in `dir`. */
export async function newestLog(dir: string): Promise<string> {
  const logs = (await readdir(dir)).filter((f) => /^paywire\.wal\.\d+$/.test(f)).sort();
  const last = logs[logs.length - 1];
  if (!last) throw new Error(`no log in ${dir}`);
  return join(dir, last);
}

/** Byte ranges [start, end) of the complete lines of a file, newline excluded. */
export function lineRanges(buf: Buffer): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
    out.push([start, nl]);
    start = nl + 1;
  }
  return out;
}

/** Flip one bit in the middle of complete line `index` (negative: from the end) of a file. */
export async function flipByteInLine(path: string, index: number): Promise<{ offset: number }> {
  const buf = await readFile(path);
  const ranges = lineRanges(buf);
  const range = ranges[index < 0 ? ranges.length + index : index];
  if (!range) throw new Error(`no line ${index} in ${path}`);
  const at = Math.floor((range[0] + range[1]) / 2);
  buf[at] = (buf[at] as number) ^ 0x02;
  await writeFile(path, buf);
  return { offset: range[0] };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** It printed its "listening" line (and was then stopped): it started. */
  started: boolean;
}

/** Run `node --import tsx bridge/cli.ts ...args` to its end; a bridge that starts is stopped and reported. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bridge/cli.ts', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      LOG_LEVEL: 'warn',
      PORT: '0',
      HOST: '127.0.0.1',
      MQTT_ENABLED: 'false',
      ADMIN_TOKEN: 'storage-test-admin-token-0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let started = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (!started && stdout.includes('paywire bridge listening on ')) {
      started = true;
      child.kill('SIGTERM');
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr, started })));
}
