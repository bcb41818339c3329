/**
 * The facilitator end to end, over HTTP against a real bridge whose x402 family runs the real
 * facilitator on a local EVM chain (test/helpers/chain.ts): status, networks, the token registry
 * (config tokens seeded, admin changes honoured by verify and kept across a restart), /supported,
 * /verify and /settle answers passing through (v1 object and base64 payloads, v2), the settlement
 * metrics computed from what /settle answered, and the request metrics of the client key's owner.
 */
import { getAddress, type Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBridge } from '../../helpers/bridge.js';
import { startChain, type TestChain } from '../../helpers/chain.js';
import { signAuthorization, v1Body, v2Body } from '../../helpers/eip3009.js';
import { ADMIN_TOKEN, adminPerson, client, clientHeaders, expectX402Error, person, startX402Bridge, type Client, type Person } from './helpers.js';

const KEY_ENV = 'TEST_X402_API_FEE_PAYER_KEY';

let chain: TestChain;
let b: TestBridge;
let owner: Person;
let key: Client;

function networks(c: TestChain): string {
  return JSON.stringify([
    {
      network: 'base-sepolia',
      chainId: c.chainId,
      rpcUrl: c.url,
      feePayerKeyEnv: KEY_ENV,
      assets: [{ address: c.token, symbol: 'USDC', decimals: 6, name: 'USDC', version: '2' }],
    },
  ]);
}

beforeAll(async () => {
  chain = await startChain();
  // The facilitator reads the fee payer's key from the environment variable the config names.
  process.env[KEY_ENV] = chain.keys.feePayer;
  b = await startX402Bridge({ X402_NETWORKS: networks(chain) });
  owner = await person(b, 'merchant');
  key = await client(b, owner);
}, 60_000);
afterAll(async () => {
  await b?.close();
  await chain?.stop();
});

const pay = async (value: bigint, extra: { to?: Address; token?: Address } = {}) =>
  signAuthorization({ key: chain.keys.payer, token: extra.token ?? chain.token, to: extra.to ?? chain.accounts.merchant.address, value });
const post = (path: string, body: unknown, c: Client = key) => b.request('POST', `/x402/api/v1/${path}`, { headers: clientHeaders(c), body });

describe('status, networks, assets, supported', () => {
  it('GET /api/v1/status: real uptime, database health, the network with its latest block and fee payer', async () => {
    const res = await b.request('GET', '/x402/api/v1/status');
    expect(res.status, res.text).toBe(200);
    const d = res.body.data;
    expect(Object.keys(d).sort()).toEqual(['database', 'networks', 'status', 'uptime', 'version']);
    expect(d.status).toBe('healthy');
    expect(d.database).toEqual({ status: 'healthy' });
    expect(Number.isInteger(d.uptime) && d.uptime >= 0).toBe(true);
    const v1 = d.networks.find((n: { network: string }) => n.network === 'base-sepolia');
    expect(v1).toMatchObject({ x402Version: 1, scheme: 'exact', status: 'active', feePayer: chain.accounts.feePayer.address });
    expect(v1.block).toBe(Number(await chain.client.getBlockNumber()));
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await b.request('GET', '/x402/api/v1/status')).body.data.uptime).toBeGreaterThanOrEqual(1);
  });

  it('GET /api/v1/networks {kinds}; /networks/:id bare with extra.feePayer; an unknown id is the documented 400', async () => {
    const list = await b.request('GET', '/x402/api/v1/networks');
    expect(Object.keys(list.body)).toEqual(['kinds']);
    expect(list.body.kinds.map((k: { network: string }) => k.network)).toEqual(expect.arrayContaining(['base-sepolia', 'eip155:84532']));
    for (const k of list.body.kinds) expect(Object.keys(k).sort()).toEqual(['block', 'feePayer', 'network', 'scheme', 'status', 'x402Version']);
    const one = await b.request('GET', '/x402/api/v1/networks/base-sepolia');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      x402Version: 1,
      scheme: 'exact',
      network: 'base-sepolia',
      status: 'active',
      extra: { feePayer: chain.accounts.feePayer.address },
    });
    expect((await b.request('GET', '/x402/api/v1/networks/eip155:84532')).body.x402Version).toBe(2);
    const unknown = await b.request('GET', '/x402/api/v1/networks/base');
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ code: 'INVALID_REQUEST', message: 'unsupported network', details: '' });
  });

  it('GET /api/v1/assets lists the configured token (seeded into the registry), checksummed', async () => {
    const res = await b.request('GET', '/x402/api/v1/assets');
    expect(res.body.data).toContainEqual({
      id: expect.any(Number),
      network: 'base-sepolia',
      asset: getAddress(chain.token),
      symbol: 'USDC',
      decimals: 6,
      active: true,
    });
  });

  it('GET /api/v1/supported lists both versions’ kinds and the fee payer as signer', async () => {
    const res = await b.request('GET', '/x402/api/v1/supported', { headers: clientHeaders(key) });
    expect(res.status, res.text).toBe(200);
    expect(res.body.kinds).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ x402Version: 1, scheme: 'exact', network: 'base-sepolia' }),
        expect.objectContaining({ x402Version: 2, scheme: 'exact', network: 'eip155:84532' }),
      ]),
    );
    expect(res.body.signers).toEqual({ 'eip155:*': [chain.accounts.feePayer.address] });
  });
});

