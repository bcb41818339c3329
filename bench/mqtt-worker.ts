/**
 * The clients' side of `bench/mqtt`, run in a `worker_threads` worker so nothing a client does runs
 * on the bridge's event loop: the device fleet (one real `mqtt` client per asset, subscribed QoS 1 to
 * its `…/payment` topic, recording when each message arrives), the payer (the admin dev settle over
 * keep-alive HTTP, open loop or one at a time) and the QoS 1 throughput harness (publishers and
 * subscribers in pairs, end-to-end window). Requests and replies: `bench/mqtt-protocol.ts`.
 */
import { Agent } from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort } from 'node:worker_threads';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { send } from './http.js';
import { gcFunction, gcWatch } from './mqtt-gc.js';
import type {
  DeviceSpec,
  FloodPair,
  FloodReply,
  Receipt,
  SettleJob,
  SettleMode,
  SettleReply,
  SettleResult,
  WorkerReply,
  WorkerRequest,
} from './mqtt-protocol.js';

/** A message not at its device this long after its settle was answered breaks the benchmark. */
const MESSAGE_TIMEOUT_MS = 5_000;

const port = parentPort;
if (!port) throw new Error('bench/mqtt-worker.ts runs only as a worker thread');

/** Milliseconds of the monotonic clock every thread of the process shares. */
function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const devices: MqttClient[] = [];
let receipts: Receipt[] = [];
/** Payment ids heard, and settles waiting to hear theirs (serial mode and the end of a phase). */
const heard = new Set<string>();
const waiting = new Map<string, () => void>();
const agent = new Agent({ keepAlive: true, maxSockets: 128 });
const collect = gcFunction();

port.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (value) => port.postMessage({ id: req.id, ok: true, value } satisfies WorkerReply),
    (err: unknown) => port.postMessage({ id: req.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies WorkerReply),
  );
});

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'clock':
      return now();
    case 'devices':
      return connectDevices(req.url, req.devices, req.concurrency);
    case 'settle':
      return settle(req.base, req.adminToken, req.mode, req.jobs);
    case 'drain':
      return takeReceipts();
    case 'close-devices':
      await Promise.all(devices.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
      return null;
    case 'flood':
      return flood(req.url, req.pairs, req.messages, req.window, req.payload, req.budgetMs);
  }
}

function options(clientId: string, login: { username: string; password: string } | undefined): IClientOptions {
  return { clientId, clean: true, reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 10_000, keepalive: 120, ...(login ?? {}) };
}

// ---------------------------------------------------------------------------------------------------
// The device fleet

/** Connect and subscribe every device, `concurrency` at a time; resolves with {connectMs}. */
async function connectDevices(url: string, specs: DeviceSpec[], concurrency: number): Promise<{ ms: number }> {
  const t0 = now();
  let next = 0;
  const one = async (index: number, spec: DeviceSpec): Promise<void> => {
    const client = await mqtt.connectAsync(url, options(`bench-device-${index}`, spec));
    client.on('message', (_topic, payload) => {
      const at = now(); // first thing: the moment this device's client has the message
      const m = JSON.parse(payload.toString('utf8')) as { payment_id: string; asset_id: string; amount_sats: number; duration_ms: number; rail: string };
      receipts.push({ device: index, at, paymentId: m.payment_id, assetId: m.asset_id, amountSats: m.amount_sats, durationMs: m.duration_ms, rail: m.rail });
      heard.add(m.payment_id);
      waiting.get(m.payment_id)?.();
    });
    client.on('error', () => undefined); // a broken connection shows up as missing messages
    devices[index] = client;
    const granted = await client.subscribeAsync(spec.topic, { qos: 1 });
    if (granted[0]?.qos !== 1) throw new Error(`device ${index} was granted ${JSON.stringify(granted)} on ${spec.topic}`);
  };
  const lane = async (): Promise<void> => {
    for (let i = next++; i < specs.length; i = next++) await one(i, specs[i] as DeviceSpec);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, lane));
  return { ms: now() - t0 };
}

function takeReceipts(): Receipt[] {
  const taken = receipts;
  receipts = [];
  return taken;
}

