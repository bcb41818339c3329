/**
 * The x402 facilitator: verify and settle the `exact` scheme on EVM (EIP-3009 `transferWithAuthorization`), x402 v1
 * and v2, over the networks of `X402_NETWORKS` (none by default: then no network is active and every payment is
 * `invalid_network`). Requests arrive shaped by `parseFacilitatorRequest` (wire.ts); the checks are evm/verify.ts,
 * settlement evm/settle.ts (at most once per authorization, through the ledger), pending receipts
 * evm/reconciler.ts. A verify answer for the same request moments ago is served from memory (`cachedResult`).
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { FeePayer } from './evm/fee-payer.js';
import { X402Metrics } from './evm/metrics.js';
import { EvmNetwork } from './evm/network.js';
import type { X402NetworkConfig } from './evm/networks.js';
import { REASON } from './evm/reasons.js';
import { Reconciler } from './evm/reconciler.js';
import { Settler } from './evm/settle.js';
import { VALID_BEFORE_MARGIN_SECONDS, verifyExact, type VerifyContext } from './evm/verify.js';
import type { X402SettlementLedger, X402SettlementRecord } from './ledger.js';
import type { AssetRegistry, Facilitator, FacilitatorRequest, NetworkStatus, SettleAnswer, SupportedKind, VerifyAnswer } from './types.js';
import { VerifyCache } from './verify-cache.js';
import { exactEvmPayloadOf } from './wire.js';

export type { X402NetworkConfig } from './evm/networks.js';
export type { X402SettlementLedger } from './ledger.js';

export interface FacilitatorOptions {
  networks: X402NetworkConfig[];
  registry: AssetRegistry;
  ledger: X402SettlementLedger;
  log: Logger;
  metrics?: Metrics;
  /** Where fee payer keys are read (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** viem transport retries (default 2; tests use 0). */
  retryCount?: number;
  /** Receipt polling interval (default 250 ms). */
  pollingIntervalMs?: number;
  /** How long a verify answer is reused (default 3 000 ms; 0 turns the cache off). */
  verifyCacheMs?: number;
  /** Reconciler pass interval (default 5 000 ms) and how long a `sending` row may sit before it is resolved. */
  reconcileIntervalMs?: number;
  sendingGraceMs?: number;
  /** Called once per authorization when its settlement is confirmed (at settle or later by the reconciler). */
  onSettled?: (record: X402SettlementRecord, fee?: string) => void;
  /** Called once per authorization whose settlement, answered pending, turned out failed. */
  onFailed?: (record: X402SettlementRecord) => void;
}

/** The facilitator plus what tests and operators reach for. */
export interface EvmFacilitator extends Facilitator {
  /** Run one reconciler pass now; resolves with the rows it finished. */
  reconcile(): Promise<number>;
}

export function createFacilitator(options: FacilitatorOptions): EvmFacilitator {
  const log = options.log.child({ component: 'x402' });
  const env = options.env ?? process.env;
  const networks = options.networks.map(
    (config) =>
      new EvmNetwork(config, {
        env,
        log,
        ...(options.retryCount !== undefined ? { retryCount: options.retryCount } : {}),
        ...(options.pollingIntervalMs !== undefined ? { pollingIntervalMs: options.pollingIntervalMs } : {}),
      }),
  );
  const byChain = new Map(networks.map((n) => [n.chainId, n]));
  const feePayers = new Map(networks.filter((n) => n.active).map((n) => [n.chainId, new FeePayer(n)]));
  const metrics = options.metrics ? new X402Metrics(options.metrics.registry) : undefined;
  const cache = new VerifyCache({ ttlMs: options.verifyCacheMs ?? 3_000 });
  const ctx: VerifyContext = { networks, registry: options.registry, ledger: options.ledger, log };
  const settler = new Settler({
    ...ctx,
    feePayers,
    metrics,
    onClaim: (key) => cache.forgetKey(key),
    ...(options.onSettled ? { onSettled: options.onSettled } : {}),
  });
  const reconciler = new Reconciler({
    ledger: options.ledger,
    networks: byChain,
    log,
    isInflight: (key) => settler.isInflight(key),
    metrics,
    ...(options.reconcileIntervalMs !== undefined ? { intervalMs: options.reconcileIntervalMs } : {}),
    ...(options.sendingGraceMs !== undefined ? { sendingGraceMs: options.sendingGraceMs } : {}),
    ...(options.onSettled ? { onSettled: options.onSettled } : {}),
    ...(options.onFailed ? { onFailed: options.onFailed } : {}),
  });
  reconciler.start();
  if (networks.length === 0) log.info('x402: no network configured (X402_NETWORKS): the facilitator has no active network');
  else log.info({ networks: networks.map((n) => ({ network: n.network, chainId: n.chainId, feePayer: n.feePayer, active: n.active })) }, 'x402 networks');

  const seconds = () => Math.floor(Date.now() / 1000);

  return {
    async verify(request: FacilitatorRequest): Promise<VerifyAnswer> {
      const now = Date.now();
      const id = VerifyCache.id(request);
      const cached = cache.get(id, now, VALID_BEFORE_MARGIN_SECONDS);
      if (cached) return { ...cached, timestamp: seconds(), cachedResult: true };
      const outcome = await verifyExact(ctx, request);
      const network = request.paymentRequirements.network;
      metrics?.verification(network, outcome.valid ? 'valid' : outcome.reason);
      const answer: VerifyAnswer = outcome.valid
        ? { isValid: true, invalidReason: '', payer: outcome.payer, timestamp: seconds(), cachedResult: false }
        : { isValid: false, invalidReason: outcome.reason, payer: outcome.payer, timestamp: seconds(), cachedResult: false };
      const payload = exactEvmPayloadOf(request);
      // A settlement in flight is not cached: its outcome is about to change.
      if (!(!outcome.valid && outcome.reason === REASON.pending)) {
        cache.set(id, answer, now, outcome.checked?.key, payload ? Number(payload.authorization.validBefore) : 0);
      }
      return answer;
    },

    settle(request: FacilitatorRequest): Promise<SettleAnswer> {
      return settler.settle(request);
    },

    async supported(): Promise<SupportedKind[]> {
      const kinds: SupportedKind[] = [];
      for (const n of networks.filter((n) => n.active)) {
        kinds.push({ x402Version: 1, scheme: 'exact', network: n.network });
        kinds.push({ x402Version: 2, scheme: 'exact', network: n.caip2 });
      }
      return kinds;
    },

    async networks(): Promise<NetworkStatus[]> {
      const blocks = await Promise.all(networks.map((n) => (n.active ? n.blockNumber() : Promise.resolve(undefined))));
      return networks.flatMap((n, i) => {
        const read = blocks[i];
        const block = read ?? 0;
        // Active: a fee payer key and an RPC that answers.
        const status = n.active && read !== undefined ? ('active' as const) : ('inactive' as const);
        return [
          { x402Version: 1 as const, scheme: 'exact', network: n.network, status, block, feePayer: n.feePayer },
          { x402Version: 2 as const, scheme: 'exact', network: n.caip2, status, block, feePayer: n.feePayer },
        ];
      });
    },

    reconcile: () => reconciler.runOnce(),

    async stop(): Promise<void> {
      await reconciler.stop();
      for (const n of networks) n.close();
    },
  };
}
