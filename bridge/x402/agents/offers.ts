/**
 * What an asset's x402 prices offer a payer: one `exact` EVM requirement per price whose network this
 * bridge runs and whose token is registered and active, in both wire versions (x402 v1
 * `PaymentRequirements` with `maxAmountRequired` and the resource inside; v2 with a CAIP-2 network and
 * `amount`, the resource beside it). `extra` carries the token's EIP-712 domain (EIP-3009 signing).
 */
import { caip2, findNetwork, type X402NetworkConfig } from '../evm/networks.js';
import type { AssetRecord, AssetX402Price } from '../../machines/types.js';
import type { AssetRegistry, PaymentRequirementsV1, PaymentRequirementsV2 } from '../types.js';
import type { TokenDomains } from './domains.js';

/** How long a payer's authorization may stay valid (v1 and v2 clients set validBefore = now + this). */
export const MAX_TIMEOUT_SECONDS = 300;

/** One EVM price as offered: the same terms in both versions. */
export interface EvmOffer {
  price: AssetX402Price;
  network: X402NetworkConfig;
  v1: PaymentRequirementsV1 & { extra: Record<string, unknown> };
  v2: PaymentRequirementsV2 & { extra: Record<string, unknown> };
}

export interface Resource {
  url: string;
  description: string;
  mimeType: string;
}

export function describeRun(asset: AssetRecord): string {
  const ms = asset.duration_ms;
  return `${asset.name}: one run of ${ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`}`;
}

export async function evmOffers(
  asset: AssetRecord,
  resource: Resource,
  deps: { networks: readonly X402NetworkConfig[]; registry: AssetRegistry | undefined; domains: TokenDomains },
): Promise<EvmOffer[]> {
  const terms = asset.x402;
  if (!terms) return [];
  const offers: EvmOffer[] = [];
  for (const price of terms.prices) {
    const network = findNetwork(deps.networks, price.network);
    if (!network) continue;
    if (deps.registry && !(await deps.registry.findActive(network.network, price.asset))) continue;
    const domain = await deps.domains.domain(network, price.asset);
    if (!domain) continue;
    const extra = { name: domain.name, version: domain.version };
    offers.push({
      price,
      network,
      v1: {
        scheme: 'exact',
        network: network.network,
        maxAmountRequired: price.amount,
        resource: resource.url,
        description: resource.description,
        mimeType: resource.mimeType,
        payTo: terms.pay_to,
        maxTimeoutSeconds: MAX_TIMEOUT_SECONDS,
        asset: price.asset,
        extra,
      },
      v2: {
        scheme: 'exact',
        network: caip2(network.chainId),
        amount: price.amount,
        asset: price.asset,
        payTo: terms.pay_to,
        maxTimeoutSeconds: MAX_TIMEOUT_SECONDS,
        extra,
      },
    });
  }
  return offers;
}

/** The offers a v1 payment may be for: its network (by v1 name or CAIP-2 id), any token priced there. */
export function offersForV1(offers: EvmOffer[], network: unknown): EvmOffer[] {
  if (typeof network !== 'string') return [];
  return offers.filter((o) => o.network.network === network || caip2(o.network.chainId) === network);
}

/** The offer a v2 payment accepted: same network and token. */
export function offerForV2(offers: EvmOffer[], accepted: Record<string, unknown>): EvmOffer | undefined {
  const { network, asset } = accepted;
  if (typeof network !== 'string' || typeof asset !== 'string') return undefined;
  return offers.find((o) => (o.v2.network === network || o.network.network === network) && o.price.asset.toLowerCase() === asset.toLowerCase());
}
