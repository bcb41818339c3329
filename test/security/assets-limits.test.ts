/**
 * Assets per account are capped (MAX_ASSETS_PER_ACCOUNT live ones): a free signup cannot grow the
 * store, the asset list and every per-asset index without bound. Deleting one makes room again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../bridge/config.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';

const MAX = 3;
let t: TestBridge;

beforeAll(async () => {
  t = await startBridge({ MAX_ASSETS_PER_ACCOUNT: MAX });
});

afterAll(async () => {
  await t.close();
});

const create = (token: string, name: string) => t.request('POST', '/api/v1/assets', { token, body: { name, price_sats: 1 } });

describe('assets per account', () => {
  it('refuses an asset past MAX_ASSETS_PER_ACCOUNT with 409 asset_limit_reached, until one is deleted', async () => {
    const { key } = await t.signup('fleet');
    const made = [];
    for (let i = 0; i < MAX; i++) made.push(await create(key, `m${i}`));
    expect(made.map((r) => r.status)).toEqual(Array(MAX).fill(201));
    const over = await create(key, 'one too many');
    expect(over.status).toBe(409);
    expect(over.body).toEqual({ error: 'asset_limit_reached', message: expect.stringContaining(`${MAX}`) });
    const metrics = await t.request('GET', '/metrics', { token: ADMIN_TOKEN });
    expect(metrics.text).toContain('paywire_refusals_total{component="http",reason="asset_limit_reached"} 1');

    // Another account has its own allowance.
    const other = await t.signup('other-fleet');
    expect((await create(other.key, 'theirs')).status).toBe(201);

    expect((await t.request('DELETE', `/api/v1/assets/${made[0]?.body.asset_id}`, { token: key })).status).toBe(200);
    expect((await create(key, 'replacement')).status).toBe(201);
    expect((await t.request('GET', '/api/v1/assets', { token: key })).body.assets).toHaveLength(MAX);
  });

  it('holds under concurrent requests', async () => {
    const { key } = await t.signup('racer');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => create(key, `r${i}`)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(MAX);
    expect(results.filter((r) => r.status !== 201).every((r) => r.status === 409 && r.body.error === 'asset_limit_reached')).toBe(true);
  });

  it('defaults to 2,000 (a thousand-machine fleet fits in one account)', () => {
    expect(loadConfig({ env: {} }).maxAssetsPerAccount).toBe(2_000);
  });
});
