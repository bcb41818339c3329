/**
 * Limits per account, not only per key: one account cannot multiply its allowance by making more
 * keys (every authenticated request takes from its key's bucket and from its account's), and it may
 * hold at most MAX_KEYS_PER_ACCOUNT live keys. Refusals are counted in the metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../bridge/config.js';
import { ADMIN_TOKEN, startBridge, type ApiResponse, type TestBridge } from '../helpers/bridge.js';

/** The refusals counter as `GET /metrics` shows it, for one reason. */
async function refusals(t: TestBridge, reason: string): Promise<number> {
  const res = await t.request('GET', '/metrics', { token: ADMIN_TOKEN });
  const line = res.text.split('\n').find((l) => l.startsWith(`paywire_refusals_total{component="http",reason="${reason}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('per-account rate limit', () => {
  const PER_KEY = 10;
  const PER_ACCOUNT = 20;
  let t: TestBridge;
  beforeAll(async () => {
    t = await startBridge({ RATE_LIMIT_PER_MINUTE: PER_KEY, RATE_LIMIT_PER_ACCOUNT_PER_MINUTE: PER_ACCOUNT });
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses an account whose keys together pass RATE_LIMIT_PER_ACCOUNT_PER_MINUTE, however many keys it has', async () => {
    const { key } = await t.signup('many-keys');
    const keys = [key];
    for (let i = 0; i < 4; i++) {
      const res = await t.request('POST', '/api/v1/accounts/me/keys', { token: key, body: { scope: 'read' } });
      expect(res.status, res.text).toBe(201);
      keys.push(res.body.api_key as string);
    }
    // Five keys with 10 each would be 50 a minute; the account's bucket holds 20 (4 already spent on
    // making the keys) and refills one every 3 s.
    const started = Date.now();
    let allowed = 0;
    let refused: ApiResponse | undefined;
    for (let i = 0; i < 60 && !refused; i++) {
      const res = await t.request('GET', '/api/v1/accounts/me', { token: keys[i % keys.length] as string });
      if (res.status === 200) allowed += 1;
      else refused = res;
    }
    const most = PER_ACCOUNT - 4 + Math.ceil(((Date.now() - started) / 60_000) * PER_ACCOUNT);
    expect(refused, 'never refused').toBeDefined();
    expect(allowed).toBeLessThanOrEqual(most);
    expect(refused?.status).toBe(429);
    expect(refused?.body).toEqual({ error: 'rate_limited', message: expect.stringContaining('account') });
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused?.headers.get('x-ratelimit-limit')).toBe(String(PER_ACCOUNT));
    expect(refused?.headers.get('x-ratelimit-remaining')).toBe('0');
    // Session tokens of the account's keys draw on the same account bucket.
    const exchanged = await t.request('POST', '/api/v1/auth/exchange', { body: { api_key: keys[4] } });
    expect([exchanged.status, exchanged.body.error]).toEqual([429, 'rate_limited']);
    expect(await refusals(t, 'rate_limited_account')).toBeGreaterThanOrEqual(2);

    // Another account is not affected.
    const other = await t.signup('calm');
    expect((await t.request('GET', '/api/v1/accounts/me', { token: other.key })).status).toBe(200);
  });

  it('still refuses one key at its own limit first, and counts that apart', async () => {
    const { key } = await t.signup('one-key');
    const statuses: number[] = [];
    for (let i = 0; i < PER_KEY + 1; i++) statuses.push((await t.request('GET', '/api/v1/accounts/me', { token: key })).status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(PER_KEY);
    expect(statuses.at(-1)).toBe(429);
    expect(await refusals(t, 'rate_limited_key')).toBeGreaterThanOrEqual(1);
  });

  it('defaults to twice the per-key limit, and is off when the per-key limit is', () => {
    const base = { DATA_DIR: '/nonexistent' };
    expect(loadConfig({ env: { ...base } }).rateLimitPerAccountPerMinute).toBe(120);
    expect(loadConfig({ env: { ...base, RATE_LIMIT_PER_MINUTE: '30' } }).rateLimitPerAccountPerMinute).toBe(60);
    expect(loadConfig({ env: { ...base, RATE_LIMIT_PER_MINUTE: '0' } }).rateLimitPerAccountPerMinute).toBe(0);
    expect(loadConfig({ env: { ...base, RATE_LIMIT_PER_ACCOUNT_PER_MINUTE: '500' } }).rateLimitPerAccountPerMinute).toBe(500);
    expect(loadConfig({ env: { ...base } }).maxKeysPerAccount).toBe(10);
  });
});

describe('live keys per account', () => {
  const MAX = 3;
  let t: TestBridge;
  beforeAll(async () => {
    t = await startBridge({ MAX_KEYS_PER_ACCOUNT: MAX });
  });
  afterAll(async () => {
    await t.close();
  });

  const create = (token: string) => t.request('POST', '/api/v1/accounts/me/keys', { token, body: { scope: 'read' } });

  it('refuses a key past MAX_KEYS_PER_ACCOUNT with 409 key_limit_reached, until one is revoked', async () => {
    const { key } = await t.signup('key-hoarder');
    const first = await create(key);
    const second = await create(key);
    expect([first.status, second.status]).toEqual([201, 201]);
    const over = await create(key);
    expect(over.status).toBe(409);
    expect(over.body).toEqual({ error: 'key_limit_reached', message: expect.stringContaining(`${MAX}`) });
    expect((await t.request('GET', '/api/v1/accounts/me/keys', { token: key })).body.keys).toHaveLength(MAX);
    expect(await refusals(t, 'key_limit_reached')).toBeGreaterThanOrEqual(1);

    // Rotation replaces a key: it is allowed at the cap and leaves the count alone.
    const rotated = await t.request('POST', '/api/v1/accounts/me/rotate-key', { token: key });
    expect(rotated.status).toBe(200);
    const newKey = rotated.body.api_key as string;
    expect((await create(newKey)).status).toBe(409);

    const revoked = await t.request('DELETE', `/api/v1/accounts/me/keys/${first.body.key_id}`, { token: newKey });
    expect(revoked.status).toBe(200);
    expect((await create(newKey)).status).toBe(201);
  });

  it('holds under concurrent requests', async () => {
    const { key } = await t.signup('racer');
    const results = await Promise.all(Array.from({ length: 8 }, () => create(key)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(MAX - 1);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.error === 'key_limit_reached')).toBe(true);
    expect((await t.request('GET', '/api/v1/accounts/me/keys', { token: key })).body.keys).toHaveLength(MAX);
  });
});
