/**
 * The published facilitator clients against our facilitator over HTTP, unmodified: the `x402` v1
 * `useFacilitator` (`x402/verify`) and `@x402/core`'s `HTTPFacilitatorClient` (v2), each with a client
 * key (X-Client-ID / X-Client-Token) from `POST /x402/api/v1/clients`, calling `/verify`, `/settle` and
 * `/supported` under `/x402/api/v1`. Each buys a machine run end to end: the agent's payment for the
 * asset's own terms (its 402) is checked by the merchant-side client through our `/verify`, then bought
 * at the asset route, and the device gets it over MQTT. A second authorization is settled through our
 * `/settle` (the token moves); afterwards `/verify` refuses it (`nonce_already_used`, the check the
 * reference facilitator skips), and the asset route does not take a payment settled elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPaymentHeader,
  createSigner,
  ExactEvmClientScheme,
  HTTPFacilitatorClient,
  privateKeyToAccount,
  toClientEvmSigner,
  useFacilitator,
  x402Client,
  x402HTTPClient,
  type PaymentRequirementsV1,
} from '../../compat/clients.js';
import { client, clientHeaders, person } from '../api/helpers.js';
import { PRICE, sellingMachine, startWorld, unb64, type AgentWorld } from './setup.js';

let w: AgentWorld;
let auth: Record<string, string>;
beforeAll(async () => {
  w = await startWorld({ X402_SCRYPT_N: 1024, X402_LOGINS_PER_MINUTE: 0 });
  const merchant = await person(w.t, 'merchant');
  auth = clientHeaders(await client(w.t, merchant, { scope: 'verify,settle,supported' }));
});
afterAll(async () => {
  await w?.close();
});

const facilitatorUrl = () => `${w.t.url}/x402/api/v1`;

describe('x402 v1 useFacilitator against /x402/api/v1', () => {
  it('lists, verifies and settles; the verified payment buys the run; a settled one no longer verifies nor buys', async () => {
    const m = await sellingMachine(w);
    const facilitator = useFacilitator({
      url: facilitatorUrl() as `${string}://${string}`,
      createAuthHeaders: async () => ({ verify: auth, settle: auth, supported: auth }),
    });
    const supported = await facilitator.supported();
    expect(supported.kinds).toEqual(expect.arrayContaining([expect.objectContaining({ x402Version: 1, scheme: 'exact', network: 'base-sepolia' })]));

    const offered = (await w.t.request('GET', m.path)).body.accepts[0] as PaymentRequirementsV1;
    const signer = await createSigner('base-sepolia', w.chain.keys.payer);
    const header = await createPaymentHeader(signer, 1, offered);
    expect(await facilitator.verify(unb64(header), offered)).toMatchObject({ isValid: true, payer: w.chain.accounts.payer.address });
    const before = await w.chain.balanceOf(w.chain.accounts.merchant.address);
    const bought = await w.t.request('GET', m.path, { headers: { 'x-payment': header } });
    expect(bought.status, bought.text).toBe(200);
    expect(await m.nth(1)).toMatchObject({ payment_id: bought.body.payment_id, rail: 'x402', asset_id: m.assetId });
    expect(await w.chain.balanceOf(w.chain.accounts.merchant.address)).toBe(before + BigInt(PRICE));
    // The check the reference facilitator skips: a settled authorization no longer verifies.
    expect(await facilitator.verify(unb64(header), offered)).toMatchObject({ isValid: false, invalidReason: 'nonce_already_used' });

    const second = await createPaymentHeader(signer, 1, offered);
    const settled = await facilitator.settle(unb64(second), offered);
    expect(settled).toMatchObject({ success: true, network: 'base-sepolia', transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/) });
    expect(await w.chain.balanceOf(w.chain.accounts.merchant.address)).toBe(before + 2n * BigInt(PRICE));
    expect(await facilitator.settle(unb64(second), offered)).toMatchObject({ success: false });
    // Settled through the API for someone else's purpose: it buys no run here.
    const elsewhere = await w.t.request('GET', m.path, { headers: { 'x-payment': second } });
    expect([elsewhere.status, elsewhere.body.invalidReason]).toEqual([402, 'nonce_already_used']);
    await new Promise((r) => setTimeout(r, 200));
    expect(m.payments()).toHaveLength(1);
  });

  it('is refused without a client key', async () => {
    const anonymous = useFacilitator({ url: facilitatorUrl() as `${string}://${string}` });
    await expect(anonymous.supported()).rejects.toThrow();
  });
});

describe('@x402/core HTTPFacilitatorClient (v2) against /x402/api/v1', () => {
  it('getSupported lists both versions; verify, then the asset route runs the machine; settle moves the token once', async () => {
    const m = await sellingMachine(w);
    const facilitator = new HTTPFacilitatorClient({ url: facilitatorUrl(), createAuthHeaders: async () => ({ verify: auth, settle: auth, supported: auth }) });
    const supported = await facilitator.getSupported();
    expect(supported.kinds).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ x402Version: 2, scheme: 'exact', network: 'eip155:84532' }),
        expect.objectContaining({ x402Version: 1, scheme: 'exact', network: 'base-sepolia' }),
      ]),
    );
    const http = new x402HTTPClient(
      x402Client.fromConfig({
        schemes: [{ network: 'eip155:84532', client: new ExactEvmClientScheme(toClientEvmSigner(privateKeyToAccount(w.chain.keys.payer2))) }],
        spendControls: false,
      }),
    );
    const first = await w.t.request('GET', m.path);
    const required = http.getPaymentRequiredResponse((name) => first.headers.get(name), first.body);
    const payload = await http.createPaymentPayload(required);
    expect(await facilitator.verify(payload, payload.accepted)).toMatchObject({ isValid: true, payer: w.chain.accounts.payer2.address });
    const before = await w.chain.balanceOf(w.chain.accounts.merchant.address);
    const bought = await w.t.request('GET', m.path, { headers: http.encodePaymentSignatureHeader(payload) });
    expect(bought.status, bought.text).toBe(200);
    const receipt = http.getPaymentSettleResponse((name) => bought.headers.get(name));
    expect(receipt).toMatchObject({ success: true, network: 'eip155:84532', payer: w.chain.accounts.payer2.address });
    expect(await m.nth(1)).toMatchObject({ payment_id: bought.body.payment_id, rail: 'x402' });
    expect(await facilitator.verify(payload, payload.accepted)).toMatchObject({ isValid: false, invalidReason: 'nonce_already_used' });

    const another = await http.createPaymentPayload(required);
    const settled = await facilitator.settle(another, another.accepted);
    expect(settled).toMatchObject({ success: true, network: 'eip155:84532', transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/) });
    expect(settled.transaction).not.toBe(receipt.transaction);
    expect(await w.chain.balanceOf(w.chain.accounts.merchant.address)).toBe(before + 2n * BigInt(PRICE));
  });
});