describe('verify and settle', () => {
  it('verify passes the facilitator’s answers through: valid (object, base64, v2) and invalid with its reason', async () => {
    const payment = await pay(1_000n);
    const r = { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 1_000n };
    for (const body of [v1Body(payment, r), v1Body(payment, r, { base64: true }), v2Body(payment, r)]) {
      const res = await post('verify', body);
      expect(res.status, res.text).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['cachedResult', 'invalidReason', 'isValid', 'payer', 'timestamp']);
      expect(res.body).toMatchObject({ isValid: true, invalidReason: '', payer: chain.accounts.payer.address });
    }
    const wrongRecipient = await post('verify', v1Body(payment, { ...r, payTo: chain.accounts.payer2.address }));
    expect(wrongRecipient.status).toBe(200);
    expect(wrongRecipient.body.isValid).toBe(false);
    expect(wrongRecipient.body.invalidReason).not.toBe('');
  });

  it('malformed bodies: 400 INVALID_REQUEST; an undecodable payload: 400 INVALID_PAYLOAD', async () => {
    expectX402Error(await post('verify', {}), 400, 'INVALID_REQUEST');
    expectX402Error(await post('settle', { paymentPayload: 5, paymentRequirements: {} }), 400, 'INVALID_REQUEST');
    expectX402Error(await post('settle', { paymentPayload: 'x', paymentRequirements: {} }), 400, 'INVALID_PAYLOAD');
    const payment = await pay(1n);
    const body = v1Body(payment, { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 1n }) as { paymentPayload: Record<string, unknown> };
    const garbled = { ...body, paymentPayload: { ...body.paymentPayload, payload: '!!!not base64!!!' } };
    const res = await post('verify', garbled);
    expectX402Error(res, 400, 'INVALID_PAYLOAD');
    expect(res.body.message).toBe('Invalid payment payload');
  });

  it('settle moves the tokens, a repeat answers the same transaction, and the x402 metrics count it once', async () => {
    const before = await chain.balanceOf(chain.accounts.merchant.address);
    const payment = await pay(2_500n);
    const body = v1Body(payment, { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 2_500n });
    const first = await post('settle', body);
    expect(first.status, first.text).toBe(200);
    expect(Object.keys(first.body)).toEqual(expect.arrayContaining(['success', 'transaction', 'errorReason', 'network', 'payer', 'blockNumber', 'timestamp']));
    expect(first.body).toMatchObject({ success: true, errorReason: '', network: 'base-sepolia', payer: chain.accounts.payer.address });
    expect(first.body.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect(first.body.blockNumber).toBeGreaterThan(0);
    expect(await chain.balanceOf(chain.accounts.merchant.address)).toBe(before + 2_500n);
    const again = await post('settle', body);
    expect(again.body.transaction).toBe(first.body.transaction);
    expect(await chain.balanceOf(chain.accounts.merchant.address)).toBe(before + 2_500n);

    const summary = await b.request('GET', '/x402/api/v1/x402-metrics/summary', { token: owner.access });
    expect(summary.status, summary.text).toBe(200);
    expect(summary.body.data).toMatchObject({ settlements: 1, succeeded: 1, failed: 0, pending: 0 });
    expect(summary.body.data.networks).toEqual([
      {
        network: 'base-sepolia',
        asset: getAddress(chain.token),
        settlements: 1,
        succeeded: 1,
        failed: 0,
        pending: 0,
        amount: '2500',
        // The gas the fee payer paid for the transfer (wei), from its receipt.
        fees: expect.stringMatching(/^[1-9]\d*$/),
      },
    ]);
    expect(first.body).not.toHaveProperty('fee');
    const today = new Date().toISOString().slice(0, 10);
    const daily = await b.request('GET', `/x402/api/v1/x402-metrics/daily?from=${today}&to=${today}`, { token: owner.access });
    expect(daily.body.data).toEqual([expect.objectContaining({ date: today, network: 'base-sepolia', amount: '2500', settlements: 1 })]);
    const monthly = await b.request('GET', '/x402/api/v1/x402-metrics/monthly', { token: owner.access });
    expect(monthly.body.data).toEqual([expect.objectContaining({ month: today.slice(0, 7), amount: '2500' })]);
    // Out of range: nothing.
    expect((await b.request('GET', '/x402/api/v1/x402-metrics/daily?from=2020-01-01&to=2020-01-31', { token: owner.access })).body.data).toEqual([]);
    // Another user sees none of it; an admin user sees it.
    const stranger = await person(b);
    expect((await b.request('GET', '/x402/api/v1/x402-metrics/summary', { token: stranger.access })).body.data.settlements).toBe(0);
    const admin = await adminPerson(b);
    const all = await b.request('GET', '/x402/api/v1/x402-metrics/summary', { token: admin.access });
    expect(all.status, all.text).toBe(200);
    expect(all.body.data.settlements).toBeGreaterThanOrEqual(1);
  });

  it('a failed settle is counted as failed with no amount', async () => {
    const stranger = await person(b);
    const c = await client(b, stranger);
    const payment = await pay(10n, { to: chain.accounts.payer2.address });
    const res = await post('settle', v1Body(payment, { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 10n }), c);
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(false);
    expect(res.body.errorReason).not.toBe('');
    const summary = await b.request('GET', '/x402/api/v1/x402-metrics/summary', { token: stranger.access });
    expect(summary.body.data).toMatchObject({ settlements: 1, succeeded: 0, failed: 1 });
    expect(summary.body.data.networks[0].amount).toBe('0');
  });

  it('the request metrics count the owner’s client-key calls by route', async () => {
    const merchant = await person(b);
    const c = await client(b, merchant);
    const payment = await pay(1n);
    const body = v1Body(payment, { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 1n });
    for (let i = 0; i < 3; i++) await post('verify', body, c);
    await post('verify', {}, c);
    await b.request('GET', '/x402/api/v1/supported', { headers: clientHeaders(c) });
    const summary = await b.request('GET', '/x402/api/v1/metrics/summary', { token: merchant.access });
    const verify = summary.body.data.routes.find((r: { route: string }) => r.route === 'POST /api/v1/verify');
    expect(verify).toMatchObject({ requests: 4, errors: 1 });
    expect(summary.body.data.routes.find((r: { route: string }) => r.route === 'GET /api/v1/supported')).toMatchObject({ requests: 1, errors: 0 });
    const today = new Date().toISOString().slice(0, 10);
    const daily = await b.request('GET', '/x402/api/v1/metrics/daily', { token: merchant.access });
    expect(daily.body.data).toEqual([{ date: today, requests: expect.any(Number), errors: 1, avgLatencyMs: expect.any(Number) }]);
    expect(daily.body.data[0].requests).toBeGreaterThanOrEqual(5);
    const monthly = await b.request('GET', '/x402/api/v1/metrics/monthly', { token: merchant.access });
    expect(monthly.body.data[0].month).toBe(today.slice(0, 7));
    expect((await b.request('GET', '/x402/api/v1/metrics/daily?from=2020-01-01&to=2020-02-01', { token: merchant.access })).body.data).toEqual([]);
    expectX402Error(await b.request('GET', '/x402/api/v1/metrics/daily?from=2026-02-01&to=2026-01-01', { token: merchant.access }), 400, 'INVALID_REQUEST');
    expectX402Error(await b.request('GET', '/x402/api/v1/metrics/daily?from=yesterday', { token: merchant.access }), 400, 'INVALID_REQUEST');
  });
});

