/**
 * Benchmark `mqtt`: how fast a settled payment reaches its machine, and the embedded broker's QoS 1
 * rate beside Mosquitto's.
 *  1. Settle -> device with 1,000 connected devices: a real `Bridge` (dev backend, MQTT on port 0,
 *     limits off, JOURNAL_FSYNC on) with 1,000 assets, each with a payment link and a device
 *     credential; 1,000 `mqtt` clients, one per asset, logged in with its credential and subscribed
 *     QoS 1 to its `…/payment` topic. Each phase's pending invoices are made just before it through
 *     the LNURL callbacks (untimed), then settled through the admin dev settle at a fixed offered rate
 *     (open loop: 100/s, the goal's rate, and 400/s) or one at a time, round-robin over the assets,
 *     after a full GC in both threads. Measured from just
 *     before the settle request is sent to the moment the device's client has the message. The
 *     clients (devices and payer) run in a worker thread (`bench/mqtt-worker.ts`), so the bridge's
 *     event loop runs the bridge alone; both timestamps are taken there, from `process.hrtime`. The
 *     `payment.settled` bus event is timestamped on the bridge's thread with the same clock
 *     (CLOCK_MONOTONIC, shared by every thread of the process; checked by a ping below) to split the
 *     path in two.
 *     Every payment must reach the right device exactly once. For context: a reconnect storm (all
 *     devices reconnect with every payment still unacknowledged; each must get its own again, once).
 *  2. QoS 1 throughput, the same client harness (pairs of publisher -> subscriber, end-to-end window)
 *     against: a bare `Broker` (broker/broker.ts: Aedes with our auth and ACL hooks, no dispatcher);
 *     the bridge's own broker, on a topic the ACL allows and the dispatcher reads but ignores (`status`
 *     of an asset that does not exist: the accept hook runs, looks the asset up, stores nothing); and
 *     Mosquitto on 127.0.0.1:1883. Goal: embedded >= 0.8 x Mosquitto. For context, the bridge's
 *     `action` path too, where every message is stored durably before its PUBACK.
 * Timing never fails the run; a lost, duplicated or misrouted message does.
 */
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Broker } from '../broker/broker.js';
import { assetTopic } from '../broker/topics.js';
import { createLogger } from '../bridge/log.js';
import { gcFunction, gcWatch } from './mqtt-gc.js';
import { ADMIN_TOKEN, Clients, DURATION_MS, PRICE_SATS, makeInvoices, startFleet, stopFleet, type Fleet } from './mqtt-fleet.js';
import type { FloodPair, FloodReply, Receipt, SettleMode, SettleReply } from './mqtt-protocol.js';

const DEVICES = 1_000;
const CONNECT_CONCURRENCY = 50;
const WARM_SETTLES = 200;
const RATED: { rate: number; count: number }[] = [
  { rate: 100, count: 1_500 },
  { rate: 400, count: 1_000 },
];
const SERIAL_SETTLES = 500;
const GOAL = { p50: 2, p99: 10, rate: 100, ratio: 0.8 };
const MOSQUITTO = { host: '127.0.0.1', port: 1883 };
/** Throughput: messages per run, runs per target, in-flight window per pair, pair counts. */
const FLOOD = { messages: 10_000, warm: 10_000, rounds: 8, window: 200, pairs: [1, 4], budgetMs: 30_000 };
const STORED_MESSAGES = 3_000;
const REPLAY_BUDGET_MS = 20_000;

interface Stats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** Every settled payment id and the messages its device got, across phases. */
interface Ledger {
  expected: Map<string, number>;
  heard: Map<string, number>;
}

