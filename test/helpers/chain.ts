/**
 * A local EVM chain for the x402 tests, started from npm inside the test run: Hardhat 2's in-process network
 * (EDR) behind its own JSON-RPC HTTP server on a free port, chain id 84532 (Base Sepolia's, so the `x402` v1
 * client's `base-sepolia` works against it), automine on. At start it deploys the test contracts of
 * test/fixtures/contracts (the committed artifact): an EIP-3009 token (`USDC`, version `2`, 6 decimals), an
 * ERC-1271 smart wallet and an ERC-6492 factory, and funds the payers. One chain per test file (~0.5 s to boot).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  encodeFunctionData,
  http,
  keccak256,
  parseEther,
  toHex,
  type Abi,
  type Address,
  type Hex,
  type PublicClient,
  type WalletClient,
} from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';

const require = createRequire(import.meta.url);
const ARTIFACTS = JSON.parse(readFileSync(new URL('../fixtures/contracts/artifacts.json', import.meta.url), 'utf8')) as Record<
  string,
  { abi: Abi; bytecode: Hex }
>;

export const CHAIN_ID = 84532;
export const TOKEN_NAME = 'USDC';
export const TOKEN_VERSION = '2';

export const artifact = (name: string): { abi: Abi; bytecode: Hex } => {
  const a = ARTIFACTS[name];
  if (!a) throw new Error(`no artifact ${name}`);
  return a;
};
export const TOKEN_ABI = artifact('TestUSDC').abi;

/** A deterministic private key per label (never a real key). */
export const testKey = (label: string): Hex => keccak256(toHex(`paywire-test-${label}`));

export interface TestChain {
  url: string;
  chainId: number;
  chain: ReturnType<typeof defineChain>;
  client: PublicClient;
  /** Keys: `feePayer` (funded with ETH), `payer`, `payer2` (funded with tokens), `merchant`, `walletOwner`, `broke` (no ETH). */
  keys: Record<'deployer' | 'feePayer' | 'payer' | 'payer2' | 'merchant' | 'walletOwner' | 'broke', Hex>;
  accounts: Record<'deployer' | 'feePayer' | 'payer' | 'payer2' | 'merchant' | 'walletOwner' | 'broke', PrivateKeyAccount>;
  token: Address;
  /** A second EIP-3009 token, deployed but meant to stay unregistered. */
  otherToken: Address;
  /** An ERC-1271 wallet owned by `walletOwner`, deployed and funded. */
  smartWallet: Address;
  factory: Address;
  /** Milliseconds from start to ready (boot, deploy, fund). */
  bootMs: number;
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  balanceOf(address: Address, token?: Address): Promise<bigint>;
  mint(to: Address, amount: bigint, token?: Address): Promise<void>;
  /** Deploy a contract from the deployer. */
  deploy(name: string, args?: unknown[]): Promise<Address>;
  /** Send a call from the deployer and wait for it. */
  send(to: Address, data: Hex): Promise<Hex>;
  setAutomine(on: boolean): Promise<void>;
  mine(): Promise<void>;
  stop(): Promise<void>;
}

