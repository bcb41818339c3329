/**
 * Benchmark `events`: appends per second with 1,000 and with 100,000 events stored. The goal (the
 * issue's) is that the second figure is at least 80% of the first: an append's cost must not grow
 * with the store. Each store size is prefilled once through the store API (fsync off) and compacted,
 * then every measured phase runs on a fresh copy of that directory, so each starts at exactly that size:
 *  - HTTP: a real `Bridge` (durable settings, JOURNAL_FSYNC on) answering `POST /api/public/events`,
 *    sequentially (latency of one durable append) and 32 at a time (throughput with group commit);
 *  - store: `JournalMachinesStore.appendEvent` on a `Journal` with fsync on, the same two ways,
 *    to separate the engine's cost from HTTP's;
 *  - compaction, which no measured window includes: its O(store) cost and how it amortises;
 *  - plain lowdb (push + `db.write()` per append), the naive design the engine replaces, for contrast;
 *  - the same HTTP and store phases on PostgreSQL (`events-postgres.ts`: a template database per
 *    size, a fresh copy per phase), and the second goal: PostgreSQL at c32 >= half the journal's rate.
 * Sizes are interleaved over several rounds and the summary takes each figure's median. The HTTP
 * client runs in the bridge's process (and event loop), so HTTP figures include the client's cost.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { cp, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import type { Logger } from 'pino';
import { loadConfig } from '../bridge/config.js';
import { keyPrefix, newApiKey, newId, sha256Hex } from '../bridge/ids.js';
import { createLogger } from '../bridge/log.js';
import { Bridge } from '../bridge/main.js';
import type { MachinesStore } from '../bridge/machines/store.js';
import type { EventRecord } from '../bridge/machines/types.js';
import { Journal, type JournalStats } from '../bridge/store/journal/engine.js';
import { JournalMachinesStore } from '../bridge/store/journal/machines-store.js';
import { loadSecrets } from '../bridge/secrets.js';
import { openPostgres } from '../bridge/store/postgres/engine.js';
import { PostgresBench } from './events-postgres.js';
import { send } from './http.js';

const SIZES = [1_000, 100_000] as const;
const ROUNDS = 3;
const CONCURRENCY = 32;
const WARMUP: Record<number, number> = { 1: 200, [CONCURRENCY]: 1_000 };
/** Measured appends per phase; concurrent HTTP is CPU-bound (client and bridge share one event loop), so fewer. */
const MEASURED = { http: { 1: 1_500, [CONCURRENCY]: 4_000 }, store: { 1: 1_500, [CONCURRENCY]: 6_000 } } as Record<'http' | 'store', Record<number, number>>;
const LOWDB_APPENDS: Record<number, number> = { 1_000: 200, 100_000: 20 };
const GOAL = 0.8;
const PREFILL_BATCH = 1_000;
/** The bridge's default JOURNAL_COMPACT_BYTES, used by the store phases too. */
const COMPACT_BYTES = loadConfig({ env: {} }).journalCompactBytes;

/** A prefilled directory: one account (with a known key) and one asset, owning every event. */
interface Fixture {
  template: string;
  /**
   * Copies made for phases. They are deleted only at the end: deleting 25 MB between phases puts the
   * file system's freeing (and discards) into the next phase's fsyncs.
   */
  copies: string[];
  size: number;
  userId: string;
  apiKey: string;
  assetId: string;
  /** The PostgreSQL template database of this size, when PostgreSQL is there. */
  pgTemplate?: string;
}

interface Measurement {
  appends: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  max: number;
}

type Op = (i: number) => Promise<void>;
/** What a phase prints: nothing (the warm-up), its figures, or its figures and the files or journal stats. */
type Verbosity = 'quiet' | 'figures' | 'detail';
type Phase = { path: string; run: (fixture: Fixture, verbosity: Verbosity) => Promise<Measurement> };

