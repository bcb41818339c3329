/**
 * What the x402 agent tests share: a local chain (test/helpers/chain.ts, chain id 84532 named
 * `base-sepolia` for the v1 client), a bridge whose facilitator runs on it, and a machine: an account, an
 * asset priced in the chain's EIP-3009 token, and a device subscribed to its payments over MQTT.
 */
import { rm } from 'node:fs/promises';
import { getAddress } from 'viem';
import { expect } from 'vitest';
import { startBridge, type TestBridge } from '../../helpers/bridge.js';
import { startChain, TOKEN_NAME, TOKEN_VERSION, type TestChain } from '../../helpers/chain.js';
import { connectMqtt, type TestClient } from '../../helpers/mqtt.js';
import { until } from '../../helpers/receiver.js';

export const FEE_PAYER_ENV = 'X402_AGENTS_TEST_FEE_PAYER_KEY';
/** 0.01 of the 6-decimal test USDC per run. */
export const PRICE = '10000';

export interface AgentWorld {
  chain: TestChain;
  /** The token's address, checksummed (as the bridge states it). */
  token: `0x${string}`;
  t: TestBridge;
  clients: TestClient[];
  /** Stop the bridge and start it again on the same data (directory, or PostgreSQL schema); `t` is the new one. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(overrides: Record<string, unknown> = {}, network: Record<string, unknown> = {}): Promise<AgentWorld> {
  const chain = await startChain();
  // The fee payer's key is read from the environment variable the network names, never from config.
  process.env[FEE_PAYER_ENV] = chain.keys.feePayer;
  const networks = [
    {
      network: 'base-sepolia',
      chainId: chain.chainId,
      rpcUrl: chain.url,
      feePayerKeyEnv: FEE_PAYER_ENV,
      assets: [{ address: chain.token, symbol: 'USDC', decimals: 6, name: TOKEN_NAME, version: TOKEN_VERSION }],
      ...network,
    },
  ];
  // One test file buys many runs from 127.0.0.1 within a minute: the purchase route's per-address limit
  // (LNURL_CALLBACKS_PER_MINUTE, 120 by default) is not what these tests are about.
  const config = { X402_NETWORKS: JSON.stringify(networks), LNURL_CALLBACKS_PER_MINUTE: '100000', ...overrides };
  const env = { [FEE_PAYER_ENV]: chain.keys.feePayer };
  const first = await startBridge(config, { env });
  const clients: TestClient[] = [];
  const world: AgentWorld = {
    chain,
    token: getAddress(chain.token),
    t: first,
    clients,
    async restart() {
      await world.t.stop();
      world.t = await startBridge(config, { env, dataDir: first.dataDir });
    },
    async close() {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      if (world.t === first) {
        await first.close();
      } else {
        await world.t.stop();
        await rm(first.dataDir, { recursive: true, force: true });
      }
      await chain.stop();
    },
  };
  return world;
}

export interface Machine {
  key: string;
  userId: string;
  assetId: string;
  path: string;
  topic: string;
  device: TestClient;
  /** The MQTT payment messages so far. */
  payments(): Record<string, unknown>[];
  /** Wait for the `n`th payment message. */
  nth(n: number): Promise<Record<string, unknown>>;
}

/** An account selling runs of one asset for PRICE test USDC (and its sats price), with a device listening. */
export async function sellingMachine(world: AgentWorld, asset: Record<string, unknown> = {}): Promise<Machine> {
  const { t, chain } = world;
  const acct = await t.signup('agent-shop');
  const created = await t.request('POST', '/api/v1/assets', {
    token: acct.key,
    body: {
      name: 'Charger',
      price_sats: 50,
      duration_ms: 60_000,
      x402: { pay_to: chain.accounts.merchant.address, prices: [{ network: 'base-sepolia', asset: chain.token, amount: PRICE }] },
      ...asset,
    },
  });
  expect(created.status).toBe(201);
  const assetId = created.body.asset_id as string;
  const device = await connectMqtt(`mqtt://127.0.0.1:${t.info.mqttPort}`, { username: acct.userId, password: acct.key });
  world.clients.push(device);
  const topic = `paywire/${acct.userId}/${assetId}/payment`;
  await device.client.subscribeAsync(topic, { qos: 1 });
  const payments = () => device.on(topic) as Record<string, unknown>[];
  return {
    key: acct.key,
    userId: acct.userId,
    assetId,
    path: `/api/v1/assets/${assetId}/x402`,
    topic,
    device,
    payments,
    nth: async (n) => (await until(() => payments()[n - 1], 5000, `MQTT payment ${n}`)) as Record<string, unknown>,
  };
}

export const unb64 = (s: string | null): any => JSON.parse(Buffer.from(s ?? '', 'base64').toString('utf8'));
export const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');