interface HardhatModules {
  createHardhatNetworkProvider(config: object, logger: object): Promise<unknown>;
  JsonRpcServer: new (config: { hostname: string; port: number; provider: unknown }) => {
    listen(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  };
  chains: unknown;
}

function hardhat(): HardhatModules {
  const { createHardhatNetworkProvider } = require('hardhat/internal/hardhat-network/provider/provider');
  const { JsonRpcServer } = require('hardhat/internal/hardhat-network/jsonrpc/server');
  const { defaultHardhatNetworkParams } = require('hardhat/internal/core/config/default-config');
  return { createHardhatNetworkProvider, JsonRpcServer, chains: defaultHardhatNetworkParams.chains };
}

export async function startChain(options: { tokenUnits?: bigint } = {}): Promise<TestChain> {
  const t0 = performance.now();
  const labels = ['deployer', 'feePayer', 'payer', 'payer2', 'merchant', 'walletOwner', 'broke'] as const;
  const keys = Object.fromEntries(labels.map((l) => [l, testKey(l)])) as TestChain['keys'];
  const accounts = Object.fromEntries(labels.map((l) => [l, privateKeyToAccount(keys[l])])) as TestChain['accounts'];
  const hh = hardhat();
  const provider = await hh.createHardhatNetworkProvider(
    {
      hardfork: 'prague',
      chainId: CHAIN_ID,
      networkId: CHAIN_ID,
      blockGasLimit: 60_000_000,
      minGasPrice: 0n,
      automine: true,
      intervalMining: 0,
      mempoolOrder: 'fifo',
      chains: hh.chains,
      genesisAccounts: (['deployer', 'feePayer', 'payer', 'payer2', 'merchant', 'walletOwner'] as const).map((l) => ({
        privateKey: keys[l],
        balance: parseEther('1000'),
      })),
      allowUnlimitedContractSize: false,
      throwOnTransactionFailures: false,
      throwOnCallFailures: false,
      allowBlocksWithSameTimestamp: false,
      enableTransientStorage: true,
      enableRip7212: false,
    },
    { enabled: false },
  );
  const server = new hh.JsonRpcServer({ hostname: '127.0.0.1', port: 0, provider });
  const { port } = await server.listen();
  const url = `http://127.0.0.1:${port}`;
  const chain = defineChain({
    id: CHAIN_ID,
    name: 'Local Base Sepolia',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  });
  const client = createPublicClient({ chain, transport: http(url, { retryCount: 0 }), pollingInterval: 20 }) as PublicClient;
  const wallet: WalletClient = createWalletClient({ chain, account: accounts.deployer, transport: http(url, { retryCount: 0 }) });

  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => (await client.request({ method, params } as never)) as T;
  const waitFor = async (hash: Hex): Promise<void> => {
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 20, timeout: 10_000 });
    if (receipt.status !== 'success') throw new Error(`transaction ${hash} reverted`);
  };
  const deploy = async (name: string, args: unknown[] = []): Promise<Address> => {
    const a = artifact(name);
    const hash = await wallet.deployContract({ abi: a.abi, bytecode: a.bytecode, args, account: accounts.deployer, chain });
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 20, timeout: 10_000 });
    if (!receipt.contractAddress) throw new Error(`deploying ${name} failed`);
    return receipt.contractAddress;
  };
  const send = async (to: Address, data: Hex): Promise<Hex> => {
    const hash = await wallet.sendTransaction({ to, data, account: accounts.deployer, chain });
    await waitFor(hash);
    return hash;
  };
  const mint = async (to: Address, amount: bigint, t: Address = token): Promise<void> => {
    await send(t, encodeFunctionData({ abi: TOKEN_ABI, functionName: 'mint', args: [to, amount] }));
  };

  const token = await deploy('TestUSDC', [TOKEN_NAME, TOKEN_VERSION]);
  const otherToken = await deploy('TestUSDC', ['Other', '1']);
  const smartWallet = await deploy('SmartWallet', [accounts.walletOwner.address]);
  const factory = await deploy('SmartWalletFactory');
  const units = options.tokenUnits ?? 1_000_000_000n;
  for (const to of [accounts.payer.address, accounts.payer2.address, smartWallet]) await mint(to, units);
  await mint(accounts.payer.address, units, otherToken);

  return {
    url,
    chainId: CHAIN_ID,
    chain,
    client,
    keys,
    accounts,
    token,
    otherToken,
    smartWallet,
    factory,
    bootMs: Math.round(performance.now() - t0),
    rpc,
    balanceOf: async (address, t = token) => (await client.readContract({ address: t, abi: TOKEN_ABI, functionName: 'balanceOf', args: [address] })) as bigint,
    mint,
    deploy,
    send,
    setAutomine: async (on) => void (await rpc('evm_setAutomine', [on])),
    mine: async () => void (await rpc('evm_mine')),
    stop: () => server.close(),
  };
}