export async function run(): Promise<void> {
  const log = createLogger('silent');
  const collect = gcFunction();
  const phases: Phase[] = [];
  for (const c of [1, CONCURRENCY]) phases.push({ path: `HTTP POST /api/public/events, c${c}`, run: (f, d) => httpPhase(f, c, log, d) });
  for (const c of [1, CONCURRENCY]) phases.push({ path: `store appendEvent (fsync on), c${c}`, run: (f, d) => storePhase(f, c, d) });
  const pgb = await PostgresBench.connect();
  if (typeof pgb === 'string') console.log(`PostgreSQL phases left out: ${pgb}`);
  else {
    console.log(`PostgreSQL phases on ${pgb.server}; DATABASE_POOL_SIZE 10`);
    for (const c of [1, CONCURRENCY]) phases.push({ path: `PostgreSQL: HTTP POST /api/public/events, c${c}`, run: (f, d) => httpPhase(f, c, log, d, pgb) });
    for (const c of [1, CONCURRENCY]) phases.push({ path: `PostgreSQL: store appendEvent, c${c}`, run: (f, d) => pgStorePhase(f, c, d, pgb) });
  }
  const rates = new Map<string, Map<number, number[]>>(phases.map((p) => [p.path, new Map()]));

  console.log(`store sizes ${SIZES.map(fmt).join(' and ')}; ${ROUNDS} rounds, sizes interleaved; summary = median of rounds`);
  const counts = (k: 'http' | 'store'): string => `${k} ${fmt(MEASURED[k][1] ?? 0)} sequential, ${fmt(MEASURED[k][CONCURRENCY] ?? 0)} at c${CONCURRENCY}`;
  console.log(`measured appends per phase (after a warm-up): ${counts('http')}; ${counts('store')}; fresh copy of the prefilled store each`);
  const fixtures: Fixture[] = [];
  try {
    for (const size of SIZES) fixtures.push(await prefill(size, typeof pgb === 'string' ? undefined : pgb));
    const warm = fixtures[0] as Fixture;
    for (const phase of phases) await phase.run(warm, 'quiet'); // warms the JIT for the whole process; not reported
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`\n--- round ${round} of ${ROUNDS} ---`);
      for (const fixture of fixtures) {
        for (const phase of phases) {
          collect(); // the previous phase's store is garbage now: collect it here, not inside the next window
          const m = await phase.run(fixture, round === 1 ? 'detail' : 'figures');
          const row = rates.get(phase.path) as Map<number, number[]>;
          row.set(fixture.size, [...(row.get(fixture.size) ?? []), m.rate]);
        }
      }
    }
    console.log('\n--- compaction (streams the snapshot; outside every measured window above) ---');
    for (const fixture of fixtures) await compactionCost(fixture);
  } finally {
    for (const dir of fixtures.flatMap((f) => [f.template, ...f.copies])) await rm(dir, { recursive: true, force: true });
    if (typeof pgb !== 'string') await pgb.dropAll();
  }

  console.log('\n--- contrast: plain lowdb (push + db.write() per append; no fsync, so it is flattered) ---');
  const lowdb = new Map<number, number[]>();
  for (const size of SIZES) lowdb.set(size, [(await lowdbPhase(size)).rate]);
  rates.set('plain lowdb, c1 (contrast)', lowdb);

  summary(rates);
}

// ---------------------------------------------------------------------------------------------------
// Prefill and phases

async function prefill(size: number, pgb: PostgresBench | undefined): Promise<Fixture> {
  const template = await mkdtemp(join(tmpdir(), 'paywire-bench-events-'));
  // The store and secrets.json are made together: a bridge refuses a store that holds data without them.
  await loadSecrets(template, undefined, { storeHasData: false });
  const started = performance.now();
  const journal = new Journal({ dir: template, fsync: false, compactBytes: COMPACT_BYTES });
  const store = new JournalMachinesStore(journal);
  await journal.open();
  const now = new Date().toISOString();
  const fixture: Fixture = { template, copies: [], size, userId: newId(), apiKey: newApiKey(), assetId: newId() };
  const { userId, apiKey, assetId } = fixture;
  await store.createAccount(
    { user_id: userId, username: 'bench-bot', display_name: 'bench-bot', lightning_address: null, role: 'machine', created: now, updated: now },
    { key_id: newId(), user_id: userId, hash: sha256Hex(apiKey), prefix: keyPrefix(apiKey), scope: 'full', label: null, created: now, revoked_at: null },
  );
  const asset = {
    asset_id: assetId,
    user_id: userId,
    name: 'bench-machine',
    price_sats: 100,
    duration_ms: 60_000,
    pricing: 'fixed' as const,
    min_sats: null,
    max_sats: null,
    refuse_when_offline: false,
    metadata: {},
    x402: null,
  };
  await store.putAsset({ ...asset, created: now, updated: now, deleted_at: null });
  for (let i = 0; i < size; i += PREFILL_BATCH) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(size, i + PREFILL_BATCH); j++) batch.push(store.appendEvent(newEvent(fixture, 'prefill', j), []));
    await Promise.all(batch);
  }
  // Start every phase from the same state (all in the snapshot, empty log), so no phase's window
  // happens to hold a size-triggered compaction; compaction is measured on its own below.
  await journal.compact();
  const stats = journal.stats();
  await journal.close();
  await flushDir(template);
  console.log(`prefill ${fmt(size)}: store API, fsync off, then compact(), ${secs(performance.now() - started)}; ${statsLine(stats)}`);
  if (pgb) {
    const t0 = performance.now();
    fixture.pgTemplate = await pgb.prefill(size, { userId, apiKey, apiKeyHash: sha256Hex(apiKey), keyPrefix: keyPrefix(apiKey), assetId });
    console.log(`prefill ${fmt(size)} on PostgreSQL: one INSERT … SELECT generate_series, then VACUUM ANALYZE, ${secs(performance.now() - t0)}`);
  }
  return fixture;
}

