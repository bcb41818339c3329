/**
 * The verifications' chain reads gathered into one deployless eth_call (bridge/x402/evm/batch-reads.ts running
 * contracts/VerifyReads.sol), against the local chain: balances and `authorizationState` as the token answers them,
 * signers as the ecrecover precompile (and our local recovery) finds them, many verifications in one call with a
 * payer's balance asked once, calls split at the size limit, a token that does not answer failing only its own
 * reads, and an RPC that does not answer failing every read in the call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Address } from 'viem';
import { BatchReads, TokenReadError } from '../../../bridge/x402/evm/batch-reads.js';
import { authorizationDigest, domainSeparator, recoverSigner } from '../../../bridge/x402/evm/digest.js';
import { JsonRpcHttp } from '../../../bridge/x402/evm/json-rpc.js';
import { startChain, TOKEN_NAME, TOKEN_VERSION, type TestChain } from '../../helpers/chain.js';
import { randomNonce, signAuthorization, transferOnChain, type SignedPayment } from '../../helpers/eip3009.js';

let chain: TestChain;
let rpc: JsonRpcHttp;

beforeAll(async () => {
  chain = await startChain();
  rpc = new JsonRpcHttp(chain.url, { timeoutMs: 5_000 });
}, 120_000);

afterAll(async () => {
  rpc?.close();
  await chain?.stop();
});

const separator = (): Uint8Array => domainSeparator(TOKEN_NAME, TOKEN_VERSION, chain.chainId, chain.token);
const digestOf = (payment: { authorization: Parameters<typeof authorizationDigest>[1] }): Uint8Array => authorizationDigest(separator(), payment.authorization);
/** The signer the node recovers from the payment's EIP-712 digest, which it computes too. */
const recover = (reads: BatchReads, payment: SignedPayment, signature: string = payment.signature): Promise<string | undefined> =>
  reads.recoverAuthorization(separator(), payment.authorization, signature);

describe('BatchReads against the local chain', () => {
  it('reads balances and nonce states as the token answers them, before and after a transfer uses the nonce', async () => {
    const reads = new BatchReads(rpc);
    const payer = chain.accounts.payer.address;
    const payment = await signAuthorization({ key: chain.keys.payer, token: chain.token, to: chain.accounts.merchant.address, value: 1234n });
    const before = await reads.read(chain.token, payer, payment.authorization.nonce);
    expect(before).toEqual({ balance: await chain.balanceOf(payer), used: false });

    await transferOnChain(chain, payment);
    const after = await reads.read(chain.token, payer, payment.authorization.nonce);
    expect(after.used).toBe(true);
    expect(after.balance).toBe(before.balance - 1234n);
    // The merchant's balance and a nonce nobody used, in the same call.
    const [merchant, fresh] = await Promise.all([
      reads.read(chain.token, chain.accounts.merchant.address, randomNonce()),
      reads.read(chain.token, payer, randomNonce()),
    ]);
    expect(merchant).toEqual({ balance: await chain.balanceOf(chain.accounts.merchant.address), used: false });
    expect(fresh.used).toBe(false);
  });

  it('recovers each signer from the digest the node computes, the same as the local digest and recovery; a changed authorization recovers someone else', async () => {
    const reads = new BatchReads(rpc);
    const payments = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        signAuthorization({ key: i % 2 ? chain.keys.payer : chain.keys.payer2, token: chain.token, to: chain.accounts.merchant.address, value: BigInt(i + 1) }),
      ),
    );
    const signers = await Promise.all(payments.map((p) => recover(reads, p)));
    signers.forEach((signer, i) => {
      expect(signer).toBe((i % 2 ? chain.accounts.payer : chain.accounts.payer2).address.toLowerCase());
      expect(signer).toBe(recoverSigner(digestOf(payments[i]!), payments[i]!.signature));
    });
    const tampered = { ...payments[0]!, authorization: { ...payments[0]!.authorization, value: '999999' } };
    const other = await recover(reads, tampered);
    expect(other).not.toBe(chain.accounts.payer2.address.toLowerCase());
    expect(other).toBe(recoverSigner(digestOf(tampered), tampered.signature));
    // Each field is in the digest: changing any one changes the signer.
    for (const field of ['from', 'to', 'value', 'validAfter', 'validBefore', 'nonce'] as const) {
      const a = payments[1]!.authorization;
      const changed = {
        ...payments[1]!,
        authorization: { ...a, [field]: field === 'from' || field === 'to' ? chain.token : field === 'nonce' ? randomNonce() : String(BigInt(a[field]) + 1n) },
      };
      expect(await recover(reads, changed)).not.toBe(chain.accounts.payer.address.toLowerCase());
    }
    // r = 0 is no signature at all: the precompile answers nothing.
    expect(await recover(reads, payments[0]!, `0x${'00'.repeat(64)}1b`)).toBeUndefined();
  });

  it('answers the verifications of one turn of the event loop in one call, asking a payer’s balance once', async () => {
    const reads = new BatchReads(rpc);
    const payer = chain.accounts.payer.address;
    const payments = await Promise.all(
      Array.from({ length: 30 }, () => signAuthorization({ key: chain.keys.payer, token: chain.token, to: chain.accounts.merchant.address, value: 1n })),
    );
    const balance = await chain.balanceOf(payer);
    const results = await Promise.all(payments.map((p) => Promise.all([reads.read(chain.token, payer, p.authorization.nonce), recover(reads, p)])));
    for (const r of results) expect(r).toEqual([{ balance, used: false }, payer.toLowerCase()]);
    // 1 balance + 30 nonces + 30 authorizations, in one eth_call.
    expect(reads.stats).toEqual({ calls: 1, queries: 61 });
  });

  it('splits what waits into calls of at most maxPerCall queries, and every answer still lands where it belongs', async () => {
    const reads = new BatchReads(rpc, { maxPerCall: 10, maxInflight: 1 });
    const keys = [chain.keys.payer, chain.keys.payer2] as const;
    const payments = await Promise.all(
      Array.from({ length: 24 }, (_, i) => signAuthorization({ key: keys[i % 2]!, token: chain.token, to: chain.accounts.merchant.address, value: 5n })),
    );
    const balances = [await chain.balanceOf(chain.accounts.payer.address), await chain.balanceOf(chain.accounts.payer2.address)];
    const results = await Promise.all(
      payments.map((p) => Promise.all([reads.read(chain.token, p.authorization.from, p.authorization.nonce), recover(reads, p)])),
    );
    results.forEach(([r, signer], i) => {
      expect(r).toEqual({ balance: balances[i % 2], used: false });
      expect(signer).toBe(payments[i]!.authorization.from.toLowerCase());
    });
    expect(reads.stats.calls).toBeGreaterThanOrEqual(Math.ceil(reads.stats.queries / 10));
    expect(reads.stats.queries).toBe(2 + 24 + 24);
  });

  it('fails the reads of a token that does not answer (an address without code), not the others in the same call', async () => {
    const reads = new BatchReads(rpc);
    const nowhere = `0x${'ab'.repeat(20)}` as Address;
    const [bad, good] = await Promise.allSettled([
      reads.read(nowhere, chain.accounts.payer.address, randomNonce()),
      reads.read(chain.token, chain.accounts.payer.address, randomNonce()),
    ]);
    expect(bad.status).toBe('rejected');
    expect((bad as PromiseRejectedResult).reason).toBeInstanceOf(TokenReadError);
    expect(String((bad as PromiseRejectedResult).reason)).toContain(nowhere);
    expect(good).toEqual({ status: 'fulfilled', value: { balance: await chain.balanceOf(chain.accounts.payer.address), used: false } });
    expect(reads.stats.calls).toBe(1);
  });

  it('fails every read of a call the RPC does not answer, and the next call goes out again', async () => {
    let answer = true;
    const flaky = {
      request: (method: string, params: unknown[]) => (answer ? rpc.request(method, params) : Promise.reject(new Error('connection refused'))),
    };
    const reads = new BatchReads(flaky);
    answer = false;
    const failed = await Promise.allSettled([
      reads.read(chain.token, chain.accounts.payer.address, randomNonce()),
      reads.recoverAuthorization(
        new Uint8Array(32).fill(1),
        (await signAuthorization({ key: chain.keys.payer, token: chain.token, to: chain.token, value: 1n })).authorization,
        `0x${'11'.repeat(64)}1b`,
      ),
    ]);
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
    answer = true;
    expect((await reads.read(chain.token, chain.accounts.payer.address, randomNonce())).used).toBe(false);
  });
});