describe('the registry decides what the facilitator accepts', () => {
  it('an asset the admin deactivates stops verifying; a restart keeps the admin’s choice; reactivating restores it', async () => {
    const payment = await pay(5n);
    const body = v1Body(payment, { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 5n });
    expect((await post('verify', body)).body.isValid).toBe(true);
    const off = await b.request('POST', '/x402/admin/assets', {
      token: ADMIN_TOKEN,
      body: { network: 'base-sepolia', asset: chain.token, symbol: 'USDC', decimals: 6, active: false, name: 'USDC', version: '2' },
    });
    expect(off.status, off.text).toBe(200);
    // A fresh payment (verify answers for the same payload are reused for a few seconds).
    const refused = await post('verify', v1Body(await pay(7n), { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 7n }));
    expect(refused.body.isValid).toBe(false);
    expect((await b.request('GET', '/x402/api/v1/assets')).body.data.map((a: { asset: string }) => a.asset)).not.toContain(getAddress(chain.token));

    // Restart on the same data: config seeding does not undo the admin's change.
    await b.stop();
    b = await startX402Bridge({ X402_NETWORKS: networks(chain) }, { dataDir: b.dataDir });
    expect((await b.request('GET', '/x402/api/v1/assets')).body.data.map((a: { asset: string }) => a.asset)).not.toContain(getAddress(chain.token));
    const on = await b.request('POST', '/x402/admin/assets', {
      token: ADMIN_TOKEN,
      body: { network: 'eip155:84532', asset: chain.token, symbol: 'USDC', decimals: 6, active: true, name: 'USDC', version: '2' },
    });
    expect(on.status).toBe(200);
    expect(on.body.data).toMatchObject({ network: 'base-sepolia', active: true });
    // Users, keys and sessions survived the restart too.
    expect((await post('verify', v1Body(await pay(6n), { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 6n }))).body.isValid).toBe(true);
  });

  it('an unregistered token is refused by verify', async () => {
    const payment = await pay(5n, { token: chain.otherToken });
    const res = await post('verify', v1Body(payment, { asset: chain.otherToken, payTo: chain.accounts.merchant.address, amount: 5n }));
    expect(res.status).toBe(200);
    expect(res.body.isValid).toBe(false);
  });
});

