import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/bridge.js';
import { spawnCli, startCli } from './helpers/process.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = (dataDir: string) => ({ PORT: '0', HOST: '127.0.0.1', MQTT_PORT: '0', DATA_DIR: dataDir });

describe('npm start (bridge/cli.ts)', () => {
  it('starts with embedded defaults, prints where it listens, and the admin token only once', async () => {
    const data = join(dir, 'first');
    const first = await startCli(base(data));
    try {
      expect(first.stdout).toHaveLength(2);
      const tokenLine = first.stdout[0] as string;
      expect(tokenLine).toMatch(/^admin token \(shown once;.*\): adm_[0-9a-f]{48}$/);
      expect(first.stdout[1]).toMatch(
        /^paywire bridge listening on http:\/\/127\.0\.0\.1:\d+ \(MQTT on port \d+; public URL http:\/\/127\.0\.0\.1:\d+; data in .*first\)$/,
      );
      const token = tokenLine.split(': ').pop() as string;
      const secrets = JSON.parse(await readFile(join(data, 'secrets.json'), 'utf8'));
      expect(secrets.admin_token_sha256).toBe(createHash('sha256').update(token).digest('hex'));
      expect(JSON.stringify(secrets)).not.toContain(token);
      // It serves.
      const signup = await request(first.url, 'POST', '/api/v1/accounts', { body: { label: 'cli' } });
      expect(signup.status).toBe(201);
      first.child.kill('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });
    } finally {
      first.child.kill('SIGKILL');
    }

    const second = await startCli(base(data));
    try {
      expect(second.stdout).toHaveLength(1);
      expect(second.stdout[0]).toMatch(/^paywire bridge listening on /);
      second.child.kill('SIGINT');
      expect(await second.exited).toEqual({ code: 0, signal: null });
    } finally {
      second.child.kill('SIGKILL');
    }
  });

  it('uses ADMIN_TOKEN when set and prints no token', async () => {
    const proc = await startCli({ ...base(join(dir, 'configured')), ADMIN_TOKEN: 'a-configured-admin-token-123' });
    try {
      expect(proc.stdout.some((l) => l.includes('admin token'))).toBe(false);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  });

  it('lists every configuration problem and exits with status 2', async () => {
    const proc = spawnCli({ PORT: 'eighty', MQTT_PORT: '-1', PUBLIC_URL: 'nope', DATA_DIR: join(dir, 'never') });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    const err = proc.stderr();
    expect(err).toMatch(/^Invalid configuration:/);
    expect(err).toMatch(/PORT \(environment\)/);
    expect(err).toMatch(/MQTT_PORT \(environment\)/);
    expect(err).toMatch(/PUBLIC_URL \(environment\)/);
  });

  it('says clearly when PORT is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const proc = spawnCli({ ...base(join(dir, 'busy')), PORT: String(port) });
      expect((await proc.exited).code).toBe(1);
      expect(proc.stderr()).toMatch(new RegExp(`PORT ${port} is already in use`));
    } finally {
      blocker.close();
    }
  });
});
