/**
 * One configured EVM network: its RPC client (viem; JSON-RPC requests issued together go out as one batch), the fee
 * payer's account (key read from the named environment variable, never logged), the per-token EIP-712 domains
 * (read once and cached), and the reads verify needs — gathered across the verifications in flight into one
 * deployless `eth_call` over a lean JSON-RPC client (batch-reads.ts, json-rpc.ts).
 */
import { createPublicClient, defineChain, http, type Address, type Chain, type Hex, type PublicClient } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import type { Logger } from 'pino';
import { EIP3009_ABI } from './abi.js';
import type { ExactEvmAuthorization } from '../types.js';
import { BatchReads, type TokenReads } from './batch-reads.js';
import { JsonRpcHttp } from './json-rpc.js';
import { domainSeparator } from './digest.js';
import { caip2, PRIVATE_KEY, type X402NetworkConfig } from './networks.js';

export interface Eip712Domain {
  name: string;
  version: string;
}

export interface NetworkOptions {
  env: Record<string, string | undefined>;
  log: Logger;
  /** viem transport retries (tests use 0). */
  retryCount?: number;
  /** Receipt and read polling (ms). */
  pollingIntervalMs?: number;
}

export class EvmNetwork {
  readonly config: X402NetworkConfig;
  /** The v1 name. */
  readonly network: string;
  readonly caip2: string;
  readonly chainId: number;
  readonly chain: Chain;
  readonly client: PublicClient;
  /** Undefined when the key variable is missing or not a key: the network is then inactive. */
  readonly account: PrivateKeyAccount | undefined;
  readonly receiptTimeoutMs: number;
  readonly pollingIntervalMs: number;
  private readonly factories: Set<string>;
  private readonly domains = new Map<string, Promise<Eip712Domain | undefined>>();
  private readonly separators = new Map<string, Uint8Array>();
  private readonly log: Logger;
  /** The verifications' chain reads, gathered into shared calls (batch-reads.ts). */
  readonly batch: BatchReads;
  private readonly rpc: JsonRpcHttp;

  constructor(config: X402NetworkConfig, options: NetworkOptions) {
    this.config = config;
    this.network = config.network;
    this.chainId = config.chainId;
    this.caip2 = caip2(config.chainId);
    this.log = options.log;
    this.receiptTimeoutMs = config.receiptTimeoutMs ?? 20_000;
    this.pollingIntervalMs = options.pollingIntervalMs ?? 250;
    this.factories = new Set((config.erc6492Factories ?? []).map((f) => f.toLowerCase()));
    this.chain = defineChain({
      id: config.chainId,
      name: config.network,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [config.rpcUrl] } },
    });
    this.client = createPublicClient({
      chain: this.chain,
      transport: http(config.rpcUrl, { batch: { wait: 0, batchSize: 200 }, retryCount: options.retryCount ?? 2, timeout: 10_000 }),
      pollingInterval: this.pollingIntervalMs,
    }) as PublicClient;
    this.rpc = new JsonRpcHttp(config.rpcUrl, { timeoutMs: 10_000 });
    this.batch = new BatchReads(this.rpc);
    const key = options.env[config.feePayerKeyEnv]?.trim();
    if (key && PRIVATE_KEY.test(key)) {
      this.account = privateKeyToAccount(key as Hex);
    } else {
      // Name the variable, never its value.
      this.log.error({ network: config.network, variable: config.feePayerKeyEnv }, 'x402 network inactive: its fee payer key variable is unset or not a key');
      this.account = undefined;
    }
  }

  get active(): boolean {
    return this.account !== undefined;
  }

  get feePayer(): string {
    return this.account?.address ?? '';
  }

  factoryAllowed(factory: string): boolean {
    return this.factories.has(factory.toLowerCase());
  }

  /**
   * The token's EIP-712 domain: read from the token (`name()`, `version()`) once and cached; the requirements'
   * `extra.name`/`extra.version` stand in when the token does not answer. Signing against the token's own domain
   * means a payment signed for another domain is refused at verify, not reverted at settle.
   */
  async domain(token: Address, extra: Record<string, unknown> | null | undefined): Promise<Eip712Domain | undefined> {
    const key = token.toLowerCase();
    let cached = this.domains.get(key);
    if (!cached) {
      cached = Promise.all([
        this.client.readContract({ address: token, abi: EIP3009_ABI, functionName: 'name' }),
        this.client.readContract({ address: token, abi: EIP3009_ABI, functionName: 'version' }),
      ]).then(
        ([name, version]) => ({ name, version }),
        () => undefined,
      );
      this.domains.set(key, cached);
      // A failed read is not cached: the RPC may be back next time.
      void cached.then((d) => d === undefined && this.domains.delete(key));
    }
    const onChain = await cached;
    if (onChain) return onChain;
    if (typeof extra?.['name'] === 'string' && typeof extra['version'] === 'string') return { name: extra['name'], version: extra['version'] };
    return undefined;
  }

  /** The EIP-712 domain separator of a token's domain on this chain, computed once. */
  separator(token: Address, domain: Eip712Domain): Uint8Array {
    const key = `${token.toLowerCase()}|${domain.name}|${domain.version}`;
    let separator = this.separators.get(key);
    if (!separator) {
      separator = domainSeparator(domain.name, domain.version, this.chainId, token);
      if (this.separators.size > 1_000) this.separators.clear();
      this.separators.set(key, separator);
    }
    return separator;
  }

  /**
   * The signer of an authorization under the token's domain, by the node (EIP-712 digest and `ecrecover` precompile)
   * in the call that carries the other reads of the verifications in flight; undefined when it recovers nobody.
   * The signature's form (length, `v`, low `s`) is checked by the caller first: the precompile takes high-s
   * signatures the token refuses.
   */
  recoverAuthorization(token: Address, domain: Eip712Domain, a: ExactEvmAuthorization, signature: string): Promise<string | undefined> {
    return this.batch.recoverAuthorization(this.separator(token, domain), a, signature);
  }

  /** The payer's token balance and whether the authorization's nonce is used (EIP-3009 `authorizationState`), read together. */
  reads(token: Address, from: Address, nonce: Hex): Promise<TokenReads> {
    return this.batch.read(token, from, nonce);
  }

  /** Close the kept-alive RPC sockets. */
  close(): void {
    this.rpc.close();
  }

  async hasCode(address: Address): Promise<boolean> {
    const code = await this.client.getCode({ address });
    return code !== undefined && code !== '0x';
  }

  /** The latest block, or undefined when the RPC does not answer within `timeoutMs`. */
  async blockNumber(timeoutMs = 2_000): Promise<number | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)));
      return Number(await Promise.race([this.client.getBlockNumber({ cacheTime: 0 }), timeout]));
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