describe('a settlement answered pending', () => {
  it('is counted pending, then as settled once the facilitator confirms it (its reconciler, after the block is mined)', async () => {
    // A bridge of its own, with a short receipt wait and its own fee payer (the deployer, funded with ETH).
    process.env['TEST_X402_API_FEE_PAYER_KEY_2'] = chain.keys.deployer;
    const slow = await startX402Bridge({
      X402_NETWORKS: JSON.stringify([
        {
          network: 'base-sepolia',
          chainId: chain.chainId,
          rpcUrl: chain.url,
          feePayerKeyEnv: 'TEST_X402_API_FEE_PAYER_KEY_2',
          receiptTimeoutMs: 300,
          assets: [{ address: chain.token, symbol: 'USDC', decimals: 6, name: 'USDC', version: '2' }],
        },
      ]),
    });
    await chain.setAutomine(false);
    try {
      const merchant = await person(slow);
      const c = await client(slow, merchant);
      const payment = await pay(777n);
      const answer = await slow.request('POST', '/x402/api/v1/settle', {
        headers: clientHeaders(c),
        body: v1Body(payment, { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 777n }),
      });
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body).toMatchObject({ success: false, pending: true, transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/) });
      const summary = () => slow.request('GET', '/x402/api/v1/x402-metrics/summary', { token: merchant.access });
      expect((await summary()).body.data).toMatchObject({ settlements: 1, succeeded: 0, pending: 1, failed: 0 });
      expect((await summary()).body.data.networks[0].amount).toBe('777');
      await chain.mine();
      const deadline = Date.now() + 20_000;
      let data = (await summary()).body.data;
      while (data.succeeded === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        data = (await summary()).body.data;
      }
      expect(data).toMatchObject({ settlements: 1, succeeded: 1, pending: 0, failed: 0 });
      // Its gas, known once mined, is counted then.
      expect(data.networks[0].fees).toMatch(/^[1-9]\d*$/);
    } finally {
      await chain.setAutomine(true);
      await slow.close();
    }
  }, 45_000);
});
