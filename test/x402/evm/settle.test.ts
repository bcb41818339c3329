/**
 * /settle against a real local chain: balances move; a replay is refused by verify and settle; the same payload
 * settled 10 times at once is one transaction; 20 different payloads at once all settle (one fee payer, no nonce
 * collision); ERC-1271 and ERC-6492 (the wallet deployed first); a late receipt answered pending and reconciled;
 * a fee payer without gas money; a reverted transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateKeyToAccount } from 'viem/accounts';
import { testKey } from '../../helpers/chain.js';
import { counterfactualWallet, signAuthorization, transferOnChain, v1Body, v2Body } from '../../helpers/eip3009.js';
import { request, startFacilitator, startHarness, type Harness } from './setup.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const PRICE = 25_000n;
const pay = (over: Partial<Parameters<typeof signAuthorization>[0]> = {}) =>
  signAuthorization({ key: h.chain.keys.payer, token: h.chain.token, to: h.chain.accounts.merchant.address, value: PRICE, ...over });
const reqs = () => ({ asset: h.chain.token, payTo: h.chain.accounts.merchant.address, amount: PRICE });
const feePayerNonce = () => h.chain.client.getTransactionCount({ address: h.chain.accounts.feePayer.address });

describe.each([
  { name: 'v1', body: v1Body, network: 'base-sepolia' },
  { name: 'v2', body: v2Body, network: 'eip155:84532' },
] as const)('settle, x402 $name', ({ body, network }) => {
  it('settles on chain: the payer pays, the merchant is paid, the answer names the transaction and block', async () => {
    const payer = h.chain.accounts.payer.address;
    const merchant = h.chain.accounts.merchant.address;
    const [payerBefore, merchantBefore] = [await h.chain.balanceOf(payer), await h.chain.balanceOf(merchant)];
    const payment = await pay();
    const answer = await h.facilitator.settle(request(body(payment, reqs())));
    expect(answer).toEqual({
      success: true,
      transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      errorReason: '',
      network,
      payer,
      blockNumber: expect.any(Number),
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      fee: expect.stringMatching(/^[1-9]\d*$/),
    });
    expect(await h.chain.balanceOf(payer)).toBe(payerBefore - PRICE);
    expect(await h.chain.balanceOf(merchant)).toBe(merchantBefore + PRICE);
    const receipt = await h.chain.client.getTransactionReceipt({ hash: answer.transaction as `0x${string}` });
    expect(receipt.status).toBe('success');
    // The fee is what the fee payer paid for the transaction: its gas at its price.
    expect(answer.fee).toBe((receipt.gasUsed * receipt.effectiveGasPrice).toString());
    expect(Number(receipt.blockNumber)).toBe(answer.blockNumber);
    expect(receipt.from.toLowerCase()).toBe(h.chain.accounts.feePayer.address.toLowerCase());
    expect(await h.ledger.get(`84532:${h.chain.token.toLowerCase()}:${payer.toLowerCase()}:${payment.authorization.nonce}`)).toMatchObject({
      state: 'settled',
      tx_hash: answer.transaction,
      block_number: answer.blockNumber,
    });
  });

  it('refuses a replay after settlement, in verify and in settle (with the first transaction), and charges once', async () => {
    const payment = await pay();
    const first = await h.facilitator.settle(request(body(payment, reqs())));
    expect(first.success).toBe(true);
    const before = await h.chain.balanceOf(h.chain.accounts.payer.address);
    const nonce = await feePayerNonce();
    expect(await h.facilitator.verify(request(body(payment, reqs())))).toMatchObject({ isValid: false, invalidReason: 'nonce_already_used' });
    const again = await h.facilitator.settle(request(body(payment, reqs())));
    expect(again).toMatchObject({ success: false, errorReason: 'nonce_already_used', transaction: first.transaction, blockNumber: first.blockNumber });
    expect(await h.chain.balanceOf(h.chain.accounts.payer.address)).toBe(before);
    expect(await feePayerNonce()).toBe(nonce);
  });

  it('settles the same payload sent 10 times at once in one transaction', async () => {
    const payment = await pay();
    const nonce = await feePayerNonce();
    const before = await h.chain.balanceOf(h.chain.accounts.payer.address);
    const answers = await Promise.all(Array.from({ length: 10 }, () => h.facilitator.settle(request(body(payment, reqs())))));
    const hashes = new Set(answers.map((a) => a.transaction));
    expect(hashes.size).toBe(1);
    expect(answers.every((a) => a.success)).toBe(true);
    expect(await feePayerNonce()).toBe(nonce + 1);
    expect(await h.chain.balanceOf(h.chain.accounts.payer.address)).toBe(before - PRICE);
  });

  it('settles 20 different payloads at once from one fee payer, all of them', async () => {
    const nonce = await feePayerNonce();
    const before = await h.chain.balanceOf(h.chain.accounts.merchant.address);
    const payments = await Promise.all(Array.from({ length: 20 }, (_, i) => pay({ key: i % 2 ? h.chain.keys.payer : h.chain.keys.payer2 })));
    const answers = await Promise.all(payments.map((p) => h.facilitator.settle(request(body(p, reqs())))));
    expect(answers.map((a) => [a.success, a.errorReason])).toEqual(Array.from({ length: 20 }, () => [true, '']));
    expect(new Set(answers.map((a) => a.transaction)).size).toBe(20);
    expect(await feePayerNonce()).toBe(nonce + 20);
    expect(await h.chain.balanceOf(h.chain.accounts.merchant.address)).toBe(before + 20n * PRICE);
  });
});

describe('settle: smart wallets, late receipts, failures', () => {
  it('settles from an ERC-1271 wallet', async () => {
    const before = await h.chain.balanceOf(h.chain.smartWallet);
    const payment = await pay({ key: h.chain.keys.walletOwner, from: h.chain.smartWallet });
    expect(await h.facilitator.settle(request(v2Body(payment, reqs())))).toMatchObject({ success: true, payer: h.chain.smartWallet });
    expect(await h.chain.balanceOf(h.chain.smartWallet)).toBe(before - PRICE);
  });

  it('deploys an ERC-6492 wallet through an allowed factory, then settles', async () => {
    const wallet = await counterfactualWallet(h.chain, h.chain.accounts.walletOwner.address);
    await h.chain.mint(wallet.address, PRICE);
    const payment = await pay({ key: h.chain.keys.walletOwner, from: wallet.address });
    payment.signature = wallet.wrap(payment.signature);
    const answer = await h.facilitator.settle(request(v1Body(payment, reqs())));
    expect(answer).toMatchObject({ success: true, payer: wallet.address });
    expect(await h.chain.client.getCode({ address: wallet.address })).toMatch(/^0x[0-9a-f]+$/);
    expect(await h.chain.balanceOf(wallet.address)).toBe(0n);
  });

  it('refuses an ERC-6492 wallet whose factory is not allowed', async () => {
    const f = await startFacilitator(h.chain, { network: { erc6492Factories: [] } });
    try {
      const wallet = await counterfactualWallet(h.chain, h.chain.accounts.walletOwner.address);
      await h.chain.mint(wallet.address, PRICE);
      const payment = await pay({ key: h.chain.keys.walletOwner, from: wallet.address });
      payment.signature = wallet.wrap(payment.signature);
      expect((await f.facilitator.verify(request(v2Body(payment, reqs())))).invalidReason).toBe('invalid_exact_evm_payload_undeployed_smart_wallet');
      expect(await f.facilitator.settle(request(v2Body(payment, reqs())))).toMatchObject({
        success: false,
        errorReason: 'invalid_exact_evm_payload_undeployed_smart_wallet',
        transaction: '',
      });
      expect(await h.chain.client.getCode({ address: wallet.address })).toBeUndefined();
    } finally {
      await f.stop();
    }
  });

  it('answers pending with the hash when the receipt is late, and the reconciler settles it once mined', async () => {
    const settled: string[] = [];
    const f = await startFacilitator(h.chain, { network: { receiptTimeoutMs: 300 }, onSettled: (r) => settled.push(r.tx_hash ?? '') });
    await h.chain.setAutomine(false);
    try {
      const payment = await pay();
      const answer = await f.facilitator.settle(request(v2Body(payment, reqs())));
      expect(answer).toMatchObject({
        success: false,
        pending: true,
        errorReason: 'settlement_pending',
        transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      });
      // While it is pending: verify says so, and settling again returns the same transaction, still pending.
      expect((await f.facilitator.verify(request(v2Body(payment, reqs())))).invalidReason).toBe('settlement_pending');
      expect(await f.facilitator.settle(request(v2Body(payment, reqs())))).toMatchObject({ pending: true, transaction: answer.transaction });
      expect(await f.facilitator.reconcile()).toBe(0);
      await h.chain.mine();
      expect(await f.facilitator.reconcile()).toBe(1);
      const row = (await f.ledger.listUnfinished(10)).length;
      expect(row).toBe(0);
      expect(settled).toEqual([answer.transaction]);
      expect(await f.facilitator.settle(request(v2Body(payment, reqs())))).toMatchObject({
        success: false,
        errorReason: 'nonce_already_used',
        transaction: answer.transaction,
      });
    } finally {
      await h.chain.setAutomine(true);
      await f.stop();
    }
  });

  it('a fee payer without gas money is a clear error, nothing is charged, and the payload settles once it is funded', async () => {
    const brokeKey = testKey('broke-fee-payer');
    const brokeAddress = privateKeyToAccount(brokeKey).address;
    const f = await startFacilitator(h.chain, { feePayerKey: brokeKey });
    try {
      const payment = await pay();
      const before = await h.chain.balanceOf(h.chain.accounts.payer.address);
      const answer = await f.facilitator.settle(request(v1Body(payment, reqs())));
      expect(answer).toMatchObject({ success: false, errorReason: 'fee_payer_out_of_gas', transaction: '' });
      expect(await h.chain.balanceOf(h.chain.accounts.payer.address)).toBe(before);
      // Funded, the same payload settles (the failed row is claimed again).
      await h.chain.rpc('hardhat_setBalance', [brokeAddress, '0xde0b6b3a7640000']);
      expect(await f.facilitator.settle(request(v1Body(payment, reqs())))).toMatchObject({ success: true });
      expect(await h.chain.balanceOf(h.chain.accounts.payer.address)).toBe(before - PRICE);
    } finally {
      await f.stop();
    }
  });

  it('refuses at simulation, sending nothing, when the authorization was used on chain since verify', async () => {
    const payment = await pay();
    expect((await h.facilitator.verify(request(v2Body(payment, reqs())))).isValid).toBe(true);
    await transferOnChain(h.chain, payment);
    const nonce = await feePayerNonce();
    expect(await h.facilitator.settle(request(v2Body(payment, reqs())))).toMatchObject({ success: false, errorReason: 'nonce_already_used', transaction: '' });
    expect(await feePayerNonce()).toBe(nonce);
  });

  it('keeps settling after the fee payer nonce moved behind its back (resync)', async () => {
    // Someone else sends from the fee payer's account: the local counter is stale.
    const { createWalletClient, http } = await import('viem');
    const other = createWalletClient({ chain: h.chain.chain, account: h.chain.accounts.feePayer, transport: http(h.chain.url, { retryCount: 0 }) });
    await other.sendTransaction({ to: h.chain.accounts.merchant.address, value: 1n, chain: null });
    await other.sendTransaction({ to: h.chain.accounts.merchant.address, value: 1n, chain: null });
    const answers = await Promise.all([pay(), pay()].map(async (p) => h.facilitator.settle(request(v2Body(await p, reqs())))));
    expect(answers.map((a) => a.success)).toEqual([true, true]);
  });
});