function untilHeard(paymentId: string): Promise<void> {
  if (heard.has(paymentId)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`payment ${paymentId} did not reach its device within ${MESSAGE_TIMEOUT_MS} ms`)), MESSAGE_TIMEOUT_MS);
    waiting.set(paymentId, () => {
      clearTimeout(timer);
      waiting.delete(paymentId);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// The payer

async function settleOne(base: URL, adminToken: string, job: SettleJob): Promise<SettleResult> {
  const reply = await send(
    { agent, base, method: 'POST', path: `/api/v1/dev/payments/${job.hash}/settle`, headers: { authorization: `Bearer ${adminToken}` } },
    now,
  );
  const answered = now();
  let parsed: { payment_id?: unknown; already_settled?: unknown } = {};
  try {
    parsed = JSON.parse(reply.text) as typeof parsed;
  } catch {
    // reported below through `status` and `body`
  }
  const paymentId = typeof parsed.payment_id === 'string' ? parsed.payment_id : '';
  return {
    hash: job.hash,
    device: job.device,
    sent: reply.sentAt,
    answered,
    status: reply.status,
    paymentId,
    alreadySettled: parsed.already_settled === true,
    body: paymentId ? '' : reply.text,
  };
}

async function settle(baseUrl: string, adminToken: string, mode: SettleMode, jobs: SettleJob[]): Promise<SettleReply> {
  const base = new URL(baseUrl);
  collect();
  const gc = gcWatch();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const results: SettleResult[] = [];
  let lagMaxMs = 0;
  let inFlight = 0;
  let inFlightMax = 0;
  const t0 = now();
  let lastSent = t0;
  if (mode.kind === 'serial') {
    for (const job of jobs) {
      inFlightMax = 1;
      const r = await settleOne(base, adminToken, job);
      results.push(r);
      lastSent = r.sent;
      if (r.paymentId) await untilHeard(r.paymentId);
    }
  } else {
    const pending: Promise<void>[] = [];
    for (const [i, job] of jobs.entries()) {
      const due = t0 + (i * 1000) / mode.rate;
      const wait = due - now();
      if (wait >= 1) await sleep(wait);
      lagMaxMs = Math.max(lagMaxMs, now() - due);
      inFlightMax = Math.max(inFlightMax, ++inFlight);
      lastSent = now();
      pending.push(
        settleOne(base, adminToken, job).then((r) => {
          inFlight -= 1;
          results.push(r);
        }),
      );
    }
    await Promise.all(pending);
    await Promise.all(results.filter((r) => r.paymentId).map((r) => untilHeard(r.paymentId)));
  }
  loop.disable();
  const achieved = jobs.length > 1 ? ((jobs.length - 1) * 1000) / (lastSent - t0) : 0;
  return { results, receipts: takeReceipts(), achieved, lagMaxMs, inFlightMax, loopMaxMs: maxDelay(loop), gcMaxMs: await gc() };
}

// ---------------------------------------------------------------------------------------------------
// The QoS 1 throughput harness

interface PairState {
  pub: MqttClient;
  sub: MqttClient;
  topic: string;
  quota: number;
  sent: number;
  received: number;
  acked: number;
  seen: Uint8Array;
}

/**
 * `messages` QoS 1 messages split over the pairs; each publisher keeps at most `window` of its
 * messages published but not yet received by its subscriber (so no broker queue limit is ever hit).
 */
async function flood(
  url: string,
  pairs: FloodPair[],
  messages: number,
  window: number,
  payload: 'binary' | 'action-json',
  budgetMs: number,
): Promise<FloodReply> {
  const tag = Math.random().toString(36).slice(2, 8);
  const c0 = now();
  const subs = await Promise.all(pairs.map((p, i) => mqtt.connectAsync(url, options(`bench-sub-${tag}-${i}`, p.sub))));
  const pubs = await Promise.all(pairs.map((p, i) => mqtt.connectAsync(url, options(`bench-pub-${tag}-${i}`, p.pub))));
  const all = [...subs, ...pubs];
  try {
    for (const [i, s] of subs.entries()) {
      const granted = await s.subscribeAsync((pairs[i] as FloodPair).topic, { qos: 1 });
      if (granted[0]?.qos !== 1) throw new Error(`subscription to ${(pairs[i] as FloodPair).topic} was granted ${JSON.stringify(granted)}`);
    }
    const connectMs = now() - c0;
    const states: PairState[] = pairs.map((p, i) => {
      const quota = Math.floor(messages / pairs.length) + (i < messages % pairs.length ? 1 : 0);
      return { pub: pubs[i] as MqttClient, sub: subs[i] as MqttClient, topic: p.topic, quota, sent: 0, received: 0, acked: 0, seen: new Uint8Array(quota) };
    });
    const loop = monitorEventLoopDelay({ resolution: 1 });
    let duplicates = 0;
    let first = 0;
    let last = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`flood did not finish within ${budgetMs} ms: ${JSON.stringify(states.map((s) => [s.quota, s.sent, s.received, s.acked]))}`)),
        budgetMs,
      );
      const done = (): void => {
        if (states.every((s) => s.received >= s.quota && s.acked >= s.quota)) {
          clearTimeout(timer);
          resolve();
        }
      };
      const pump = (s: PairState): void => {
        while (s.sent < s.quota && s.sent - s.received < window) {
          s.pub.publish(s.topic, encode(payload, s.sent), { qos: 1 }, (err) => {
            if (err) return reject(err);
            s.acked += 1;
            done();
          });
          s.sent += 1;
        }
      };
      for (const s of states) {
        s.sub.on('message', (_topic, buf) => {
          last = now();
          const seq = decode(payload, buf);
          if (s.seen[seq] === 1) duplicates += 1;
          else {
            s.seen[seq] = 1;
            s.received += 1;
          }
          pump(s);
          done();
        });
      }
      loop.enable();
      first = now();
      for (const s of states) pump(s);
    });
    loop.disable();
    return {
      received: sum(states.map((s) => s.received)) + duplicates,
      acked: sum(states.map((s) => s.acked)),
      duplicates,
      ms: last - first,
      connectMs,
      loopMaxMs: maxDelay(loop),
    };
  } finally {
    await Promise.all(all.map((c) => c.endAsync(true).catch(() => undefined)));
  }
}

/** 64-byte payloads carrying their sequence number; `action-json` is a valid `action` report. */
function encode(kind: 'binary' | 'action-json', seq: number): Buffer {
  if (kind === 'action-json') return Buffer.from(JSON.stringify({ type: 'custom', data: { seq, pad: 'x'.repeat(16) } }));
  const buf = Buffer.alloc(64, 0x2e);
  buf.writeUInt32BE(seq, 0);
  return buf;
}

function decode(kind: 'binary' | 'action-json', buf: Buffer): number {
  if (kind === 'action-json') return (JSON.parse(buf.toString('utf8')) as { data: { seq: number } }).data.seq;
  return buf.readUInt32BE(0);
}

function maxDelay(h: IntervalHistogram): number {
  // An interval histogram that saw no sample reports a huge max.
  return h.count === 0 ? 0 : h.max / 1e6;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
