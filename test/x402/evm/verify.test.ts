/**
 * /verify against a real local chain, x402 v1 and v2: a valid payment, and every way one is refused with the
 * reference facilitator's reason; ERC-1271 and ERC-6492 wallets; the answer cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  counterfactualWallet,
  nowSeconds,
  randomNonce,
  signAuthorization,
  transferOnChain,
  v1Body,
  v2Body,
  type SignedPayment,
} from '../../helpers/eip3009.js';
import { request, startFacilitator, startHarness, type Harness } from './setup.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const PRICE = 10_000n;
const versions = [
  { name: 'v1', body: v1Body, network: 'base-sepolia' },
  { name: 'v2', body: v2Body, network: 'eip155:84532' },
] as const;

const pay = (over: Partial<Parameters<typeof signAuthorization>[0]> = {}) =>
  signAuthorization({ key: h.chain.keys.payer, token: h.chain.token, to: h.chain.accounts.merchant.address, value: PRICE, ...over });

describe.each(versions)('verify, x402 $name', ({ body, network }) => {
  const requirements = (over: { asset?: Address; payTo?: Address; amount?: bigint; network?: string } = {}) => ({
    asset: h.chain.token,
    payTo: h.chain.accounts.merchant.address,
    amount: PRICE,
    network,
    ...over,
  });
  const verify = async (payment: SignedPayment, over: Parameters<typeof requirements>[0] = {}) =>
    h.facilitator.verify(request(body(payment, requirements(over))));

  it('accepts a valid payment and names the payer', async () => {
    const answer = await verify(await pay());
    expect(answer).toEqual({ isValid: true, invalidReason: '', payer: h.chain.accounts.payer.address, timestamp: expect.any(Number), cachedResult: false });
    expect(Math.abs(answer.timestamp - Date.now() / 1000)).toBeLessThan(5);
  });

  it('refuses a signature by someone else', async () => {
    const payment = await pay({ key: h.chain.keys.payer2, from: h.chain.accounts.payer.address });
    expect(await verify(payment)).toMatchObject({
      isValid: false,
      invalidReason: 'invalid_exact_evm_payload_signature',
      payer: h.chain.accounts.payer.address,
    });
  });

  it('refuses a signature over other fields (value changed after signing)', async () => {
    const payment = await pay();
    payment.authorization.value = (PRICE + 1n).toString();
    expect((await verify(payment, { amount: PRICE + 1n })).invalidReason).toBe('invalid_exact_evm_payload_signature');
  });

  it('refuses a signature for another token domain', async () => {
    const payment = await pay({ domain: { name: 'USD Coin', version: '2' } });
    expect((await verify(payment)).invalidReason).toBe('invalid_exact_evm_payload_signature');
  });

  it('refuses a payment to someone other than payTo', async () => {
    const payment = await pay({ to: h.chain.accounts.payer2.address });
    expect((await verify(payment)).invalidReason).toBe('invalid_exact_evm_payload_recipient_mismatch');
  });

  it('refuses too little', async () => {
    const payment = await pay({ value: PRICE - 1n });
    expect((await verify(payment)).invalidReason).toBe(
      network === 'base-sepolia' ? 'invalid_exact_evm_payload_authorization_value' : 'invalid_exact_evm_payload_authorization_value_mismatch',
    );
  });

  it('refuses an expired authorization, and one expiring within 6 seconds', async () => {
    expect((await verify(await pay({ validBefore: nowSeconds() - 1n }))).invalidReason).toBe('invalid_exact_evm_payload_authorization_valid_before');
    expect((await verify(await pay({ validBefore: nowSeconds() + 3n }))).invalidReason).toBe('invalid_exact_evm_payload_authorization_valid_before');
  });

  it('refuses an authorization not yet valid', async () => {
    expect((await verify(await pay({ validAfter: nowSeconds() + 120n }))).invalidReason).toBe('invalid_exact_evm_payload_authorization_valid_after');
  });

  it('refuses a payer whose balance is too small', async () => {
    const poor = h.chain.keys.broke;
    const payment = await pay({ key: poor });
    expect(await verify(payment)).toMatchObject({ isValid: false, invalidReason: 'insufficient_funds', payer: privateKeyToAccount(poor).address });
  });

  it('refuses a nonce the token has already used', async () => {
    const payment = await pay();
    // The payer's authorization is used on chain by someone else (here: the deployer, submitting it directly).
    await transferOnChain(h.chain, payment);
    expect((await verify(payment)).invalidReason).toBe('nonce_already_used');
  });

  it('refuses an unknown network', async () => {
    const payment = await pay();
    expect((await verify(payment, { network: network === 'base-sepolia' ? 'base' : 'eip155:8453' })).invalidReason).toBe('invalid_network');
  });

  it('refuses an asset that is not registered', async () => {
    const payment = await pay({ token: h.chain.otherToken, domain: { name: 'Other', version: '1' } });
    expect((await verify(payment, { asset: h.chain.otherToken })).invalidReason).toBe('invalid_payment_requirements');
  });

  it('accepts an ERC-1271 smart wallet signature (its owner signs)', async () => {
    const payment = await pay({ key: h.chain.keys.walletOwner, from: h.chain.smartWallet });
    expect(await verify(payment)).toMatchObject({ isValid: true, payer: h.chain.smartWallet });
    const forged = await pay({ key: h.chain.keys.payer2, from: h.chain.smartWallet });
    expect((await verify(forged)).invalidReason).toBe('invalid_exact_evm_payload_signature');
  });

  it('accepts an ERC-6492 signature of a wallet not deployed yet', async () => {
    const wallet = await counterfactualWallet(h.chain, h.chain.accounts.walletOwner.address);
    await h.chain.mint(wallet.address, PRICE);
    const payment = await pay({ key: h.chain.keys.walletOwner, from: wallet.address });
    payment.signature = wallet.wrap(payment.signature);
    expect(await verify(payment)).toMatchObject({ isValid: true, payer: wallet.address });
    expect(await h.chain.client.getCode({ address: wallet.address })).toBeUndefined();
    const forged = await pay({ key: h.chain.keys.payer2, from: wallet.address });
    forged.signature = wallet.wrap(forged.signature);
    expect((await verify(forged)).invalidReason).toBe('invalid_exact_evm_payload_signature');
  });

  it('answers from memory for the same payload moments later (cachedResult)', async () => {
    const payment = await pay();
    const first = await verify(payment);
    const second = await verify(payment);
    expect(first).toMatchObject({ isValid: true, cachedResult: false });
    expect(second).toMatchObject({ isValid: true, cachedResult: true, payer: first.payer });
  });
});

describe('verify: rules across versions and configurations', () => {
  it('refuses another scheme', async () => {
    const payment = await pay();
    const v1 = v1Body(payment, { asset: h.chain.token, payTo: h.chain.accounts.merchant.address, amount: PRICE }) as {
      paymentPayload: { scheme: string };
      paymentRequirements: { scheme: string };
    };
    v1.paymentPayload.scheme = 'upto';
    v1.paymentRequirements.scheme = 'upto';
    expect((await h.facilitator.verify(request(v1))).invalidReason).toBe('unsupported_scheme');
  });

  it('v1 accepts a payload above maxAmountRequired; v2 wants the exact amount', async () => {
    const payment = await pay({ value: PRICE + 5n });
    const r = { asset: h.chain.token, payTo: h.chain.accounts.merchant.address, amount: PRICE };
    expect((await h.facilitator.verify(request(v1Body(payment, r)))).isValid).toBe(true);
    expect((await h.facilitator.verify(request(v2Body(payment, r)))).invalidReason).toBe('invalid_exact_evm_payload_authorization_value_mismatch');
  });

  it('v1 takes the payload as base64', async () => {
    const payment = await pay();
    const body = v1Body(payment, { asset: h.chain.token, payTo: h.chain.accounts.merchant.address, amount: PRICE }, { base64: true });
    expect((await h.facilitator.verify(request(body))).isValid).toBe(true);
  });

  it('v2 refuses `accepted` requirements that differ from the ones presented', async () => {
    const payment = await pay();
    const body = v2Body(payment, { asset: h.chain.token, payTo: h.chain.accounts.merchant.address, amount: PRICE }) as {
      paymentPayload: { accepted: { amount: string; network: string } };
    };
    body.paymentPayload.accepted.amount = '1';
    expect((await h.facilitator.verify(request(body))).invalidReason).toBe('invalid_payment_requirements');
    body.paymentPayload.accepted.amount = PRICE.toString();
    body.paymentPayload.accepted.network = 'eip155:1';
    expect((await h.facilitator.verify(request(body))).invalidReason).toBe('invalid_network');
  });

  it('with no fee payer key the network is inactive: invalid_network, nothing supported', async () => {
    const f = await startFacilitator(h.chain, { feePayerKey: '' });
    try {
      const payment = await pay();
      expect(
        (await f.facilitator.verify(request(v2Body(payment, { asset: h.chain.token, payTo: h.chain.accounts.merchant.address, amount: PRICE })))).invalidReason,
      ).toBe('invalid_network');
      expect(await f.facilitator.supported()).toEqual([]);
      expect((await f.facilitator.networks()).map((n) => n.status)).toEqual(['inactive', 'inactive']);
    } finally {
      await f.stop();
    }
  });

  it('refuses the malleable high-s twin of a valid signature (the precompile would take it, the token does not)', async () => {
    const payment = await pay();
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const sig = payment.signature;
    const s = BigInt(`0x${sig.slice(66, 130)}`);
    const v = Number.parseInt(sig.slice(130), 16);
    payment.signature = `${sig.slice(0, 66)}${(N - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
    const r = { asset: h.chain.token, payTo: h.chain.accounts.merchant.address, amount: PRICE };
    expect((await h.facilitator.verify(request(v2Body(payment, r)))).invalidReason).toBe('invalid_exact_evm_payload_signature');
  });

  it('recovers signers in JavaScript too (ecrecover: local)', async () => {
    const f = await startFacilitator(h.chain, { network: { ecrecover: 'local' } });
    try {
      const r = { asset: h.chain.token, payTo: h.chain.accounts.merchant.address, amount: PRICE };
      expect((await f.facilitator.verify(request(v2Body(await pay(), r)))).isValid).toBe(true);
      const forged = await pay({ key: h.chain.keys.payer2, from: h.chain.accounts.payer.address });
      expect((await f.facilitator.verify(request(v2Body(forged, r)))).invalidReason).toBe('invalid_exact_evm_payload_signature');
    } finally {
      await f.stop();
    }
  });

  it('lists both versions of the network as supported, with its latest block and fee payer', async () => {
    expect(await h.facilitator.supported()).toEqual([
      { x402Version: 1, scheme: 'exact', network: 'base-sepolia' },
      { x402Version: 2, scheme: 'exact', network: 'eip155:84532' },
    ]);
    const block = Number(await h.chain.client.getBlockNumber());
    const networks = await h.facilitator.networks();
    expect(networks).toEqual([
      { x402Version: 1, scheme: 'exact', network: 'base-sepolia', status: 'active', block: expect.any(Number), feePayer: h.chain.accounts.feePayer.address },
      { x402Version: 2, scheme: 'exact', network: 'eip155:84532', status: 'active', block: expect.any(Number), feePayer: h.chain.accounts.feePayer.address },
    ]);
    expect(networks[0]?.block).toBeGreaterThanOrEqual(block);
  });

  it('reports an unreachable RPC as inactive with block 0', async () => {
    const f = await startFacilitator(h.chain, { network: { rpcUrl: 'http://127.0.0.1:9' } });
    try {
      expect((await f.facilitator.networks()).map((n) => [n.status, n.block])).toEqual([
        ['inactive', 0],
        ['inactive', 0],
      ]);
    } finally {
      await f.stop();
    }
  });

  it('a nonce reused with a fresh signature is still refused (the chain, not the cache, decides)', async () => {
    const nonce: Hex = randomNonce();
    const first = await pay({ nonce });
    const r = { asset: h.chain.token, payTo: h.chain.accounts.merchant.address, amount: PRICE };
    const settled = await h.facilitator.settle(request(v2Body(first, r)));
    expect(settled.success).toBe(true);
    const again = await pay({ nonce, value: PRICE });
    expect((await h.facilitator.verify(request(v1Body(again, r)))).invalidReason).toBe('nonce_already_used');
  });
});
