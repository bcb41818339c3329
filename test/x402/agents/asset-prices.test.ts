/**
 * An asset's x402 prices over the API: validated at the edge (400 invalid_body naming the field), stored
 * checksummed, cleared by null, reset by PUT, and only offered at the purchase route for networks the
 * bridge runs (none here: X402_NETWORKS is empty, so only the Lightning invoice is offered).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../../helpers/bridge.js';

let t: TestBridge;
let key: string;
beforeAll(async () => {
  t = await startBridge();
  key = (await t.signup('x402-prices')).key;
});
afterAll(async () => {
  await t.close();
});

const PAY_TO = '0x209693bc6afc0c5328ba36faf03c514ef312287c';
const USDC = '0x036cbd53842c5426634e7929541ec2318f3dcf7e';
const terms = (prices: unknown[] = [{ network: 'base-sepolia', asset: USDC, amount: '10000' }], payTo: unknown = PAY_TO) => ({ pay_to: payTo, prices });
const create = (x402: unknown) => t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Vend', price_sats: 10, x402 } });

describe('asset x402 prices', () => {
  it('stores them checksummed, shows them, clears them with null and resets them with PUT', async () => {
    const made = await create(terms([{ network: 'eip155:84532', asset: USDC, amount: '10000' }]));
    expect(made.status).toBe(201);
    expect(made.body.x402).toEqual({
      pay_to: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
      prices: [{ network: 'eip155:84532', asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e', amount: '10000' }],
    });
    const id = made.body.asset_id as string;
    expect((await t.request('GET', `/api/v1/assets/${id}`, { token: key })).body.x402).toEqual(made.body.x402);
    // A PATCH of another field keeps them; null clears them.
    expect((await t.request('PATCH', `/api/v1/assets/${id}`, { token: key, body: { price_sats: 20 } })).body.x402).toEqual(made.body.x402);
    expect((await t.request('PATCH', `/api/v1/assets/${id}`, { token: key, body: { x402: null } })).body.x402).toBeNull();
    await t.request('PATCH', `/api/v1/assets/${id}`, { token: key, body: { x402: terms() } });
    expect((await t.request('PUT', `/api/v1/assets/${id}`, { token: key, body: { name: 'Vend', price_sats: 10 } })).body.x402).toBeNull();
    // No network runs here: the purchase route offers the Lightning invoice only.
    await t.request('PATCH', `/api/v1/assets/${id}`, { token: key, body: { x402: terms() } });
    const offer = await t.request('GET', `/api/v1/assets/${id}/x402`);
    expect(offer.status).toBe(402);
    expect(offer.body.accepts).toEqual([]);
    const v2 = JSON.parse(Buffer.from(offer.headers.get('payment-required') ?? '', 'base64').toString('utf8'));
    expect(v2.accepts.map((a: { network: string }) => a.network)).toEqual(['bip122:0f9188f13cb7b2c71f2a335e3a4fc328']);
  });

  it('refuses malformed terms with 400 invalid_body naming the field', async () => {
    const bad: [unknown, RegExp][] = [
      [terms(undefined, '0x123'), /pay_to/],
      [terms([]), /at least one price/],
      [terms(Array.from({ length: 9 }, (_, i) => ({ network: 'base-sepolia', asset: USDC, amount: String(i + 1) }))), /at most 8/],
      [terms([{ network: 'Base Sepolia', asset: USDC, amount: '1' }]), /network/],
      [terms([{ network: 'eip155:abc', asset: USDC, amount: '1' }]), /network/],
      [terms([{ network: 'base-sepolia', asset: 'USDC', amount: '1' }]), /asset/],
      [terms([{ network: 'base-sepolia', asset: USDC, amount: '0' }]), /amount/],
      [terms([{ network: 'base-sepolia', asset: USDC, amount: 10000 }]), /amount/],
      [terms([{ network: 'base-sepolia', asset: USDC, amount: '1'.repeat(78) }]), /amount/],
      [terms([{ network: 'base-sepolia', asset: USDC, amount: '1', extra: {} }]), /extra|Unrecognized/i],
      [
        terms([
          { network: 'base-sepolia', asset: USDC, amount: '1' },
          { network: 'base-sepolia', asset: USDC.toUpperCase().replace('0X', '0x'), amount: '2' },
        ]),
        /same network and token/,
      ],
      [{ prices: [] }, /pay_to/],
      ['free', /x402/],
    ];
    for (const [x402, message] of bad) {
      const res = await create(x402);
      expect(res.status, JSON.stringify(x402).slice(0, 80)).toBe(400);
      expect(res.body.error).toBe('invalid_body');
      expect(res.body.message).toMatch(message);
    }
  });
});
