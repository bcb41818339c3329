/**
 * bench/x402-verify: the facilitator's verify in process against the local chain (Hardhat), on distinct signed
 * payloads (no cache hits), with the nonce check — and what one EIP-712 signature recovery costs, the part that
 * dominates. Run: `npm run bench -- x402-verify` (or `node --import tsx bench/x402-verify.ts`).
 */
import { fileURLToPath } from 'node:url';
import { hashTypedData, recoverAddress } from 'viem';
import { authorizationDigest, domainSeparator, recoverSigner } from '../bridge/x402/evm/digest.js';
import { startFacilitator } from '../test/x402/evm/setup.js';
import { startChain } from '../test/helpers/chain.js';
import { signAuthorization, v2Body } from '../test/helpers/eip3009.js';
import { authorizationTypedData } from '../bridge/x402/evm/signature.js';
import { isRequestProblem, parseFacilitatorRequest } from '../bridge/x402/wire.js';
import type { FacilitatorRequest } from '../bridge/x402/types.js';

const PAYLOADS = Number(process.env['X402_BENCH_PAYLOADS'] ?? 1000);
const CONCURRENCY = Number(process.env['X402_BENCH_CONCURRENCY'] ?? 32);

export async function run(): Promise<void> {
  const chain = await startChain();
  const rpc = await startFacilitator(chain, { verifyCacheMs: 0 });
  const local = await startFacilitator(chain, { verifyCacheMs: 0, network: { ecrecover: 'local' } });
  try {
    console.log(`chain boot (Hardhat 2 in process, contracts deployed): ${chain.bootMs} ms`);
    const requests: FacilitatorRequest[] = [];
    for (let i = 0; i < PAYLOADS; i++) {
      const payment = await signAuthorization({
        key: i % 2 ? chain.keys.payer : chain.keys.payer2,
        token: chain.token,
        to: chain.accounts.merchant.address,
        value: 1000n,
      });
      const parsed = parseFacilitatorRequest(v2Body(payment, { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 1000n }));
      if (isRequestProblem(parsed)) throw new Error(parsed.details);
      requests.push(parsed);
    }

    // One recovery: hash the typed data, recover the signer (viem → @noble/curves).
    const first = requests[0]!;
    const payload = first.paymentPayload.payload as { signature: `0x${string}`; authorization: Parameters<typeof authorizationTypedData>[3] };
    const typed = authorizationTypedData({ name: 'USDC', version: '2' }, chain.chainId, chain.token, payload.authorization);
    let t = performance.now();
    const N = 300;
    for (let i = 0; i < N; i++) hashTypedData(typed);
    const hashUs = ((performance.now() - t) * 1000) / N;
    const hash = hashTypedData(typed);
    t = performance.now();
    for (let i = 0; i < N; i++) await recoverAddress({ hash, signature: payload.signature });
    const recoverMs = (performance.now() - t) / N;
    console.log(
      `viem: EIP-712 hash ${hashUs.toFixed(0)} µs + ECDSA recovery ${recoverMs.toFixed(2)} ms → at most ${Math.round(1000 / (hashUs / 1000 + recoverMs))} signatures/s on one core`,
    );
    const separator = domainSeparator('USDC', '2', chain.chainId, chain.token);
    t = performance.now();
    for (let i = 0; i < N; i++) authorizationDigest(separator, payload.authorization);
    const ourHashUs = ((performance.now() - t) * 1000) / N;
    const digest = authorizationDigest(separator, payload.authorization);
    t = performance.now();
    for (let i = 0; i < N; i++) recoverSigner(digest, payload.signature);
    const ourRecoverMs = (performance.now() - t) / N;
    console.log(
      `ours (digest.ts): EIP-712 hash ${ourHashUs.toFixed(0)} µs + recovery ${ourRecoverMs.toFixed(2)} ms → at most ${Math.round(1000 / (ourHashUs / 1000 + ourRecoverMs))} signatures/s on one core`,
    );

    for (const [mode, f] of [
      ['digest and ecrecover by the node (in the eth_call that carries the reads)', rpc],
      ['digest and ecrecover in JavaScript (@noble/hashes, @noble/curves)', local],
    ] as const) {
      // Warm up (domain cache, connections), then verify every payload once at CONCURRENCY in flight.
      for (const r of requests.slice(0, 20)) await f.facilitator.verify(r);
      let next = 20;
      let valid = 0;
      t = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < requests.length) {
            const r = requests[next++]!;
            if ((await f.facilitator.verify(r)).isValid) valid++;
          }
        }),
      );
      const seconds = (performance.now() - t) / 1000;
      const n = requests.length - 20;
      console.log(
        `facilitator.verify, ${mode} + balance + authorizationState, ${CONCURRENCY} in flight: ${Math.round(n / seconds)} verifications/s (${n} payloads, ${valid} valid)`,
      );
    }
  } finally {
    await rpc.stop();
    await local.stop();
    await chain.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await run();
