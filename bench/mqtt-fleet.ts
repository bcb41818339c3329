/**
 * Set-up for `bench/mqtt`, none of it timed: a real `Bridge` (dev backend, MQTT on port 0, limits
 * off, JOURNAL_FSYNC on), one account with N assets made over HTTP (each with a payment link and a
 * device credential), pending invoices made through each link's LNURL callback (LUD-06), and the
 * handle on the clients' worker thread (`bench/mqtt-worker.ts`).
 */
import { mkdtemp } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadConfig } from '../bridge/config.js';
import { createLogger } from '../bridge/log.js';
import { Bridge } from '../bridge/main.js';
import { assetTopic } from '../broker/topics.js';
import { send, type BenchReply } from './http.js';
import type { DeviceSpec, SettleJob, WorkerReply, WorkerRequest } from './mqtt-protocol.js';

export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
export const PRICE_SATS = 100;
export const DURATION_MS = 30_000;
const CONCURRENCY = 32;

export interface Fleet {
  bridge: Bridge;
  dir: string;
  url: string;
  mqttUrl: string;
  userId: string;
  apiKey: string;
  devices: DeviceSpec[];
  /** Each asset's LNURL callback path, with the amount. */
  callbacks: string[];
  agent: Agent;
}

export async function startFleet(size: number): Promise<Fleet> {
  const dir = await mkdtemp(join(tmpdir(), 'paywire-bench-mqtt-'));
  const overrides = {
    PORT: 0,
    HOST: '127.0.0.1',
    MQTT_PORT: 0,
    DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    ADMIN_TOKEN,
    RATE_LIMIT_PER_MINUTE: 0,
    SIGNUPS_PER_HOUR: 0,
    LNURL_CALLBACKS_PER_MINUTE: 0,
    LNURL_INVOICES_PER_ASSET_PER_MINUTE: 0,
  };
  const config = loadConfig({ env: {}, overrides });
  const bridge = new Bridge(config, createLogger('silent'));
  const info = await bridge.start();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const fleet: Fleet = { bridge, dir, url: info.url, mqttUrl: `mqtt://127.0.0.1:${info.mqttPort}`, userId: '', apiKey: '', devices: [], callbacks: [], agent };
  try {
    const account = await json(fleet, 'POST', '/api/v1/accounts', 201, undefined, { label: 'bench-fleet' });
    fleet.userId = String(account['user_id']);
    fleet.apiKey = String(account['api_key']);
    await lanes(size, CONCURRENCY, async (i) => {
      const key = fleet.apiKey;
      const asset = await json(fleet, 'POST', '/api/v1/assets', 201, key, { name: `Bench machine ${i}`, price_sats: PRICE_SATS, duration_ms: DURATION_MS });
      const assetId = String(asset['asset_id']);
      const link = await json(fleet, 'POST', `/api/v1/assets/${assetId}/payment-link`, 201, key, {});
      const payRequest = await json(fleet, 'GET', new URL(String(link['url'])).pathname, 200);
      if (payRequest['tag'] !== 'payRequest') throw new Error(`unexpected payRequest ${JSON.stringify(payRequest)}`);
      fleet.callbacks[i] = `${new URL(String(payRequest['callback'])).pathname}?amount=${PRICE_SATS * 1000}`;
      const credential = await json(fleet, 'POST', `/api/v1/assets/${assetId}/device-credentials`, 201, key, { label: `bench ${i}` });
      fleet.devices[i] = {
        username: String(credential['username']),
        password: String(credential['password']),
        assetId,
        topic: assetTopic(fleet.userId, assetId, 'payment'),
      };
    });
  } catch (err) {
    await stopFleet(fleet);
    throw err;
  }
  return fleet;
}

export async function stopFleet(fleet: Fleet): Promise<void> {
  fleet.agent.destroy();
  await fleet.bridge.stop();
}

/** `count` pending invoices through the LNURL callbacks, round-robin over the assets starting at `from`. */
export async function makeInvoices(fleet: Fleet, count: number, from = 0): Promise<SettleJob[]> {
  const jobs: SettleJob[] = [];
  await lanes(count, CONCURRENCY, async (i) => {
    const device = (from + i) % fleet.callbacks.length;
    const reply = await call(fleet, 'GET', fleet.callbacks[device] as string);
    const body = JSON.parse(reply.text) as { pr?: string; verify?: string };
    const hash = /\/verify\/([0-9a-f]{64})$/.exec(body.verify ?? '')?.[1];
    if (reply.status !== 200 || hash === undefined || !body.pr?.startsWith('lnbcrt')) throw new Error(`callback answered ${reply.status}: ${reply.text}`);
    jobs[i] = { hash, device };
  });
  return jobs;
}

// ---------------------------------------------------------------------------------------------------
// The clients' worker

export class Clients {
  private readonly worker: Worker;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (reply: WorkerReply) => {
      const call = this.calls.get(reply.id);
      this.calls.delete(reply.id);
      if (reply.ok) call?.resolve(reply.value);
      else call?.reject(new Error(`clients' worker: ${reply.error}`));
    });
    worker.on('error', (err) => {
      for (const call of this.calls.values()) call.reject(err);
      this.calls.clear();
    });
  }

  /** Start the worker; `bench/mqtt-worker.ts` is TypeScript, so tsx is registered in the worker first. */
  static async start(): Promise<Clients> {
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./mqtt-worker.ts', import.meta.url).href;
    const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry)});`;
    const clients = new Clients(new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`)));
    await clients.ask({ cmd: 'clock' }); // the worker is up and listening
    return clients;
  }

  ask<T>(req: DistributiveOmit<WorkerRequest, 'id'>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

// ---------------------------------------------------------------------------------------------------
// HTTP

function call(fleet: Fleet, method: string, path: string, token?: string, body?: string): Promise<BenchReply> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return send({ agent: fleet.agent, base: new URL(fleet.url), method, path, headers, ...(body === undefined ? {} : { body }) });
}

async function json(fleet: Fleet, method: string, path: string, expect: number, token?: string, body?: unknown): Promise<Record<string, unknown>> {
  const reply = await call(fleet, method, path, token, body === undefined ? undefined : JSON.stringify(body));
  if (reply.status !== expect) throw new Error(`${method} ${path} answered ${reply.status}: ${reply.text}`);
  return JSON.parse(reply.text) as Record<string, unknown>;
}

/** Run op(0..count-1), `concurrency` at a time. */
async function lanes(count: number, concurrency: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) await op(i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}
