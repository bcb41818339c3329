/**
 * The published facilitator clients against our facilitator over HTTP, unmodified: the `x402` v1
 * `useFacilitator` (`x402/verify`) and `@x402/core`'s `HTTPFacilitatorClient` (v2), each with a client
 * key (X-Client-ID / X-Client-Token) from `POST /x402/api/v1/clients`, calling `/verify`, `/settle` and
 * `/supported` under `/x402/api/v1`. Each buys a machine run end to end: the payment is made for the
 * asset's own terms (its 402), the merchant-side client verifies and settles it through our API, then
 * the settled authorization is presented at the asset route, which records the run once (the settlement
 * is not repeated: the facilitator answers its first transaction) and the device gets it over MQTT.
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
  it('verifies, settles and lists; the settled authorization then buys the run once; a replay to /verify is refused', async () => {
    const m = await sellingMachine(w);
    const facilitator = useFacilitator({
      url: facilitatorUrl() as `${string}://${string}`,
      createAuthHeaders: async () => ({ verify: auth, settle: auth, supported: auth }),
    });
    const supported = await facilitator.supported();
    expect(supported.kinds).toEqual(expect.arrayContaining([expect.objectContaining({ x402Version: 1, scheme: 'exact', network: 'base-sepolia' })]));

    const offered = (await w.t.request('GET', m.path)).body.accepts[0] as PaymentRequirementsV1;
    const header = await createPaymentHeader(createSigner('base-sepolia', w.chain.keys.payer) as never, 1, offered);
    const payload = unb64(header);
    const verdict = await facilitator.verify(payload, offered);
    expect(verdict).toMatchObject({ isValid: true, payer: w.chain.accounts.payer.address });

    const before = await w.chain.balanceOf(w.chain.accounts.merchant.address);
    const settled = await facilitator.settle(payload, offered);
    expect(settled).toMatchObject({ success: true, network: 'base-sepolia', transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/) });
    expect(await w.chain.balanceOf(w.chain.accounts.merchant.address)).toBe(before + BigInt(PRICE));

    // The authorization, settled through the API, buys the run at the asset route: no second transfer.
    const bought = await w.t.request('GET', m.path, { headers: { 'x-payment': header } });
    expect(bought.status, bought.text).toBe(200);
    expect(unb64(bought.headers.get('x-payment-response'))).toMatchObject({ success: true, transaction: settled.transaction });
    expect(await m.nth(1)).toMatchObject({ payment_id: bought.body.payment_id, rail: 'x402', asset_id: m.assetId });
    expect(await w.chain.balanceOf(w.chain.accounts.merchant.address)).toBe(before + BigInt(PRICE));
    // The check the reference facilitator skips: a settled authorization no longer verifies.
    expect(await facilitator.verify(payload, offered)).toMatchObject({ isValid: false, invalidReason: 'nonce_already_used' });
    expect((await w.t.request('GET', m.path, { headers: { 'x-payment': header } })).status).toBe(402);
  });

  it('is refused without a client key (401), and the key must carry the scope', async () => {
    const anonymous = useFacilitator({ url: facilitatorUrl() as `${string}://${string}` });
    await expect(anonymous.supported()).rejects.toThrow();
  });
});

describe('@x402/core HTTPFacilitatorClient (v2) against /x402/api/v1', () => {
  it('getSupported lists both versions; verify and settle a v2 payment; the asset route then runs the machine once', async () => {
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
    const verdict = await facilitator.verify(payload, payload.accepted);
    expect(verdict).toMatchObject({ isValid: true, payer: w.chain.accounts.payer2.address });
    const before = await w.chain.balanceOf(w.chain.accounts.merchant.address);
    const settled = await facilitator.settle(payload, payload.accepted);
    expect(settled).toMatchObject({ success: true, network: 'eip155:84532', payer: w.chain.accounts.payer2.address });
    expect(await w.chain.balanceOf(w.chain.accounts.merchant.address)).toBe(before + BigInt(PRICE));

    const bought = await w.t.request('GET', m.path, { headers: http.encodePaymentSignatureHeader(payload) });
    expect(bought.status, bought.text).toBe(200);
    expect(http.getPaymentSettleResponse((name) => bought.headers.get(name))).toMatchObject({ success: true, transaction: settled.transaction });
    expect(await m.nth(1)).toMatchObject({ payment_id: bought.body.payment_id, rail: 'x402' });
    expect(await w.chain.balanceOf(w.chain.accounts.merchant.address)).toBe(before + BigInt(PRICE));
    const again = await facilitator.verify(payload, payload.accepted);
    expect(again).toMatchObject({ isValid: false, invalidReason: 'nonce_already_used' });
  });
});
