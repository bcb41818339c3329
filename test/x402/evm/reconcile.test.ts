/**
 * What happens around a settlement: the reconciler resolves rows a crash left `sending` (by the token's
 * `authorizationState`) and pending rows whose transaction reverted; a verify answer cached before a settle is
 * not served after it; the metrics count verifications and settlements; the fee payer's key never reaches a log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFunctionData } from 'viem';
import { Metrics } from '../../../bridge/metrics.js';
import { settlementKey, type X402SettlementLedger, type X402SettlementRecord } from '../../../bridge/x402/ledger.js';
import { startChain, TOKEN_ABI, type TestChain } from '../../helpers/chain.js';
import { signAuthorization, transferOnChain, v1Body, v2Body, type SignedPayment } from '../../helpers/eip3009.js';
import { captureLog } from '../../helpers/log-capture.js';
import { startTcpProxy } from '../../helpers/tcp-proxy.js';
import { request, startFacilitator } from './setup.js';

let chain: TestChain;
beforeAll(async () => {
  chain = await startChain();
});
afterAll(async () => {
  await chain?.stop();
});

const PRICE = 7_000n;
const pay = () => signAuthorization({ key: chain.keys.payer, token: chain.token, to: chain.accounts.merchant.address, value: PRICE });
const reqs = () => ({ asset: chain.token, payTo: chain.accounts.merchant.address, amount: PRICE });

function row(payment: SignedPayment, extra: Partial<X402SettlementRecord>): X402SettlementRecord {
  const a = payment.authorization;
  const old = new Date(Date.now() - 3_600_000).toISOString();
  return {
    key: settlementKey(chain.chainId, chain.token, a.from, a.nonce),
    chain_id: chain.chainId,
    network: 'base-sepolia',
    token: chain.token.toLowerCase(),
    payer: a.from.toLowerCase(),
    nonce: a.nonce,
    pay_to: a.to.toLowerCase(),
    value: a.value,
    x402_version: 2,
    fee_payer: chain.accounts.feePayer.address.toLowerCase(),
    state: 'sending',
    tx_hash: null,
    block_number: null,
    error_reason: null,
    created: old,
    updated: old,
    ...extra,
  };
}

const useOnChain = (payment: SignedPayment) => transferOnChain(chain, payment);
/** A second authorization of the payer with the same nonce as `payment`: 1 unit to an address of its choosing. */
const sameNonce = (payment: SignedPayment) =>
  signAuthorization({ key: chain.keys.payer, token: chain.token, to: chain.accounts.deployer.address, value: 1n, nonce: payment.authorization.nonce });

