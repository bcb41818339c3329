/**
 * Pending invoices cannot pile up: each LNURL callback makes an invoice and a pending payment that
 * is stored and polled until it expires, and the per-address limit does nothing against a payer
 * with many addresses. LNURL_INVOICES_PER_ASSET_PER_MINUTE caps one machine's invoices whoever
 * asks; other machines are not affected, and the refusal is LUD-06's error shape with a 429 and
 * Retry-After, counted in the metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { addAsset, allPayments, createMachine } from '../helpers/machine.js';

const PER_ASSET = 3;
let t: TestBridge;
beforeAll(async () => {
  t = await startBridge({ TRUST_PROXY: true, LNURL_CALLBACKS_PER_MINUTE: 100, LNURL_INVOICES_PER_ASSET_PER_MINUTE: PER_ASSET });
});
afterAll(() => t.close());

/** One callback, as if from `ip` (the bridge trusts X-Forwarded-For here). */
const callback = (linkUrl: string, ip: string) => fetch(`${linkUrl}/callback?amount=10000`, { headers: { 'x-forwarded-for': ip } });

describe('LNURL_INVOICES_PER_ASSET_PER_MINUTE', () => {
  it("caps one machine's invoices from any number of addresses, and only that machine's", async () => {
    const m = await createMachine(t.url, 'Flooded');
    const other = await addAsset(m, 'Neighbour');
    for (let i = 0; i < PER_ASSET; i++) expect((await callback(m.linkUrl, `203.0.113.${i + 1}`)).status).toBe(200);
    const refused = await callback(m.linkUrl, '203.0.113.99');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toEqual({ status: 'ERROR', reason: expect.stringMatching(/Too many invoices for this machine/) });
    expect((await callback(other.linkUrl, '203.0.113.99')).status).toBe(200);

    expect(await allPayments(m)).toHaveLength(PER_ASSET);
    const metrics = await t.request('GET', '/metrics', { token: ADMIN_TOKEN });
    expect(metrics.text).toMatch(/paywire_refusals_total\{component="lnurl",reason="rate_limited_asset"\} 1/);
  });
});