async function httpPhase(fixture: Fixture, concurrency: number, log: Logger, verbosity: Verbosity, pgb?: PostgresBench): Promise<Measurement> {
  const dir = await copyOf(fixture);
  const copy = pgb ? await pgb.copy(fixture.pgTemplate as string) : undefined;
  const database = copy ? { DATABASE_URL: copy.url } : {};
  const overrides = { PORT: 0, HOST: '127.0.0.1', MQTT_ENABLED: false, DATA_DIR: dir, LOG_LEVEL: 'silent', ...database };
  const config = loadConfig({ env: {}, overrides: { ...overrides, RATE_LIMIT_PER_MINUTE: 0, SIGNUPS_PER_HOUR: 0, JOURNAL_FSYNC: true } });
  const bridge = new Bridge(config, log);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    const started = performance.now();
    const info = await bridge.start();
    const startMs = performance.now() - started;
    const url = new URL(info.url);
    const op =
      (label: string): Op =>
      (i) =>
        postEvent(agent, url, fixture, label, i);
    await drive(WARMUP[concurrency] ?? 0, concurrency, op('warm'));
    const m = await drive(MEASURED.http[concurrency] ?? 0, concurrency, op('measured'));
    if (verbosity !== 'quiet') report(fixture, `${pgb ? 'pg ' : ''}HTTP  c${concurrency}`, m, `bridge start() ${secs(startMs)}`);
    if (verbosity === 'detail' && !pgb) console.log(`${' '.repeat(21)}files after: ${await filesLine(dir)}`);
    return m;
  } finally {
    agent.destroy();
    await bridge.stop();
    await copy?.drop();
  }
}

async function storePhase(fixture: Fixture, concurrency: number, verbosity: Verbosity): Promise<Measurement> {
  const dir = await copyOf(fixture);
  const journal = new Journal({ dir, fsync: true, compactBytes: COMPACT_BYTES });
  const store = new JournalMachinesStore(journal);
  try {
    const started = performance.now();
    await journal.open();
    const openMs = performance.now() - started;
    const op =
      (label: string): Op =>
      (i) =>
        appendDirect(store, fixture, label, i);
    await drive(WARMUP[concurrency] ?? 0, concurrency, op('warm'));
    const before = journal.stats();
    const m = await drive(MEASURED.store[concurrency] ?? 0, concurrency, op('measured'));
    const after = journal.stats();
    if (verbosity !== 'quiet') report(fixture, `store c${concurrency}`, m, `journal.open() ${secs(openMs)}`);
    if (verbosity === 'detail') console.log(`${' '.repeat(21)}journal.stats(): ${statsLine(after)}, +${after.compactions - before.compactions} in window`);
    return m;
  } finally {
    await journal.close();
  }
}

async function pgStorePhase(fixture: Fixture, concurrency: number, verbosity: Verbosity, pgb: PostgresBench): Promise<Measurement> {
  const copy = await pgb.copy(fixture.pgTemplate as string);
  const started = performance.now();
  const stores = await openPostgres({ url: copy.url, poolSize: 10 });
  try {
    const openMs = performance.now() - started;
    const op =
      (label: string): Op =>
      (i) =>
        appendDirect(stores.machines, fixture, label, i);
    await drive(WARMUP[concurrency] ?? 0, concurrency, op('warm'));
    const m = await drive(MEASURED.store[concurrency] ?? 0, concurrency, op('measured'));
    if (verbosity !== 'quiet') report(fixture, `pg store c${concurrency}`, m, `connect ${secs(openMs)}`);
    return m;
  } finally {
    await stores.close();
    await copy.drop();
  }
}