describe('BatchReads under a backlog', () => {
  it('gives each kind of query its share of every call, so no verification waits behind the others’ reads', async () => {
    const calls: [number, number, number][] = [];
    // A node that answers every query: balance 7, nonce unused, signer 0x…01; it records each call's counts.
    const node = {
      request: async (_method: string, params: unknown[]) => {
        const data = (params[0] as { data: string }).data;
        const [nb, ns, na] = [0, 1, 2].map((i) => Number.parseInt(data.slice(data.length - 64 * (3 - i), data.length - 64 * (2 - i)), 16)) as [
          number,
          number,
          number,
        ];
        calls.push([nb, ns, na]);
        const words = [
          ...Array.from({ length: nb }, () => ['1', '7']).flat(),
          ...Array.from({ length: ns }, () => '0'),
          ...Array.from({ length: na }, () => '1'),
        ];
        return `0x${words.map((w) => w.padStart(64, '0')).join('')}`;
      },
    };
    const reads = new BatchReads(node, { maxPerCall: 9, maxInflight: 1 });
    const sep = new Uint8Array(32);
    const payments = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        signAuthorization({ key: i % 2 ? chain.keys.payer : chain.keys.payer2, token: chain.token, to: chain.token, value: 1n }),
      ),
    );
    const results = await Promise.all(
      payments.map((p, i) =>
        Promise.all([
          // Distinct owners: no balance is shared.
          reads.read(chain.token, `0x${(i + 1).toString(16).padStart(40, '0')}` as Address, p.authorization.nonce),
          reads.recoverAuthorization(sep, p.authorization, p.signature),
        ]),
      ),
    );
    for (const [r, signer] of results) expect([r, signer]).toEqual([{ balance: 7n, used: false }, '0x0000000000000000000000000000000000000001']);
    // 12 verifications × 3 queries in calls of 9: three of each kind in every call.
    expect(calls).toEqual(Array.from({ length: 4 }, () => [3, 3, 3]));
  });
});
