/**
 * The EIP-712 domain (`name`, `version`) of a token, which x402 puts in `extra` so a payer can sign its
 * EIP-3009 authorization: from `X402_NETWORKS` when the operator wrote it there, else read once from the
 * token (EIP-5267 `eip712Domain()`, or `name()` and `version()`) and kept.
 */
import { createPublicClient, getAddress, http, parseAbi, type PublicClient } from 'viem';
import type { X402NetworkConfig } from '../evm/networks.js';

export interface TokenDomain {
  name: string;
  version: string;
}

const ABI = parseAbi([
  'function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)',
  'function name() view returns (string)',
  'function version() view returns (string)',
]);

/** How long a failed read is remembered before it is tried again. */
const RETRY_MS = 30_000;

export class TokenDomains {
  private readonly networks: readonly X402NetworkConfig[];
  private readonly clients = new Map<number, PublicClient>();
  private readonly known = new Map<string, Promise<TokenDomain | undefined>>();

  constructor(networks: readonly X402NetworkConfig[]) {
    this.networks = networks;
  }

  /** The domain of `asset` on `network`, or undefined when it cannot be had (the price is then not offered). */
  domain(network: X402NetworkConfig, asset: string): Promise<TokenDomain | undefined> {
    const key = `${network.chainId}|${asset.toLowerCase()}`;
    let found = this.known.get(key);
    if (found === undefined) {
      found = this.resolve(network, asset);
      this.known.set(key, found);
      // A chain that could not be reached is asked again later, not never.
      void found.then((d) => {
        if (d === undefined) setTimeout(() => this.known.delete(key), RETRY_MS).unref();
      });
    }
    return found;
  }

  private async resolve(network: X402NetworkConfig, asset: string): Promise<TokenDomain | undefined> {
    const configured = network.assets?.find((a) => a.address.toLowerCase() === asset.toLowerCase());
    if (configured?.name !== undefined && configured.version !== undefined) return { name: configured.name, version: configured.version };
    const client = this.client(network);
    const address = getAddress(asset);
    try {
      const [, name, version] = await client.readContract({ address, abi: ABI, functionName: 'eip712Domain' });
      return { name, version };
    } catch {
      // Not every EIP-3009 token implements EIP-5267 (USDC does not): ask name() and version().
    }
    try {
      const [name, version] = await Promise.all([
        client.readContract({ address, abi: ABI, functionName: 'name' }),
        client.readContract({ address, abi: ABI, functionName: 'version' }),
      ]);
      return { name, version };
    } catch {
      return undefined;
    }
  }

  private client(network: X402NetworkConfig): PublicClient {
    let client = this.clients.get(network.chainId);
    if (!client) {
      client = createPublicClient({ transport: http(network.rpcUrl, { timeout: 5_000, retryCount: 0 }) }) as PublicClient;
      this.clients.set(network.chainId, client);
    }
    return client;
  }

  /** Networks this bridge runs. */
  get configured(): readonly X402NetworkConfig[] {
    return this.networks;
  }
}
