/**
 * The x402 family's part of the composition root: the services behind its routes, built from the
 * config, the stores and the secrets, with `start()`/`stop()` for what runs in the background (the
 * request metrics' flush). main.ts calls it and mounts `x402Family(deps, …)`.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { RateLimiter } from '../http/rate-limit.js';
import type { AccountsService } from '../machines/accounts.js';
import type { MachinesStore } from '../machines/store.js';
import type { Metrics } from '../metrics.js';
import { ClientKeys } from './clients.js';
import { StoreAssetRegistry, type RegistryNetwork } from './registry.js';
import { RequestMetrics } from './request-metrics.js';
import { ResourcesService } from './resources.js';
import type { X402Deps } from './routes/shared.js';
import { SettlementMetrics } from './settlement-metrics.js';
import type { X402Store } from './store.js';
import type { Facilitator, FacilitatorRequest, FacilitatorRequestProblem } from './types.js';
import { PasswordHasher } from './users/passwords.js';
import { UsersService } from './users/service.js';
import { SessionTokens } from './users/tokens.js';

export interface X402Parts {
  deps: X402Deps;
  registry: StoreAssetRegistry;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What the facilitator tells the REST layer. */
export interface FacilitatorHooks {
  /** A settlement's transaction is confirmed (also one first answered pending), with its gas (wei) when known. */
  onSettled(record: { tx_hash: string | null }, fee?: string): void;
  /** A settlement answered pending turned out failed (reverted, or never mined). */
  onFailed(record: { tx_hash: string | null }): void;
}

export interface X402ComposeOptions {
  config: Config;
  store: X402Store;
  machines: MachinesStore;
  accounts: AccountsService;
  sessionSecret: Uint8Array;
  adminTokenSha256: string;
  /** The configured networks (X402_NETWORKS): the registry's config tokens and CAIP-2 names. */
  networks: RegistryNetwork[];
  /** Builds the facilitator over the registry (x402-evm's `createFacilitator`), with the hooks it should call. */
  facilitator: (registry: StoreAssetRegistry, hooks: FacilitatorHooks) => Facilitator;
  parse: (body: unknown) => FacilitatorRequest | FacilitatorRequestProblem;
  /** Shared with the machine-payments signup: one allowance of signups per IP. */
  signupLimiter: RateLimiter;
  metrics: Metrics;
  log: Logger;
  version: string;
}

export function composeX402(o: X402ComposeOptions): X402Parts {
  const { config, store, log } = o;
  const registry = new StoreAssetRegistry(store, o.networks);
  const settlements = new SettlementMetrics(store, log);
  const facilitator = o.facilitator(registry, {
    onSettled: (record, fee) => {
      if (record.tx_hash) void settlements.resolved(record.tx_hash, { success: true, ...(fee !== undefined ? { fee } : {}) });
    },
    onFailed: (record) => {
      if (record.tx_hash) void settlements.resolved(record.tx_hash, { success: false });
    },
  });
  const requests = new RequestMetrics(store, log);
  const deps: X402Deps = {
    store,
    facilitator,
    parse: o.parse,
    registry,
    users: new UsersService({
      store,
      machines: o.machines,
      accounts: o.accounts,
      passwords: new PasswordHasher(config.x402ScryptN),
      tokens: new SessionTokens(o.sessionSecret, { accessSeconds: config.x402AccessTokenTtlSeconds, refreshSeconds: config.x402RefreshTokenTtlSeconds }),
    }),
    clients: new ClientKeys(store, o.sessionSecret, config.x402MaxClientsPerUser),
    resources: new ResourcesService(store, config.x402MaxResourcesPerUser),
    requests,
    settlements,
    adminTokenSha256: o.adminTokenSha256,
    signupLimiter: o.signupLimiter,
    loginLimiter: new RateLimiter(config.x402LoginsPerMinute, 60_000),
    clientLimiter: new RateLimiter(config.x402ClientRequestsPerMinute, 60_000),
    metrics: o.metrics,
    log,
    version: o.version,
    startedAt: Date.now(),
  };
  return {
    deps,
    registry,
    async start() {
      await registry.seed();
      requests.start();
    },
    async stop() {
      await requests.stop();
      await facilitator.stop();
    },
  };
}