/**
 * A compaction captures the store's entry lists synchronously, then streams the snapshot to disk in
 * chunks while requests go on; it runs once per max(compactBytes, snapshot size) of log. Reported:
 * the synchronous capture, the longest event-loop stall while it ran, and the amortised cost.
 */
async function compactionCost(fixture: Fixture): Promise<void> {
  const dir = await copyOf(fixture);
  const journal = new Journal({ dir, fsync: true, compactBytes: COMPACT_BYTES });
  const store = new JournalMachinesStore(journal);
  try {
    await journal.open();
    const probe = 1_000;
    const walBefore = journal.stats().walBytes;
    await Promise.all(Array.from({ length: probe }, (_, i) => appendDirect(store, fixture, 'probe', i)));
    const bytesPerAppend = (journal.stats().walBytes - walBefore) / probe;
    const stalls = monitorEventLoopDelay({ resolution: 1 });
    stalls.enable();
    const t0 = performance.now();
    const compacting = journal.compact();
    const captureMs = performance.now() - t0;
    await compacting;
    const totalMs = performance.now() - t0;
    stalls.disable();
    const worstStallMs = Math.max(captureMs, stalls.max / 1e6);
    const snapshot = journal.stats().snapshotBytes;
    const cycle = Math.max(COMPACT_BYTES, snapshot) / bytesPerAppend;
    console.log(
      `${fmt(fixture.size).padStart(7)}  compact(): capture ${secs(captureMs)}, longest event-loop stall ${secs(worstStallMs)}, done in ${secs(totalMs)}, ` +
        `snapshot ${mb(snapshot)}; runs every ~${fmt(Math.round(cycle))} appends (${Math.round(bytesPerAppend)} B each) = ~${((totalMs * 1000) / cycle).toFixed(1)} us/append amortised`,
    );
  } finally {
    await journal.close();
  }
}

async function lowdbPhase(size: number): Promise<Measurement> {
  const dir = await mkdtemp(join(tmpdir(), 'paywire-bench-lowdb-'));
  try {
    const owner = { userId: newId(), assetId: newId() };
    const path = join(dir, 'db.json');
    const db = new Low<{ events: EventRecord[] }>(new JSONFile(path), { events: [] });
    for (let i = 0; i < size; i++) db.data.events.push({ ...newEvent(owner, 'prefill', i), seq: i + 1 });
    await db.write();
    const op: Op = async (i) => {
      db.data.events.push({ ...newEvent(owner, 'measured', i), seq: db.data.events.length + 1 });
      await db.write();
    };
    await drive(1, 1, op);
    const m = await drive(LOWDB_APPENDS[size] ?? 20, 1, op);
    console.log(`${fmt(size).padStart(7)}  lowdb c1: ${line(m)}; db.json ${mb((await stat(path)).size)}`);
    return m;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

/** A full garbage collection on demand, without asking for `--expose-gc` on the command line. */
function gcFunction(): () => void {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function newEvent(owner: Pick<Fixture, 'userId' | 'assetId'>, label: string, i: number): Omit<EventRecord, 'seq'> {
  return {
    event_id: newId(),
    user_id: owner.userId,
    type: 'action',
    asset_id: owner.assetId,
    external_id: `${label}-${i}`,
    data: { n: i, cycle_ms: 1_200, ok: true },
    source: 'api',
    created: new Date().toISOString(),
  };
}

async function appendDirect(store: MachinesStore, fixture: Fixture, label: string, i: number): Promise<void> {
  const result = await store.appendEvent(newEvent(fixture, label, i), []);
  if (!('stored' in result)) throw new Error(`store append ${label}-${i} was reported as a duplicate`);
}

/** One `POST /api/public/events` over a keep-alive connection; anything but 201 breaks the benchmark. */
async function postEvent(agent: Agent, url: URL, fixture: Fixture, label: string, i: number): Promise<void> {
  const body = { type: 'action', asset_id: fixture.assetId, external_id: `${label}-${i}`, data: { n: i, cycle_ms: 1_200, ok: true } };
  const reply = await send({
    agent,
    base: url,
    method: 'POST',
    path: '/api/public/events',
    headers: { authorization: `Bearer ${fixture.apiKey}` },
    body: JSON.stringify(body),
  });
  if (reply.status !== 201) throw new Error(`POST /api/public/events answered ${reply.status}: ${reply.text}`);
}

/** Run `count` operations, `concurrency` at a time, timing each one. */
async function drive(count: number, concurrency: number, op: Op): Promise<Measurement> {
  const latencies = new Float64Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const t0 = performance.now();
      await op(i);
      latencies[i] = performance.now() - t0;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  const pct = (p: number): number => latencies[Math.min(count - 1, Math.floor(p * count))] ?? 0;
  return { appends: count, seconds, rate: count / seconds, p50: pct(0.5), p99: pct(0.99), max: latencies[count - 1] ?? 0 };
}

/** A copy of the prefilled directory, flushed so its writeback does not land in a phase's fsyncs. */
async function copyOf(fixture: Fixture): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'paywire-bench-events-'));
  fixture.copies.push(dir);
  await cp(fixture.template, dir, { recursive: true });
  await flushDir(dir);
  return dir;
}

