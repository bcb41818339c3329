/**
 * One local chain and a facilitator over it for a test file: network `base-sepolia` (chain 84532) with the test
 * token registered, the fee payer's key in a private environment object, the ledger on a fresh journal.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Journal } from '../../../bridge/store/journal/engine.js';
import { JournalX402SettlementsStore } from '../../../bridge/store/journal/x402-settlements-store.js';
import { configAssetRegistry } from '../../../bridge/x402/evm/config-registry.js';
import type { X402NetworkConfig } from '../../../bridge/x402/evm/networks.js';
import { createFacilitator, type EvmFacilitator, type FacilitatorOptions } from '../../../bridge/x402/facilitator.js';
import type { X402SettlementLedger } from '../../../bridge/x402/ledger.js';
import type { FacilitatorRequest } from '../../../bridge/x402/types.js';
import { isRequestProblem, parseFacilitatorRequest } from '../../../bridge/x402/wire.js';
import { startChain, type TestChain } from '../../helpers/chain.js';

export interface Harness {
  chain: TestChain;
  facilitator: EvmFacilitator;
  ledger: X402SettlementLedger;
  network: X402NetworkConfig;
  stop(): Promise<void>;
}

export function networkConfig(chain: TestChain, extra: Partial<X402NetworkConfig> = {}): X402NetworkConfig {
  return {
    network: 'base-sepolia',
    chainId: chain.chainId,
    rpcUrl: chain.url,
    feePayerKeyEnv: 'TEST_X402_FEE_PAYER_KEY',
    assets: [{ address: chain.token, symbol: 'USDC', decimals: 6 }],
    erc6492Factories: [chain.factory],
    ...extra,
  };
}

export async function startFacilitator(
  chain: TestChain,
  options: { network?: Partial<X402NetworkConfig>; feePayerKey?: string; ledger?: X402SettlementLedger } & Partial<FacilitatorOptions> = {},
): Promise<{ facilitator: EvmFacilitator; ledger: X402SettlementLedger; network: X402NetworkConfig; stop(): Promise<void> }> {
  let journal: Journal | undefined;
  let dir: string | undefined;
  let ledger = options.ledger;
  if (!ledger) {
    dir = await mkdtemp(join(tmpdir(), 'paywire-x402-'));
    journal = new Journal({ dir, fsync: false });
    ledger = new JournalX402SettlementsStore(journal);
    await journal.open();
  }
  const network = networkConfig(chain, options.network);
  const facilitator = createFacilitator({
    networks: [network],
    registry: configAssetRegistry([network]),
    ledger,
    log: pino({ level: 'silent' }),
    env: { TEST_X402_FEE_PAYER_KEY: options.feePayerKey ?? chain.keys.feePayer },
    retryCount: 0,
    pollingIntervalMs: 20,
    reconcileIntervalMs: 60_000,
    ...options,
  });
  return {
    facilitator,
    ledger,
    network,
    async stop() {
      await facilitator.stop();
      await journal?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startHarness(): Promise<Harness> {
  const chain = await startChain();
  const f = await startFacilitator(chain);
  return {
    chain,
    ...f,
    async stop() {
      await f.stop();
      await chain.stop();
    },
  };
}

/** Parse a wire body; fail the test when it does not parse. */
export function request(body: unknown): FacilitatorRequest {
  const parsed = parseFacilitatorRequest(body);
  if (isRequestProblem(parsed)) throw new Error(`body did not parse: ${parsed.code} ${parsed.details}`);
  return parsed;
}
