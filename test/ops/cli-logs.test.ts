/**
 * `npm start` and its log: JSON lines on stdout by default (stdout is a pipe here, not a terminal),
 * one human-readable line per entry with LOG_FORMAT=pretty; the README's start line is still printed,
 * and is a log line at info too; a SIGTERM ends with "stopped". `--config` without a file name is a
 * configuration error (status 2), not a start without the file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCli, type BridgeProcess } from '../helpers/process.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-cli-logs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const env = (name: string, extra: Record<string, string> = {}) => ({
  PORT: '0',
  HOST: '127.0.0.1',
  MQTT_PORT: '0',
  DATA_DIR: join(dir, name),
  ADMIN_TOKEN: 'cli-logs-admin-token-0123456789',
  LOG_LEVEL: 'info',
  ...extra,
});

async function stop(proc: BridgeProcess): Promise<void> {
  proc.child.kill('SIGTERM');
  expect(await proc.exited).toEqual({ code: 0, signal: null });
}

describe('the log on stdout', () => {
  it('is JSON lines when stdout is not a terminal, with the start line printed and logged, and "stopped" at the end', async () => {
    const proc = await startCli(env('json'));
    try {
      const res = await fetch(`${proc.url}/healthz`);
      expect(res.status).toBe(200);
      await stop(proc);
    } finally {
      proc.child.kill('SIGKILL');
    }
    const plain = proc.stdout.filter((l) => !l.startsWith('{'));
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(
      /^paywire bridge listening on http:\/\/127\.0\.0\.1:\d+ \(MQTT on port \d+; public URL http:\/\/127\.0\.0\.1:\d+; data in .*json\)$/,
    );
    const entries = proc.stdout.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.find((e) => e['msg'] === 'paywire bridge listening')).toMatchObject({ level: 30, http: proc.url, mqttPort: proc.mqttPort });
    expect(entries.find((e) => e['msg'] === 'request')).toMatchObject({ method: 'GET', route: '/healthz', status: 200 });
    expect(entries.at(-1)).toMatchObject({ level: 30, msg: 'stopped' });
  });

  it('is one readable line per entry with LOG_FORMAT=pretty', async () => {
    const proc = await startCli(env('pretty', { LOG_FORMAT: 'pretty' }));
    try {
      expect((await fetch(`${proc.url}/healthz`)).status).toBe(200);
      await stop(proc);
    } finally {
      proc.child.kill('SIGKILL');
    }
    expect(proc.stdout.some((l) => l.startsWith('{'))).toBe(false);
    expect(proc.stdout.some((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO  paywire bridge listening http=http:\/\/127\.0\.0\.1:\d+ mqttPort=\d+/.test(l))).toBe(true);
    expect(
      proc.stdout.some((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO  http: request method=GET route=\/healthz status=200 ms=[\d.]+ requestId=[0-9a-f-]{36}$/.test(l)),
    ).toBe(true);
    expect(proc.stdout.filter((l) => l.startsWith('paywire bridge listening on http://'))).toHaveLength(1);
    expect(proc.stdout.filter((l) => l !== '').at(-1)).toMatch(/ INFO  stopped httpConnections=\d+ mqttClients=0 forcedHttpClose=false ms=\d+$/);
  });

  it('refuses an unknown LOG_FORMAT with status 2', async () => {
    const proc = spawnCli(env('bad-format', { LOG_FORMAT: 'colourful' }));
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr()).toMatch(/LOG_FORMAT \(environment\) must be one of auto, json, pretty/);
  });
});

describe('--config', () => {
  it.each([[['--config']], [['--config', '--verbose']], [['--config=']]])('without a file name (%j) is an error with status 2', async (args) => {
    const proc = spawnCli(env('no-config'), args);
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr()).toMatch(/^Invalid configuration:\n {2}- --config=? needs a file name/);
    expect(proc.stdout).toEqual([]);
  });
});
