/**
 * Device credentials per asset are capped (MAX_DEVICE_CREDENTIALS_PER_ASSET live ones): each is an
 * MQTT login with its own message allowance, so without a cap an account could multiply its MQTT
 * rate limit as it once multiplied its HTTP one with keys. Revoking one makes room again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../bridge/config.js';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

const MAX = 2;
let t: TestBridge;

beforeAll(async () => {
  t = await startBridge({ MAX_DEVICE_CREDENTIALS_PER_ASSET: MAX });
});

afterAll(async () => {
  await t.close();
});

describe('device credentials per asset', () => {
  it('refuses a credential past MAX_DEVICE_CREDENTIALS_PER_ASSET with 409 credential_limit_reached, until one is revoked', async () => {
    const { key } = await t.signup('devices');
    const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Vendor', price_sats: 1 } });
    const other = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Other', price_sats: 1 } });
    const path = (id: string) => `/api/v1/assets/${id}/device-credentials`;
    const issue = (id: string) => t.request('POST', path(id), { token: key, body: {} });

    const results = await Promise.all(Array.from({ length: MAX + 3 }, () => issue(asset.body.asset_id)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(MAX);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused.every((r) => r.status === 409 && r.body.error === 'credential_limit_reached')).toBe(true);
    expect(refused[0]?.body.message).toContain(`${MAX}`);

    // Each asset has its own allowance.
    expect((await issue(other.body.asset_id)).status).toBe(201);

    const first = results.find((r) => r.status === 201)?.body.credential_id as string;
    expect((await t.request('DELETE', `${path(asset.body.asset_id)}/${first}`, { token: key })).status).toBe(200);
    expect((await issue(asset.body.asset_id)).status).toBe(201);
  });

  it('defaults to 10', () => {
    expect(loadConfig({ env: {} }).maxDeviceCredentialsPerAsset).toBe(10);
  });
});
