/** Start a real bridge on port 0 with a fresh data directory, and talk to it over HTTP. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterAll } from 'vitest';
import { loadConfig } from '../../bridge/config.js';
import { Outbound } from '../../bridge/http/outbound.js';
import { OutboundAllow } from '../../bridge/http/ssrf.js';
import { createLogger } from '../../bridge/log.js';
import { Bridge, type BridgeInfo, type BridgeOptions } from '../../bridge/main.js';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './pg.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** Fake wallets, Lightning-address services and webhook receivers listen on loopback: tests allow it (SSRF tests set ''). */
export const TEST_OUTBOUND_ALLOW = '127.0.0.0/8,::1';

/** The guarded outbound client for backends a test builds directly (loopback allowed unless told otherwise). */
export function testOutbound(allow = TEST_OUTBOUND_ALLOW): Outbound {
  const parsed = OutboundAllow.parse(allow);
  if ('error' in parsed) throw new Error(parsed.error);
  return new Outbound({ allow: parsed.value });
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as-is (no JSON encoding); wins over `body`. */
  raw?: string | Uint8Array;
  /** An API key or token, sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
}

export interface TestBridge {
  url: string;
  info: BridgeInfo;
  bridge: Bridge;
  dataDir: string;
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  /** Create an account; returns its key and id. */
  signup(label?: string, extra?: Record<string, unknown>): Promise<{ key: string; userId: string; body: any }>;
  stop(): Promise<void>;
  /** Stop and delete the data directory (unless it was given). */
  close(): Promise<void>;
}

export async function request<T = any>(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let payload: string | Uint8Array | undefined;
  if (options.raw !== undefined) payload = options.raw;
  else if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body: payload ?? null });
  const text = await response.text();
  let body: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: response.status, headers: response.headers, body: body as T, text };
}

/** PostgreSQL bridges of this test file: one throwaway database, a schema per data directory (a restart on the same directory finds its data). */
let pgDatabase: Promise<TestDatabase> | undefined;
const schemaByDataDir = new Map<string, string>();
const dropDatabase = async () => {
  const db = pgDatabase;
  pgDatabase = undefined;
  schemaByDataDir.clear();
  await (await db)?.drop();
};
try {
  afterAll(dropDatabase);
} catch {
  // Imported outside a vitest test file (a child process a test starts): it drops nothing it did not make.
}

/** The DATABASE_URL of the PostgreSQL store that belongs with `dataDir` (made on first use). */
export async function testDatabaseUrl(dataDir: string): Promise<string> {
  pgDatabase ??= createTestDatabase();
  const db = await pgDatabase;
  let url = schemaByDataDir.get(dataDir);
  if (url === undefined) {
    url = await db.schemaUrl();
    schemaByDataDir.set(dataDir, url);
  }
  return url;
}

export async function startBridge(
  overrides: Record<string, unknown> = {},
  options: {
    dataDir?: string;
    bridge?: BridgeOptions;
    log?: Logger;
    engine?: 'journal' | 'postgres';
    /** The environment config reads (secrets named by settings, such as an x402 fee payer key); none by default. */
    env?: Record<string, string>;
  } = {},
): Promise<TestBridge> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'paywire-test-')));
  // PAYWIRE_TEST_ENGINE=postgres (the `postgres` test project) runs the same tests on PostgreSQL.
  const postgres = (options.engine ?? TEST_ENGINE) === 'postgres' && overrides['DATABASE_URL'] === undefined;
  const database = postgres ? { DATABASE_URL: await testDatabaseUrl(dataDir), DATABASE_POOL_SIZE: 4 } : {};
  const config = loadConfig({
    env: options.env ?? {},
    overrides: {
      PORT: 0,
      HOST: '127.0.0.1',
      MQTT_PORT: 0,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      ADMIN_TOKEN,
      RATE_LIMIT_PER_MINUTE: 0,
      LNURL_INVOICES_PER_ASSET_PER_MINUTE: 0,
      SIGNUPS_PER_HOUR: 0,
      OUTBOUND_ALLOW: TEST_OUTBOUND_ALLOW,
      ...database,
      ...overrides,
    },
  });
  const bridge = new Bridge(config, options.log ?? createLogger(config.logLevel), options.bridge);
  const info = await bridge.start();
  const url = info.url;
  const api = <T = any>(method: string, path: string, opts?: RequestOptions) => request<T>(url, method, path, opts);
  return {
    url,
    info,
    bridge,
    dataDir,
    request: api,
    async signup(label = 'test-bot', extra = {}) {
      const res = await api('POST', '/api/v1/accounts', { body: { label, ...extra } });
      if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${res.text}`);
      return { key: res.body.api_key as string, userId: res.body.user_id as string, body: res.body };
    },
    stop: () => bridge.stop(),
    async close() {
      await bridge.stop();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