export async function run(): Promise<void> {
  console.log(`${DEVICES} devices (device credentials, QoS 1, clean sessions) on one account; dev backend, JOURNAL_FSYNC on, limits off`);
  console.log(`clients (devices, payer, throughput harness) in a worker thread; times from process.hrtime (CLOCK_MONOTONIC, shared by all threads)`);
  console.log(
    `load average at start (1, 5, 15 min): ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')} on ${availableParallelism()} cores; other work on the machine shows up in these figures`,
  );
  const clients = await Clients.start();
  let fleet: Fleet | undefined;
  const summary: string[][] = [];
  try {
    await clockCheck(clients);
    const t0 = now();
    fleet = await startFleet(DEVICES);
    console.log(`\nset-up: ${DEVICES} assets + payment links + device credentials over HTTP in ${secs(now() - t0)}`);
    const ledger = await settlePart(fleet, clients, summary);
    await replayPart(fleet, clients, ledger, summary);
    await clients.ask({ cmd: 'close-devices' });
    await throughputPart(fleet, clients, summary);
  } finally {
    await clients.stop();
    if (fleet) {
      await stopFleet(fleet);
      await rm(fleet.dir, { recursive: true, force: true });
    }
  }
  printSummary(summary);
  console.log(
    `load average at end (1, 5, 15 min): ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  );
}

/** The worker's clock must be the bridge thread's: each reading falls inside a ping's round trip. */
async function clockCheck(clients: Clients): Promise<void> {
  let worst = 0;
  let rtt = Infinity;
  for (let i = 0; i < 50; i++) {
    const a = now();
    const w = await clients.ask<number>({ cmd: 'clock' });
    const b = now();
    if (w < a || w > b) throw new Error(`the worker's clock reads ${w} outside [${a}, ${b}]: the threads do not share a clock`);
    worst = Math.max(worst, b - a);
    rtt = Math.min(rtt, b - a);
  }
  console.log(
    `clock check: 50 pings, every worker reading inside its round trip (rtt min ${us(rtt)}, max ${us(worst)}): cross-thread offsets are below the rtt`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Part 1: settle -> device

async function settlePart(fleet: Fleet, clients: Clients, summary: string[][]): Promise<Ledger> {
  const connected = await clients.ask<{ ms: number }>({ cmd: 'devices', url: fleet.mqttUrl, devices: fleet.devices, concurrency: CONNECT_CONCURRENCY });
  console.log(`${DEVICES} mqtt clients connected and subscribed (${CONNECT_CONCURRENCY} at a time) in ${secs(connected.ms)}`);
  const busAt = new Map<string, number>();
  const owner = {};
  fleet.bridge.bus.on('payment.settled', owner, ({ payment }) => void busAt.set(payment.payment_id, now()));
  const ledger: Ledger = { expected: new Map(), heard: new Map() };
  const collect = gcFunction();
  let made = 0;
  let makeMs = 0;
  /** Each phase's invoices are made just before it (untimed), so no phase runs with the others' pending. */
  const phase = async (mode: SettleMode, count: number) => {
    const t = now();
    const jobs = await makeInvoices(fleet, count, made);
    made += count;
    makeMs += now() - t;
    collect(); // the set-up's garbage, not the phase's
    const gc = gcWatch();
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const reply = await clients.ask<SettleReply>({ cmd: 'settle', base: fleet.url, adminToken: ADMIN_TOKEN, mode, jobs });
    loop.disable();
    return { reply, ...analyse(fleet, reply, ledger, busAt), bridgeLoopMaxMs: loop.max / 1e6, bridgeGcMaxMs: await gc() };
  };

  console.log(`\n--- settle -> device (open loop at a fixed offered rate, then one at a time; ${WARM_SETTLES} one-at-a-time settles first to warm up) ---`);
  await phase({ kind: 'serial' }, WARM_SETTLES);
  for (const { rate, count } of RATED) {
    const r = await phase({ kind: 'rate', rate }, count);
    report(`@${rate}/s`, r);
    if (rate === GOAL.rate) {
      summary.push([
        `settle -> device p50 @${rate}/s, ${fmt(DEVICES)} devices`,
        `${r.device.p50.toFixed(2)} ms`,
        `<= ${GOAL.p50} ms`,
        r.device.p50 <= GOAL.p50 ? 'met' : 'NOT met',
      ]);
      summary.push([
        `settle -> device p99 @${rate}/s, ${fmt(DEVICES)} devices`,
        `${r.device.p99.toFixed(2)} ms`,
        `<= ${GOAL.p99} ms`,
        r.device.p99 <= GOAL.p99 ? 'met' : 'NOT met',
      ]);
      summary.push([`settle -> device max @${rate}/s`, `${r.device.max.toFixed(2)} ms`, '', '']);
    } else {
      summary.push([`settle -> device p50 / p99 @${rate}/s (context)`, `${r.device.p50.toFixed(2)} / ${r.device.p99.toFixed(2)} ms`, '', '']);
    }
  }
  const serial = await phase({ kind: 'serial' }, SERIAL_SETTLES);
  report('one at a time', serial);
  summary.push(['settle -> device p50 / p99 one at a time (context)', `${serial.device.p50.toFixed(2)} / ${serial.device.p99.toFixed(2)} ms`, '', '']);

  console.log(
    `(${fmt(made)} pending invoices in all, made through the LNURL callbacks just before each phase, 32 at a time, round-robin over the assets: ${secs(makeMs)}, untimed)`,
  );
  await sleep(500); // anything sent twice would arrive now
  const late = await clients.ask<Receipt[]>({ cmd: 'drain' });
  tally(fleet, late, ledger);
  fleet.bridge.bus.off(owner);
  const missing = [...ledger.expected.keys()].filter((id) => (ledger.heard.get(id) ?? 0) === 0).length;
  const twice = [...ledger.heard.values()].filter((n) => n > 1).length;
  if (missing > 0 || twice > 0) throw new Error(`delivery check failed: ${missing} payments missing, ${twice} delivered more than once`);
  console.log(
    `\ncorrectness: ${fmt(ledger.expected.size)} settles -> ${fmt(ledger.expected.size)} '…/payment' messages, each exactly once at its own asset's device ` +
      `(0 missing, 0 duplicated, 0 misrouted or stray; asset_id, amount_sats, duration_ms, rail checked; ${late.length} late arrivals after 500 ms)`,
  );
  return ledger;
}

/**
 * Context: the devices never acknowledged (no `action` report, clean sessions), so every payment is
 * still in the outbox. All devices reconnect and subscribe again; each must get its own payments
 * again, each once: the dispatcher's replay on subscribe, under a reconnect storm.
 */
async function replayPart(fleet: Fleet, clients: Clients, settled: Ledger, summary: string[][]): Promise<void> {
  await clients.ask({ cmd: 'close-devices' });
  await sleep(200);
  const ledger: Ledger = { expected: settled.expected, heard: new Map() };
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t0 = now();
  const connected = await clients.ask<{ ms: number }>({ cmd: 'devices', url: fleet.mqttUrl, devices: fleet.devices, concurrency: CONNECT_CONCURRENCY });
  let last = 0;
  let count = 0;
  while (count < ledger.expected.size && now() - t0 < REPLAY_BUDGET_MS) {
    await sleep(50);
    const receipts = await clients.ask<Receipt[]>({ cmd: 'drain' });
    tally(fleet, receipts, ledger);
    count += receipts.length;
    for (const m of receipts) last = Math.max(last, m.at);
  }
  await sleep(300);
  const extra = await clients.ask<Receipt[]>({ cmd: 'drain' });
  tally(fleet, extra, ledger);
  loop.disable();
  const missing = [...ledger.expected.keys()].filter((id) => (ledger.heard.get(id) ?? 0) === 0).length;
  const twice = [...ledger.heard.values()].filter((n) => n > 1).length;
  if (missing > 0 || twice > 0) throw new Error(`replay check failed: ${missing} unacknowledged payments not sent again, ${twice} sent more than once`);
  const ms = last - t0;
  console.log(`\n--- context: reconnect storm (nothing acknowledged, so all ${fmt(ledger.expected.size)} payments are in the outbox of one account) ---`);
  console.log(
    `${fmt(DEVICES)} devices reconnected and subscribed in ${secs(connected.ms)}; all ${fmt(count)} payments sent again, each once at its device, ` +
      `the last ${secs(ms)} after the first reconnect; bridge event-loop delay max ${(loop.max / 1e6).toFixed(1)} ms`,
  );
  summary.push([`reconnect storm: ${fmt(DEVICES)} devices, ${fmt(count)} replayed (context)`, secs(ms), '', '']);
}

/** Check a phase's settles and receipts against the ledger; latencies of this phase's settles. */
function analyse(fleet: Fleet, reply: SettleReply, ledger: Ledger, busAt: Map<string, number>) {
  const sentAt = new Map<string, number>();
  const rtt: number[] = [];
  let already = 0;
  for (const r of reply.results) {
    if (r.status !== 200 || !r.paymentId) throw new Error(`settle ${r.hash} answered ${r.status}: ${r.body}`);
    if (ledger.expected.has(r.paymentId)) throw new Error(`payment ${r.paymentId} was settled twice`);
    ledger.expected.set(r.paymentId, r.device);
    sentAt.set(r.paymentId, r.sent);
    rtt.push(r.answered - r.sent);
    if (r.alreadySettled) already += 1;
  }
  tally(fleet, reply.receipts, ledger);
  const device: number[] = [];
  const toBus: number[] = [];
  const busToDevice: number[] = [];
  for (const m of reply.receipts) {
    const sent = sentAt.get(m.paymentId);
    if (sent === undefined) continue; // a late message of an earlier phase (counted by tally)
    device.push(m.at - sent);
    const bus = busAt.get(m.paymentId);
    if (bus !== undefined) {
      toBus.push(bus - sent);
      busToDevice.push(m.at - bus);
    }
  }
  if (device.length !== reply.results.length) throw new Error(`${reply.results.length} settles but ${device.length} of their messages arrived`);
  return { device: stats(device), rtt: stats(rtt), toBus: stats(toBus), busToDevice: stats(busToDevice), already };
}

/** Count receipts; each must be a settled payment, at the device of that payment's asset, with the right body. */
function tally(fleet: Fleet, receipts: Receipt[], ledger: Ledger): void {
  for (const m of receipts) {
    const device = ledger.expected.get(m.paymentId);
    if (device === undefined) throw new Error(`device ${m.device} got payment ${m.paymentId}, which nobody settled in this run`);
    const spec = fleet.devices[m.device];
    if (m.device !== device || spec?.assetId !== m.assetId)
      throw new Error(`payment ${m.paymentId} of device ${device} arrived at device ${m.device} (asset ${m.assetId})`);
    if (m.amountSats !== PRICE_SATS || m.durationMs !== DURATION_MS || m.rail !== 'lightning')
      throw new Error(`payment ${m.paymentId} arrived with ${JSON.stringify(m)}`);
    ledger.heard.set(m.paymentId, (ledger.heard.get(m.paymentId) ?? 0) + 1);
  }
}

function report(label: string, r: ReturnType<typeof analyse> & { reply: SettleReply; bridgeLoopMaxMs: number; bridgeGcMaxMs: number }): void {
  const { reply } = r;
  const sent =
    reply.inFlightMax > 1
      ? `sent ${reply.achieved.toFixed(1)}/s (send lag max ${reply.lagMaxMs.toFixed(1)} ms, in flight max ${reply.inFlightMax})`
      : `${reply.achieved.toFixed(0)}/s achieved`;
  console.log(`${`settle -> device ${label}`.padEnd(36)} ${line(r.device)}; ${sent}`);
  console.log(`${'  settle -> bus event (bridge thread)'.padEnd(36)} ${line(r.toBus)}`);
  console.log(`${'  bus event -> device'.padEnd(36)} ${line(r.busToDevice)}`);
  console.log(`${'  settle HTTP round trip'.padEnd(36)} ${line(r.rtt)}`);
  console.log(
    `${' '.repeat(37)}event-loop delay max (longest GC pause): bridge thread ${r.bridgeLoopMaxMs.toFixed(1)} ms (${r.bridgeGcMaxMs.toFixed(1)} ms), clients' thread ${reply.loopMaxMs.toFixed(1)} ms (${reply.gcMaxMs.toFixed(1)} ms); ${r.already} answered already_settled`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Part 2: QoS 1 throughput

interface Target {
  name: string;
  url: string;
  pairs: (n: number) => FloodPair[];
}

async function throughputPart(fleet: Fleet, clients: Clients, summary: string[][]): Promise<void> {
  const log = createLogger('silent');
  const login = { username: 'bench', password: 'bench-password-0123456789' };
  const bare = new Broker({
    host: '127.0.0.1',
    port: 0,
    portExplicit: true,
    log,
    auth: {
      authenticate: async (u, p) => (u === login.username && p === login.password ? { userId: 'bench', scope: 'full', credentialId: 'bench' } : undefined),
    },
  });
  // Takes every message, as a broker with no one behind it would (by default the Broker refuses them).
  bare.attach({ accept: async () => undefined });
  const barePort = await bare.start();
  try {
    const account = { username: fleet.userId, password: fleet.apiKey };
    const tag = Math.random().toString(36).slice(2, 8);
    const targets: Target[] = [
      {
        name: 'bare Broker (Aedes + our hooks)',
        url: `mqtt://127.0.0.1:${barePort}`,
        pairs: (n) => range(n).map((i) => ({ pub: login, sub: login, topic: assetTopic('bench', `asset${i}`, 'action') })),
      },
      {
        name: "bridge's broker (full bridge)",
        url: fleet.mqttUrl,
        pairs: (n) => range(n).map((i) => ({ pub: account, sub: account, topic: assetTopic(fleet.userId, `ghost${i}`, 'status') })),
      },
    ];
    const mosquitto = await probeMosquitto(clients, tag);
    if (mosquitto)
      targets.push({
        name: `Mosquitto ${MOSQUITTO.host}:${MOSQUITTO.port}`,
        url: mosquitto,
        pairs: (n) => range(n).map((i) => ({ topic: `paywire/bench-${tag}/asset${i}/action` })),
      });

    console.log(
      `\n--- QoS 1 throughput: ${fmt(FLOOD.messages)} messages per run, ${FLOOD.rounds} runs per target (after one warm-up run), targets interleaved; window ${FLOOD.window} unreceived messages per pair ---`,
    );
    console.log(`bare Broker: publish + subscribe paywire/bench/asset<i>/action (ACL allows it; an accept hook that takes everything, no dispatcher)`);
    console.log(
      `bridge's broker: account key publishes + subscribes paywire/<user>/ghost<i>/status: ACL, then the dispatcher's accept hook (awaited before the PUBACK) finds no such asset and stores nothing`,
    );
    for (const pairs of FLOOD.pairs) {
      const rates = new Map<string, number[]>(targets.map((t) => [t.name, []]));
      for (const t of targets) await flood(clients, t, pairs, FLOOD.warm, 'binary');
      for (let round = 1; round <= FLOOD.rounds; round++) {
        for (const t of targets) {
          const r = await flood(clients, t, pairs, FLOOD.messages, 'binary');
          const rate = (r.received / r.ms) * 1000;
          (rates.get(t.name) as number[]).push(rate);
          console.log(
            `${`${pairs} pub -> ${pairs} sub, ${t.name}`.padEnd(52)} ${fmt(Math.round(rate)).padStart(7)} msg/s (${fmt(r.received)} in ${secs(r.ms)}; clients' loop delay max ${r.loopMaxMs.toFixed(1)} ms)`,
          );
        }
      }
      const med = (name: string): number => median(rates.get(name) ?? []);
      for (const t of targets) summary.push([`QoS 1 msg/s, ${pairs} pub -> ${pairs} sub: ${t.name}`, cell(rates.get(t.name) ?? []), '', '']);
      const reference = targets[2];
      if (!reference) {
        summary.push([`embedded / Mosquitto, ${pairs} -> ${pairs}`, 'Mosquitto not reachable', `>= ${GOAL.ratio}`, 'not judged']);
        continue;
      }
      for (const t of targets.slice(0, 2)) {
        const ratio = med(t.name) / med(reference.name);
        summary.push([
          `  ratio ${t.name.split(' (')[0]} / Mosquitto, ${pairs} -> ${pairs}`,
          ratio.toFixed(2),
          `>= ${GOAL.ratio}`,
          ratio >= GOAL.ratio ? 'met' : 'NOT met',
        ]);
      }
    }

    console.log(
      `\n--- context: the bridge's action path (account key publishes valid 'action' reports on a real asset; each is stored as an event, durably, before its PUBACK) ---`,
    );
    const assetId = (fleet.devices[0] as { assetId: string }).assetId;
    const stored: Target = {
      name: "bridge 'action' (stored)",
      url: fleet.mqttUrl,
      pairs: () => [{ pub: account, sub: account, topic: assetTopic(fleet.userId, assetId, 'action') }],
    };
    const r = await floodJson(clients, stored);
    const rate = (r.received / r.ms) * 1000;
    console.log(
      `${"1 pub -> 1 sub, bridge 'action' (stored)".padEnd(52)} ${fmt(Math.round(rate)).padStart(7)} msg/s (${fmt(r.received)} in ${secs(r.ms)}; window ${FLOOD.window})`,
    );
    summary.push([`QoS 1 msg/s, 1 -> 1, 'action' stored as events (context)`, fmt(Math.round(rate)), '', '']);
  } finally {
    await bare.stop();
  }
}

async function flood(clients: Clients, t: Target, pairs: number, messages: number, payload: 'binary' | 'action-json'): Promise<FloodReply> {
  const r = await clients.ask<FloodReply>({
    cmd: 'flood',
    url: t.url,
    pairs: t.pairs(pairs),
    messages,
    window: FLOOD.window,
    payload,
    budgetMs: FLOOD.budgetMs,
  });
  if (r.received !== messages || r.duplicates !== 0 || r.acked !== messages)
    throw new Error(`${t.name}: ${messages} published, ${r.received} received (${r.duplicates} twice), ${r.acked} acknowledged`);
  return r;
}

function floodJson(clients: Clients, t: Target): Promise<FloodReply> {
  return flood(clients, t, 1, STORED_MESSAGES, 'action-json');
}

/** Mosquitto's URL when it listens and takes an anonymous client; otherwise say why not, and undefined. */
async function probeMosquitto(clients: Clients, tag: string): Promise<string | undefined> {
  const where = `${MOSQUITTO.host}:${MOSQUITTO.port}`;
  const open = await new Promise<boolean>((resolve) => {
    const socket = connect(MOSQUITTO.port, MOSQUITTO.host);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
  const url = `mqtt://${where}`;
  try {
    if (!open) throw new Error('nothing listens there');
    await clients.ask<FloodReply>({
      cmd: 'flood',
      url,
      pairs: [{ topic: `paywire/bench-${tag}/probe/action` }],
      messages: 10,
      window: 10,
      payload: 'binary',
      budgetMs: 5_000,
    });
    console.log(`\nMosquitto at ${where}: reachable, takes anonymous clients`);
    return url;
  } catch (err) {
    console.log(
      `\n*** Mosquitto at ${where} is NOT usable (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): the embedded/Mosquitto comparison is skipped ***`,
    );
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// Figures

function printSummary(rows: string[][]): void {
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length), ['figure', 'measured', 'goal'][c]?.length ?? 0));
  const row = (r: string[]): string =>
    `${(r[0] ?? '').padEnd(widths[0] ?? 0)}  ${(r[1] ?? '').padStart(widths[1] ?? 0)}  ${(r[2] ?? '').padEnd(widths[2] ?? 0)}  ${r[3] ?? ''}`.trimEnd();
  console.log(`\n--- summary (throughput: median of runs, range in brackets) ---`);
  console.log(row(['figure', 'measured', 'goal', '']));
  for (const r of rows) console.log(row(r));
}

function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const pct = (p: number): number => sorted[Math.min(n - 1, Math.floor(p * n))] ?? 0;
  return { n, p50: pct(0.5), p99: pct(0.99), max: sorted[n - 1] ?? 0 };
}

function line(s: Stats): string {
  return `n ${fmt(s.n).padStart(5)}, p50 ${s.p50.toFixed(2).padStart(6)} ms, p99 ${s.p99.toFixed(2).padStart(6)} ms, max ${s.max.toFixed(2).padStart(6)} ms`;
}

function cell(values: number[]): string {
  const r = (v: number): string => fmt(Math.round(v));
  return `${r(median(values))} (${r(Math.min(...values))}-${r(Math.max(...values))})`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function secs(ms: number): string {
  return ms < 1_000 ? `${ms.toFixed(0)} ms` : `${(ms / 1_000).toFixed(2)} s`;
}

function us(ms: number): string {
  return `${(ms * 1000).toFixed(0)} us`;
}