describe('the reconciler', () => {
  it('resolves rows a crash left sending: failed when the nonce is unused (and the payload settles again), settled when it is used', async () => {
    const settled: { tx: string | null; fee: string | undefined }[] = [];
    const f = await startFacilitator(chain, { sendingGraceMs: 1_000, onSettled: (r, fee) => settled.push({ tx: r.tx_hash, fee }) });
    try {
      const unused = await pay();
      const used = await pay();
      const fresh = await pay();
      await f.ledger.claim(row(unused, {}));
      await f.ledger.claim(row(used, {}));
      await f.ledger.claim(row(fresh, { created: new Date().toISOString(), updated: new Date().toISOString() }));
      const usedBy = await useOnChain(used);
      // While sending, the payload is pending for verify and settle.
      expect((await f.facilitator.verify(request(v2Body(unused, reqs())))).invalidReason).toBe('settlement_pending');
      expect(await f.facilitator.reconcile()).toBe(2);
      expect(await f.ledger.get(row(unused, {}).key)).toMatchObject({ state: 'failed', error_reason: 'unexpected_settle_error' });
      // Settled with the transaction that used it, found by its AuthorizationUsed log.
      expect(await f.ledger.get(row(used, {}).key)).toMatchObject({ state: 'settled', tx_hash: usedBy });
      // Another account sent it: its gas is not ours to count.
      expect(settled).toEqual([{ tx: usedBy, fee: undefined }]);
      expect(await f.ledger.get(row(fresh, {}).key)).toMatchObject({ state: 'sending' });
      expect(await f.facilitator.settle(request(v2Body(unused, reqs())))).toMatchObject({ success: true });
    } finally {
      await f.stop();
    }
  });

  it('never takes the outcome of another authorization with the same nonce, paying someone else, for this one', async () => {
    const f = await startFacilitator(chain, { sendingGraceMs: 1_000 });
    try {
      const ours = await pay();
      const other = await sameNonce(ours);
      const now = new Date().toISOString();
      // The other one holds the key (a settle of it in flight): ours is refused, never answered with the other's outcome.
      await f.ledger.claim(row(other, { created: now, updated: now }));
      expect(await f.facilitator.settle(request(v2Body(ours, reqs())))).toMatchObject({ success: false, errorReason: 'nonce_already_used' });
      await f.ledger.update(row(other, {}).key, { state: 'settled', tx_hash: '0x' + '1'.repeat(64), block_number: 1, updated: now });
      expect(await f.facilitator.settle(request(v2Body(ours, reqs())))).toMatchObject({ success: false, errorReason: 'nonce_already_used' });
    } finally {
      await f.stop();
    }
    // Ours was claimed (a crash left it sending); the other one used the nonce on chain: failed, not settled.
    const g = await startFacilitator(chain, { sendingGraceMs: 1_000 });
    try {
      const ours = await pay();
      const other = await sameNonce(ours);
      await g.ledger.claim(row(ours, {}));
      await useOnChain(other);
      expect(await g.facilitator.reconcile()).toBe(1);
      expect(await g.ledger.get(row(ours, {}).key)).toMatchObject({ state: 'failed', error_reason: 'nonce_already_used' });
    } finally {
      await g.stop();
    }
  });

  it('marks a pending row whose transaction reverted as failed, and tells whoever counts settlements', async () => {
    const failed: (string | null)[] = [];
    const f = await startFacilitator(chain, { onFailed: (r) => failed.push(r.tx_hash) });
    try {
      const payment = await pay();
      // A transaction that reverts: the same authorization submitted twice; the second one reverts.
      await useOnChain(payment);
      const { createWalletClient, http } = await import('viem');
      const wallet = createWalletClient({ chain: chain.chain, account: chain.accounts.deployer, transport: http(chain.url, { retryCount: 0 }) });
      const a = payment.authorization;
      const hash = await wallet.sendTransaction({
        to: chain.token,
        gas: 200_000n,
        chain: null,
        data: encodeFunctionData({
          abi: TOKEN_ABI,
          functionName: 'transferWithAuthorization',
          args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, payment.signature],
        }),
      });
      expect((await chain.client.waitForTransactionReceipt({ hash })).status).toBe('reverted');
      await f.ledger.claim(row(payment, {}));
      await f.ledger.update(row(payment, {}).key, { state: 'pending', tx_hash: hash, updated: new Date().toISOString() });
      expect(await f.facilitator.reconcile()).toBe(1);
      expect(await f.ledger.get(row(payment, {}).key)).toMatchObject({ state: 'failed', error_reason: 'invalid_transaction_state', tx_hash: hash });
      expect(failed).toEqual([hash]);
    } finally {
      await f.stop();
    }
  });
});

describe('around settle', () => {
  it('does not serve a cached valid answer once the payload is settled', async () => {
    const f = await startFacilitator(chain);
    try {
      const payment = await pay();
      expect(await f.facilitator.verify(request(v1Body(payment, reqs())))).toMatchObject({ isValid: true, cachedResult: false });
      expect(await f.facilitator.verify(request(v1Body(payment, reqs())))).toMatchObject({ isValid: true, cachedResult: true });
      expect((await f.facilitator.settle(request(v1Body(payment, reqs())))).success).toBe(true);
      expect(await f.facilitator.verify(request(v1Body(payment, reqs())))).toMatchObject({
        isValid: false,
        invalidReason: 'nonce_already_used',
        cachedResult: false,
      });
    } finally {
      await f.stop();
    }
  });

  it('counts verifications and settlements, and never logs the fee payer key', async () => {
    const metrics = new Metrics();
    const captured = captureLog('trace');
    const f = await startFacilitator(chain, { metrics, log: captured.log });
    try {
      const payment = await pay();
      await f.facilitator.verify(request(v2Body(payment, reqs())));
      await f.facilitator.settle(request(v2Body(payment, reqs())));
      await f.facilitator.settle(request(v2Body(payment, reqs())));
      const text = await metrics.registry.metrics();
      expect(text).toContain('paywire_x402_verifications_total{network="eip155:84532",result="valid"} 1');
      expect(text).toContain('paywire_x402_settlements_total{network="base-sepolia",outcome="settled"} 1');
      expect(captured.find('x402 payment settled')).toHaveLength(1);
      const all = captured.lines.join('\n').toLowerCase();
      expect(all).toContain(chain.accounts.feePayer.address.toLowerCase());
      expect(all).not.toContain(chain.keys.feePayer.slice(2).toLowerCase());
    } finally {
      await f.stop();
    }
  });
});

