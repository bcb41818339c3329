/**
 * An `AssetRegistry` over the assets listed in `X402_NETWORKS` alone (the x402 store's registry adds the assets of
 * `POST /admin/assets`). Used where no store is at hand: tests, benchmarks, embedders.
 */
import { getAddress } from 'viem';
import type { AssetRegistry, RegisteredAsset } from '../types.js';
import { caip2, type X402NetworkConfig } from './networks.js';

export function configAssetRegistry(networks: readonly X402NetworkConfig[]): AssetRegistry & { list(): RegisteredAsset[] } {
  const assets: (RegisteredAsset & { caip2: string })[] = [];
  for (const n of networks) {
    for (const a of n.assets ?? []) {
      assets.push({
        id: assets.length + 1,
        network: n.network,
        caip2: caip2(n.chainId),
        asset: getAddress(a.address),
        symbol: a.symbol,
        decimals: a.decimals,
        active: true,
      });
    }
  }
  return {
    async findActive(network, asset) {
      const found = assets.find((a) => (a.network === network || a.caip2 === network) && a.asset.toLowerCase() === asset.toLowerCase() && a.active);
      if (!found) return undefined;
      const { caip2: _, ...registered } = found;
      return registered;
    },
    list: () => assets.map(({ caip2: _, ...a }) => a),
  };
}
