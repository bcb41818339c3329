/**
 * Machines that agents buy over x402, assembled: the purchase service (purchase.ts), its Lightning
 * invoices (invoices.ts), the tokens' EIP-712 domains (domains.ts) and the route (routes.ts). `main.ts`
 * adds `routes` to the machine-payments family.
 */
import type { Router } from '@koa/router';
import type { Logger } from 'pino';
import { RateLimiter } from '../../http/rate-limit.js';
import type { DeviceStateSource } from '../../lightning/links.js';
import type { Settlement } from '../../lightning/settlement.js';
import type { LightningStore } from '../../lightning/store.js';
import type { Wallets } from '../../lightning/wallets.js';
import type { EventLog } from '../../machines/event-log.js';
import type { MachinesStore } from '../../machines/store.js';
import type { Metrics } from '../../metrics.js';
import type { X402NetworkConfig } from '../evm/networks.js';
import type { X402SettlementLedger } from '../ledger.js';
import type { AssetRegistry, Facilitator } from '../types.js';
import { TokenDomains } from './domains.js';
import { X402Invoices } from './invoices.js';
import { AgentPurchases } from './purchase.js';
import { agentRoutes } from './routes.js';

export interface AgentSalesOptions {
  machines: MachinesStore;
  payments: LightningStore;
  settlement: Settlement;
  events: EventLog;
  wallets: Wallets;
  deviceState: DeviceStateSource;
  facilitator: Facilitator | undefined;
  ledger: X402SettlementLedger | undefined;
  registry: AssetRegistry | undefined;
  networks: readonly X402NetworkConfig[];
  /** `PUBLIC_URL` + the machine-payments prefix: where buyers reach the route. */
  publicBase: () => string;
  invoiceExpirySeconds: number;
  /** LNURL_INVOICES_PER_ASSET_PER_MINUTE: a 402 answer makes an invoice like an LNURL callback. */
  invoicesPerAssetPerMinute: number;
  /** LNURL_CALLBACKS_PER_MINUTE: requests per client address. */
  requestsPerAddressPerMinute: number;
  log: Logger;
  metrics?: Metrics | undefined;
}

export function createAgentSales(options: AgentSalesOptions): { purchases: AgentPurchases; routes: (router: Router) => void } {
  const log = options.log;
  const invoices = new X402Invoices({
    store: options.payments,
    wallets: options.wallets,
    expirySeconds: options.invoiceExpirySeconds,
    limiter: new RateLimiter(options.invoicesPerAssetPerMinute, 60_000),
    log,
  });
  const purchases = new AgentPurchases({
    machines: options.machines,
    payments: options.payments,
    settlement: options.settlement,
    events: options.events,
    deviceState: options.deviceState,
    invoices,
    facilitator: options.facilitator,
    ledger: options.ledger,
    registry: options.registry,
    networks: options.networks,
    domains: new TokenDomains(options.networks),
    resourceUrl: (assetId) => `${options.publicBase()}/api/v1/assets/${assetId}/x402`,
    log,
    metrics: options.metrics,
  });
  // Pending x402 payments are settled (or given up) by the settlement poll, from the facilitator's ledger.
  options.settlement.watchX402Transfers((payment) => purchases.transferState(payment));
  const routes = agentRoutes({ purchases, limiter: new RateLimiter(options.requestsPerAddressPerMinute, 60_000), metrics: options.metrics });
  return { purchases, routes };
}