describe('a store failure after the transfer was sent', () => {
  it('answers pending with the hash (never a failure), and the reconciler settles the row later', async () => {
    const f0 = await startFacilitator(chain);
    const inner = f0.ledger;
    let failPending = true;
    const ledger: X402SettlementLedger = {
      claim: (r) => inner.claim(r),
      get: (k) => inner.get(k),
      listUnfinished: (n) => inner.listUnfinished(n),
      update: (k, patch, expect) => (failPending && patch.state === 'pending' ? Promise.reject(new Error('store down')) : inner.update(k, patch, expect)),
    };
    const settled: { tx: string | null; fee: string | undefined }[] = [];
    const f = await startFacilitator(chain, { ledger, sendingGraceMs: 0, onSettled: (r, fee) => settled.push({ tx: r.tx_hash, fee }) });
    try {
      const payment = await pay();
      const before = await chain.balanceOf(chain.accounts.payer.address);
      const answer = await f.facilitator.settle(request(v2Body(payment, reqs())));
      expect(answer).toMatchObject({
        success: false,
        pending: true,
        errorReason: 'settlement_pending',
        transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      });
      expect(await chain.balanceOf(chain.accounts.payer.address)).toBe(before - PRICE);
      failPending = false;
      expect(await f.facilitator.reconcile()).toBe(1);
      expect(await ledger.get(row(payment, {}).key)).toMatchObject({ state: 'settled' });
      // Confirmed by the reconciler from the nonce's state on chain. The store never took the hash: the token's
      // AuthorizationUsed log gives the transaction, and its receipt the gas our fee payer paid.
      const receipt = await chain.client.getTransactionReceipt({ hash: answer.transaction as `0x${string}` });
      expect(settled).toEqual([{ tx: answer.transaction, fee: (receipt.gasUsed * receipt.effectiveGasPrice).toString() }]);
      expect(await ledger.get(row(payment, {}).key)).toMatchObject({ state: 'settled', tx_hash: answer.transaction });
    } finally {
      await f.stop();
      await f0.stop();
    }
  });
});

describe('an RPC outage', () => {
  it('verify and settle fail loudly (the routes answer 500) and charge nothing; after it, the payload settles', async () => {
    const port = Number(new URL(chain.url).port);
    const proxy = await startTcpProxy('127.0.0.1', port);
    const f = await startFacilitator(chain, { network: { rpcUrl: `http://127.0.0.1:${proxy.port}` } });
    try {
      const payment = await pay();
      expect((await f.facilitator.verify(request(v2Body(payment, reqs())))).isValid).toBe(true);
      proxy.cut();
      const fresh = await pay();
      await expect(f.facilitator.verify(request(v2Body(fresh, reqs())))).rejects.toThrow();
      await expect(f.facilitator.settle(request(v2Body(fresh, reqs())))).rejects.toThrow();
      expect(await f.ledger.listUnfinished(10)).toEqual([]);
      proxy.restore();
      expect(await f.facilitator.settle(request(v2Body(fresh, reqs())))).toMatchObject({ success: true });
    } finally {
      await f.stop();
      await proxy.close();
    }
  });

  it('a transfer whose send got no answer (connection lost, or 503) is pending under its hash, then settled: never failed, never sent twice', async () => {
    for (const how of ['drop', 'busy'] as const) {
      const rpc = await swallowFirstSend(chain.url, how);
      const f = await startFacilitator(chain, { network: { rpcUrl: rpc.url } });
      try {
        const payment = await pay();
        const before = await chain.balanceOf(chain.accounts.merchant.address);
        const answer = await f.facilitator.settle(request(v2Body(payment, reqs())));
        expect(rpc.swallowed).toBe(1);
        // The transfer may be out (here it is): pending under the signed transaction's hash, not failed (which
        // would let the row be claimed and the authorization sent again).
        expect(answer).toMatchObject({
          success: false,
          pending: true,
          errorReason: 'settlement_pending',
          transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/),
        });
        expect(await f.ledger.get(row(payment, {}).key)).toMatchObject({ state: 'pending', tx_hash: answer.transaction });
        expect(await f.facilitator.reconcile()).toBe(1);
        expect(await f.ledger.get(row(payment, {}).key)).toMatchObject({ state: 'settled', tx_hash: answer.transaction });
        expect(await chain.balanceOf(chain.accounts.merchant.address)).toBe(before + PRICE);
      } finally {
        await f.stop();
        await rpc.close();
      }
    }
  });
});

/**
 * A JSON-RPC server in front of the chain that passes the first eth_sendRawTransaction on, then loses its answer:
 * `drop` closes the connection, `busy` answers 503 (which a transport retries).
 */
async function swallowFirstSend(target: string, how: 'drop' | 'busy'): Promise<{ url: string; swallowed: number; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const state = { swallowed: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      void fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (upstream) => {
        const text = await upstream.text();
        if (state.swallowed === 0 && body.includes('eth_sendRawTransaction')) {
          state.swallowed += 1;
          if (how === 'drop') req.socket.destroy();
          else res.writeHead(503).end();
          return;
        }
        res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get swallowed() {
      return state.swallowed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
