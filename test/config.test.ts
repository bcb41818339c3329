import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../bridge/config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has embedded defaults that need no other service', () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({
      port: 3000,
      mqttPort: 1883,
      mqttPortExplicit: false,
      mqttEnabled: true,
      dataDir: resolve('./data'),
      adminToken: undefined,
      publicUrl: undefined,
      rateLimitPerMinute: 60,
      signupsPerHour: 5,
      prefixes: { machines: '', x402: '/x402', license: '/license', lnurl: '/lnurl' },
      lightning: { kind: 'dev', settings: {}, secrets: {} },
      invoiceExpirySeconds: 600,
      journalFsync: true,
    });
  });

  it('reads the environment, over a config file, over the defaults', async () => {
    const file = join(dir, 'paywire.json');
    await writeFile(file, JSON.stringify({ PORT: 4000, MQTT_PORT: 1999, PUBLIC_URL: 'https://pay.example.com/', LOG_LEVEL: 'debug' }));
    const config = loadConfig({ env: { PAYWIRE_CONFIG: file, PORT: '5000', TRUST_PROXY: 'yes', WEBHOOK_RETRY_SCHEDULE_MS: '1000, 2000' } });
    expect(config.port).toBe(5000);
    expect(config.mqttPort).toBe(1999);
    expect(config.mqttPortExplicit).toBe(true);
    expect(config.publicUrl).toBe('https://pay.example.com');
    expect(config.logLevel).toBe('debug');
    expect(config.trustProxy).toBe(true);
    expect(config.webhookRetryScheduleMs).toEqual([1000, 2000]);
  });

  it('lists every problem at once, naming the setting and where it came from', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ PORTT: 1, MQTT_PORT: 'abc' }));
    const list = problems(() =>
      loadConfig({
        file,
        env: { PORT: '70000', ADMIN_TOKEN: 'short', PUBLIC_URL: 'ftp://x', LOG_LEVEL: 'loud', JOURNAL_FSYNC: 'maybe', X402_PREFIX: 'no-slash' },
      }),
    );
    expect(list).toHaveLength(8);
    expect(list.join('\n')).toMatch(/unknown setting PORTT/);
    expect(list.join('\n')).toMatch(/PORT \(environment\) must be an integer from 0 to 65535, got 70000/);
    expect(list.join('\n')).toMatch(/MQTT_PORT \(config file .*bad\.json\)/);
    expect(list.join('\n')).toMatch(/ADMIN_TOKEN .* at least 16/);
    expect(list.join('\n')).toMatch(/PUBLIC_URL/);
    expect(list.join('\n')).toMatch(/LOG_LEVEL/);
    expect(list.join('\n')).toMatch(/JOURNAL_FSYNC/);
    expect(list.join('\n')).toMatch(/X402_PREFIX/);
  });

  it('refuses a config file that is not a JSON object, and clashing prefixes', async () => {
    const file = join(dir, 'array.json');
    await writeFile(file, '[1,2]');
    expect(problems(() => loadConfig({ file, env: {} }))).toEqual([`config file ${file}: must hold a JSON object`]);
    expect(problems(() => loadConfig({ env: { X402_PREFIX: '/license' } }))[0]).toMatch(/must differ/);
    expect(problems(() => loadConfig({ env: { PAYWIRE_CONFIG: join(dir, 'missing.json') } }))[0]).toMatch(/ENOENT/);
  });

  it('accepts an empty prefix for a family that runs alone', () => {
    expect(loadConfig({ env: { X402_PREFIX: '', MACHINES_PREFIX: '/m' } }).prefixes).toEqual({
      machines: '/m',
      x402: '',
      license: '/license',
      lnurl: '/lnurl',
    });
    expect(problems(() => loadConfig({ env: { LNURL_PREFIX: '', MACHINES_PREFIX: '/m' } }))).toEqual(['LNURL_PREFIX must not be empty']);
  });
});
