/**
 * The x402 facilitator: verify and settle the `exact` scheme on EVM (EIP-3009 `transferWithAuthorization`) for
 * x402 v1 and v2, over the networks of `X402_NETWORKS`. Requests arrive already shaped by `parseFacilitatorRequest`
 * (wire.ts). Work in progress: the checks live in evm/.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { X402NetworkConfig } from './evm/networks.js';
import type { X402SettlementLedger } from './ledger.js';
import type { AssetRegistry, Facilitator, FacilitatorRequest, NetworkStatus, SettleAnswer, SupportedKind, VerifyAnswer } from './types.js';

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
}

export function createFacilitator(options: FacilitatorOptions): Facilitator {
  void options;
  const now = () => Math.floor(Date.now() / 1000);
  return {
    async verify(request: FacilitatorRequest): Promise<VerifyAnswer> {
      void request;
      return { isValid: false, invalidReason: 'invalid_network', payer: '', timestamp: now(), cachedResult: false };
    },
    async settle(request: FacilitatorRequest): Promise<SettleAnswer> {
      return {
        success: false,
        transaction: '',
        errorReason: 'invalid_network',
        network: request.paymentPayload.x402Version === 1 ? request.paymentPayload.network : request.paymentPayload.accepted.network,
        payer: '',
        blockNumber: 0,
        timestamp: new Date().toISOString(),
      };
    },
    async supported(): Promise<SupportedKind[]> {
      return [];
    },
    async networks(): Promise<NetworkStatus[]> {
      return [];
    },
    async stop(): Promise<void> {},
  };
}
