/**
 * Benchmark `license`: validations per second through `POST /license/v1/validate` beside a no-op route
 * on the same server (the same family middleware: error shape, JSON body parser, router), in the same
 * run, one request at a time and 32 at a time, over keep-alive `node:http` clients. Against a real
 * listening `Bridge` (JOURNAL_FSYNC on, rate limits off, MQTT off), on the journal and, when a server
 * is reachable, on PostgreSQL. Validations: a key with its product slug (no fingerprint: no write), and
 * with a fingerprint holding a seat (the heartbeat read). Every answer is checked (`ok: true`).
 * Goal: validate at least 0.7 of the no-op's rate. The client runs in the bridge's process.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Router } from '@koa/router';
import pg from 'pg';
import { loadConfig } from '../bridge/config.js';
import { createLogger } from '../bridge/log.js';
import { Bridge } from '../bridge/main.js';
import { send } from './http.js';

const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const CONCURRENCY = 32;
const COUNTS = { c1: 1_000, c32: 4_000 };
const WARM = 500;
const ROUNDS = 3;
const DATABASE_URL = process.env['PAYWIRE_BENCH_DATABASE_URL'] || process.env['PAYWIRE_TEST_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';

interface Target {
  name: string;
  path: string;
  body: string;
}

async function measure(agent: Agent, base: URL, target: Target, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      next += 1;
      const reply = await send({ agent, base, method: 'POST', path: target.path, body: target.body });
      if (reply.status !== 200 || !reply.text.startsWith('{"ok":true')) throw new Error(`${target.name}: ${reply.status} ${reply.text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - started) / 1000);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function runEngine(engine: 'journal' | 'postgres', databaseUrl?: string): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'paywire-bench-license-'));
  const config = loadConfig({
    env: {},
    overrides: {
      PORT: 0,
      HOST: '127.0.0.1',
      MQTT_ENABLED: false,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      ADMIN_TOKEN,
      RATE_LIMIT_PER_MINUTE: 0,
      LICENSE_VALIDATE_PER_MINUTE: 0,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    },
  });
  const noop = (router: Router) => {
    router.post('/bench/noop', (ctx) => {
      ctx.body = { ok: true };
    });
  };
  const bridge = new Bridge(config, createLogger('silent'), { licenseRoutes: [noop] });
  const info = await bridge.start();
  const base = new URL(info.url);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const admin = (method: string, path: string, body: unknown) =>
      send({ agent, base, method, path: `/license${path}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify(body) });
    await admin('POST', '/v1/admin/products', { slug: 'bench-app', name: 'Bench app', price_sats: 1000 });
    const lic = JSON.parse((await admin('POST', '/v1/admin/licenses', { product_slug: 'bench-app', max_machines: 5 })).text) as { license_key: string };
    // Some other licenses in the store, so lookups are not in an empty table.
    for (let i = 0; i < 200; i++) await admin('POST', '/v1/admin/licenses', { product_slug: 'bench-app' });
    const body = JSON.stringify({ key: lic.license_key, product_slug: 'bench-app' });
    const targets: Target[] = [
      { name: 'no-op POST', path: '/license/bench/noop', body },
      { name: 'validate', path: '/license/v1/validate', body },
      {
        name: 'validate + fingerprint',
        path: '/license/v1/validate',
        body: JSON.stringify({ key: lic.license_key, product_slug: 'bench-app', fingerprint: 'bench-machine' }),
      },
    ];
    for (const t of targets) await measure(agent, base, t, WARM, CONCURRENCY);
    const rates = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved, so drift (GC, other load) falls on all alike.
      for (const [label, count, c] of [
        ['1 at a time', COUNTS.c1, 1],
        ['32 at a time', COUNTS.c32, CONCURRENCY],
      ] as const) {
        for (const t of targets) {
          const key = `${label}|${t.name}`;
          rates.set(key, [...(rates.get(key) ?? []), await measure(agent, base, t, count, c)]);
        }
      }
    }
    console.log(`\n${engine === 'journal' ? 'journal (embedded)' : 'PostgreSQL'}: requests per second, median of ${ROUNDS} rounds`);
    for (const label of ['1 at a time', '32 at a time']) {
      const noopRate = median(rates.get(`${label}|no-op POST`) as number[]);
      const line = targets.map((t) => {
        const r = median(rates.get(`${label}|${t.name}`) as number[]);
        return `${t.name} ${Math.round(r).toLocaleString('en-US')}/s${t.name === 'no-op POST' ? '' : ` (${(r / noopRate).toFixed(2)} of no-op)`}`;
      });
      console.log(`  ${label.padEnd(13)} ${line.join(' · ')}`);
    }
  } finally {
    agent.destroy();
    await bridge.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  await runEngine('journal');
  const name = `paywire_bench_license_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await admin.connect();
  } catch (err) {
    console.log(`\nPostgreSQL: skipped (no server at ${new URL(DATABASE_URL).host}: ${(err as Error).message})`);
    return;
  }
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(DATABASE_URL);
    url.pathname = `/${name}`;
    await runEngine('postgres', url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}
