/**
 * The token registry (`AssetRegistry` of types.ts): which tokens the facilitator accepts. Tokens come
 * from config (each network's `assets` in X402_NETWORKS, registered at start unless already there, so
 * an admin's later change is never undone by a restart) and from `POST /admin/assets`. A network is
 * named by its v1 name (`base-sepolia`) or its CAIP-2 id (`eip155:84532`, x402 v2), which resolves to
 * the configured network of that chain id.
 */
import { getAddress, isAddress } from 'viem';
import type { AssetRegistry, RegisteredAsset } from './types.js';
import type { X402AssetRecord, X402Store } from './store.js';

/** What the registry needs of a configured network (a subset of X402_NETWORKS' entries). */
export interface RegistryNetwork {
  network: string;
  chainId: number;
  assets?: { address: string; symbol: string; decimals: number; name?: string; version?: string }[];
}

const CAIP2_EVM = /^eip155:(\d{1,18})$/;

export class StoreAssetRegistry implements AssetRegistry {
  private readonly store: X402Store;
  private readonly networks: RegistryNetwork[];

  constructor(store: X402Store, networks: RegistryNetwork[]) {
    this.store = store;
    this.networks = networks;
  }

  /** Register the configured tokens that are not registered yet. */
  async seed(): Promise<void> {
    const now = new Date().toISOString();
    for (const net of this.networks) {
      for (const a of net.assets ?? []) {
        if (!isAddress(a.address, { strict: false })) continue; // config validation reports it
        await this.store.putAsset(
          {
            network: net.network,
            asset: getAddress(a.address),
            symbol: a.symbol,
            decimals: a.decimals,
            active: true,
            name: a.name ?? null,
            version: a.version ?? null,
            source: 'config',
            created: now,
            updated: now,
          },
          'insert',
        );
      }
    }
  }

  /** The v1 name a network id stands for (a CAIP-2 id of a configured chain, or the name itself). */
  resolveNetwork(network: string): string {
    const m = CAIP2_EVM.exec(network);
    if (!m) return network;
    return this.networks.find((n) => n.chainId === Number(m[1]))?.network ?? network;
  }

  async findActive(network: string, asset: string): Promise<RegisteredAsset | undefined> {
    const found = await this.store.findAsset(this.resolveNetwork(network), asset);
    return found?.active ? assetView(found) : undefined;
  }

  /** The admin's registration: created, or replacing the fields of the one already there. */
  async register(input: {
    network: string;
    asset: string;
    symbol: string;
    decimals: number;
    active: boolean;
    name?: string | undefined;
    version?: string | undefined;
  }): Promise<{ asset: X402AssetRecord; created: boolean }> {
    const now = new Date().toISOString();
    return this.store.putAsset(
      {
        network: this.resolveNetwork(input.network),
        asset: getAddress(input.asset),
        symbol: input.symbol,
        decimals: input.decimals,
        active: input.active,
        name: input.name ?? null,
        version: input.version ?? null,
        source: 'admin',
        created: now,
        updated: now,
      },
      'upsert',
    );
  }

  async list(activeOnly: boolean): Promise<X402AssetRecord[]> {
    return this.store.listAssets(activeOnly);
  }
}

/** The seed's asset shape. */
export function assetView(a: X402AssetRecord): RegisteredAsset {
  return { id: a.id, network: a.network, asset: a.asset, symbol: a.symbol, decimals: a.decimals, active: a.active };
}