async function flushDir(dir: string): Promise<void> {
  for (const name of [...(await readdir(dir)).map((n) => join(dir, n)), dir]) {
    const handle = await open(name, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

async function filesLine(dir: string): Promise<string> {
  const names = (await readdir(dir)).sort();
  return (await Promise.all(names.map(async (n) => `${n} ${mb((await stat(join(dir, n))).size)}`))).join(', ');
}

function statsLine(s: JournalStats): string {
  return `seq ${fmt(s.seq)}, log ${mb(s.walBytes)}, snapshot ${mb(s.snapshotBytes)}, compactions ${s.compactions}`;
}

function line(m: Measurement): string {
  const ms = (v: number): string => v.toFixed(2);
  return `${fmt(Math.round(m.rate)).padStart(6)} appends/s (${fmt(m.appends)} in ${m.seconds.toFixed(2)} s), p50 ${ms(m.p50)} ms, p99 ${ms(m.p99)} ms, max ${ms(m.max)} ms`;
}

function report(fixture: Fixture, what: string, m: Measurement, extra: string): void {
  console.log(`${fmt(fixture.size).padStart(7)}  ${what.padEnd(10)}: ${line(m)}; ${extra}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function summary(rates: Map<string, Map<number, number[]>>): void {
  const [small, large] = SIZES;
  const width = Math.max(...[...rates.keys()].map((k) => k.length));
  /** The median, with the rounds' range when there was more than one. */
  const cell = (values: number[]): string => {
    const r = (v: number): string => fmt(Math.round(v));
    return values.length > 1 ? `${r(median(values))} (${r(Math.min(...values))}-${r(Math.max(...values))})` : r(median(values));
  };
  console.log(`\n--- summary: appends/s, median of rounds (range); goal: rate at ${fmt(large)} >= ${GOAL * 100}% of rate at ${fmt(small)} ---`);
  console.log(`${'path'.padEnd(width)}  ${fmt(small).padStart(22)}  ${fmt(large).padStart(22)}  ${'ratio'.padStart(6)}  goal`);
  for (const [path, row] of rates) {
    const a = median(row.get(small) ?? []);
    const b = median(row.get(large) ?? []);
    const ratio = a > 0 ? b / a : 0;
    const verdict = path.includes('contrast') ? '(contrast, no goal)' : ratio >= GOAL ? 'met' : 'NOT met';
    const cells = [cell(row.get(small) ?? []).padStart(22), cell(row.get(large) ?? []).padStart(22), `${(ratio * 100).toFixed(0)}%`.padStart(6)];
    console.log(`${path.padEnd(width)}  ${cells.join('  ')}  ${verdict}`);
  }
  // The second goal: PostgreSQL at c32 at least half the journal's rate, at each size.
  for (const [pgPath, journalPath] of [
    [`PostgreSQL: HTTP POST /api/public/events, c${CONCURRENCY}`, `HTTP POST /api/public/events, c${CONCURRENCY}`],
    [`PostgreSQL: store appendEvent, c${CONCURRENCY}`, `store appendEvent (fsync on), c${CONCURRENCY}`],
  ]) {
    const pgRow = rates.get(pgPath as string);
    const journalRow = rates.get(journalPath as string);
    if (!pgRow || !journalRow) continue;
    for (const size of SIZES) {
      const ratio = median(pgRow.get(size) ?? []) / median(journalRow.get(size) ?? [1]);
      console.log(`${pgPath} vs journal at ${fmt(size)}: ${(ratio * 100).toFixed(0)}% (goal >= 50%: ${ratio >= 0.5 ? 'met' : 'NOT met'})`);
    }
  }
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function secs(ms: number): string {
  return ms < 1_000 ? `${ms.toFixed(0)} ms` : `${(ms / 1_000).toFixed(2)} s`;
}

function mb(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
