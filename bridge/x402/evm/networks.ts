/**
 * The EVM networks the facilitator serves (`X402_NETWORKS`, a JSON array) and their names: the v1 name
 * (`base-sepolia`) and the CAIP-2 id (`eip155:84532`, x402 v2 §11.1). The fee payer's private key is never part of
 * the config: `feePayerKeyEnv` names the environment variable that holds it.
 */
import { z } from 'zod';

export interface X402AssetConfig {
  address: `0x${string}`;
  symbol: string;
  decimals: number;
  /** EIP-712 domain name and version (read from the token when absent). */
  name?: string;
  version?: string;
}

export interface X402NetworkConfig {
  /** v1 network name (`base-sepolia`); its v2 id is `eip155:<chainId>`. */
  network: string;
  chainId: number;
  rpcUrl: string;
  /** Name of the environment variable holding the fee payer's 0x-prefixed 32-byte private key. */
  feePayerKeyEnv: string;
  assets?: X402AssetConfig[];
  /** ERC-6492 factories whose deploy calls the fee payer may send for counterfactual wallets (default none). */
  erc6492Factories?: `0x${string}`[];
  /** How long settle waits for a receipt before answering pending (default 20 000 ms). */
  receiptTimeoutMs?: number;
  /**
   * Where an EOA signature's signer is recovered: `rpc` (default) by the node's `ecrecover` precompile, in the
   * `eth_call` that carries the balance and nonce reads of the verifications in flight (batch-reads.ts); `local` in
   * JavaScript (@noble/curves, about 1 ms of the bridge's CPU per signature).
   */
  ecrecover?: 'rpc' | 'local';
}

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address') as unknown as z.ZodType<`0x${string}`>;

const assetSchema = z.object({
  address,
  symbol: z.string().min(1).max(32),
  decimals: z.number().int().min(0).max(36),
  name: z.string().min(1).max(128).optional(),
  version: z.string().min(1).max(32).optional(),
});

const networkSchema = z.object({
  network: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be a lowercase name like base-sepolia')
    .refine((s) => !s.includes(':'), 'must be a v1 name, not a CAIP-2 id'),
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  rpcUrl: z
    .string()
    .url()
    .refine((s) => /^https?:\/\//.test(s), 'must be an http(s) URL'),
  feePayerKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'must be an environment variable name like X402_FEE_PAYER_KEY'),
  assets: z.array(assetSchema).max(100).optional(),
  erc6492Factories: z.array(address).max(100).optional(),
  receiptTimeoutMs: z.number().int().min(100).max(600_000).optional(),
  ecrecover: z.enum(['rpc', 'local']).optional(),
});

export const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;

/** Parse the `X402_NETWORKS` setting (a JSON string, or an array from a config file). */
export function parseNetworks(raw: unknown): { value: X402NetworkConfig[] } | { error: string } {
  let value = raw;
  if (typeof value === 'string') {
    if (value.trim() === '') return { value: [] };
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return { error: 'must be a JSON array of networks' };
    }
  }
  const parsed = z.array(networkSchema).max(32).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { error: `${issue?.path.length ? `[${issue.path.join('.')}] ` : ''}${issue?.message ?? 'is invalid'}` };
  }
  const networks = parsed.data as X402NetworkConfig[];
  const names = new Set<string>();
  const ids = new Set<number>();
  for (const n of networks) {
    if (names.has(n.network)) return { error: `names network ${n.network} twice` };
    if (ids.has(n.chainId)) return { error: `names chain id ${n.chainId} twice` };
    names.add(n.network);
    ids.add(n.chainId);
  }
  return { value: networks };
}

/** Each network's fee payer key variable must hold a key; the problems name the variable, never its value. */
export function feePayerKeyProblems(networks: readonly X402NetworkConfig[], env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  for (const n of networks) {
    const key = env[n.feePayerKeyEnv]?.trim();
    if (!key) problems.push(`X402_NETWORKS network ${n.network}: its fee payer key variable ${n.feePayerKeyEnv} is not set`);
    else if (!PRIVATE_KEY.test(key)) problems.push(`X402_NETWORKS network ${n.network}: ${n.feePayerKeyEnv} must hold a 0x-prefixed 32-byte hex private key`);
  }
  return problems;
}

/** x402 v2 network id (CAIP-2) of a chain. */
export const caip2 = (chainId: number): string => `eip155:${chainId}`;

/** The configured network a request names, by v1 name or CAIP-2 id. */
export function findNetwork<T extends { network: string; chainId: number }>(networks: readonly T[], name: string): T | undefined {
  return networks.find((n) => n.network === name || caip2(n.chainId) === name);
}
