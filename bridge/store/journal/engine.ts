/**
 * The embedded store engine behind every lowdb-backed store. Collections live in memory; each commit
 * (one or more puts and deletes, applied atomically) is one record in a write-ahead log, synced before
 * the commit resolves, and the log is folded into a lowdb JSON snapshot once it outgrows the
 * snapshot. A write therefore costs O(size of the records written), where lowdb alone rewrites the
 * whole file on every write.
 *
 * On open, the snapshot (checksummed) is loaded and the logs replayed. The pieces must agree: the
 * snapshot names the first log generation it does not include (`walGen`), and that log is created
 * before the snapshot naming it is renamed into place, so a snapshot whose log is missing, logs that
 * start after generation 1 with no snapshot, a gap between generations or in the record sequence, and
 * any whole line that does not decode all refuse the start, naming the file and byte, before anything
 * is changed. Only an incomplete final line (a write cut off by a crash, never acknowledged) is dropped
 * on its own. `inspect()` and `recover()` (`npm start -- journal check|recover`) are the operator's
 * way out of a refusal caused by the log: see recovery.ts.
 */
import { readdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import type { Logger } from 'pino';
import { StoreCorruptError, StoreUnavailableError } from '../errors.js';
import { ensurePrivateDir, tightenFile } from '../file-modes.js';
import { StoreLock } from './lock.js';
import { backUpAndTruncate, backupStamp, describeDamage, describeRecords, moveAside, truncateDurably, type Damage, type JournalReport } from './recovery.js';
import { SnapshotFile, type Snapshot } from './snapshot-file.js';
import { encodeRecord, readLog, WalWriter, type WalRecord } from './wal.js';

export { StoreCorruptError, StoreInUseError, StoreUnavailableError } from '../errors.js';
export type { JournalReport } from './recovery.js';

export type Mutation = { c: string; id: string; doc: object } | { c: string; id: string; delete: true };

/** Called for every applied mutation, on replay and on commit; stores build their indexes with it. */
export type ApplyHook = (collection: string, id: string, next: unknown, prev: unknown) => void;

export interface JournalOptions {
  dir: string;
  /** File name stem: `<name>.json` is the snapshot, `<name>.wal.<n>` the logs. */
  name?: string;
  fsync?: boolean;
  compactBytes?: number;
  log?: Logger;
  /**
   * Called once when a write fails. Memory may then hold changes that never reached the disk, so the
   * process should stop and restart from the disk (the CLI exits); until then every write is refused.
   */
  onFailure?: (err: Error) => void;
  /** Called with each commit's latency in seconds, once it is durable (for the metrics). */
  onCommitted?: (seconds: number) => void;
}

/** How the operator gets past a refusal caused by the log (documented in the README). */
export const RECOVERY_HINT =
  'Nothing was changed. With the bridge stopped, run `npm start -- journal check` to see what recovery would drop, then `npm start -- journal recover` to drop it (it keeps a backup)';

type LoadMode = 'open' | 'inspect' | 'recover';

export interface JournalStats {
  seq: number;
  walBytes: number;
  snapshotBytes: number;
  compactions: number;
  tornBytesDropped: number;
}

export class Journal {
  private readonly dir: string;
  private readonly name: string;
  private readonly fsync: boolean;
  private readonly compactBytes: number;
  private readonly log: Logger | undefined;
  private readonly onFailure: ((err: Error) => void) | undefined;
  private readonly onCommitted: ((seconds: number) => void) | undefined;
  private failureReported = false;
  private readonly collections = new Map<string, Map<string, unknown>>();
  private readonly hooks: ApplyHook[] = [];
  private readonly snapshotFile: SnapshotFile;
  private readonly snapshot: Low<Snapshot | null>;
  private wal: WalWriter | undefined;
  private seq = 0;
  private walGen = 1;
  private walBytes = 0;
  private compacting: Promise<void> | undefined;
  private compactions = 0;
  private tornBytesDropped = 0;
  private loaded = false;
  private lock: StoreLock | undefined;

  constructor(options: JournalOptions) {
    this.dir = options.dir;
    this.name = options.name ?? 'paywire';
    this.fsync = options.fsync ?? true;
    this.compactBytes = options.compactBytes ?? 16 * 1024 * 1024;
    this.log = options.log;
    this.onFailure = options.onFailure;
    this.onCommitted = options.onCommitted;
    this.snapshotFile = new SnapshotFile(join(this.dir, `${this.name}.json`));
    this.snapshot = new Low<Snapshot | null>(this.snapshotFile as Adapter<Snapshot | null>, null);
  }

  /** Register an index hook; must be called before `open()`. */
  onApply(hook: ApplyHook): void {
    if (this.wal) throw new Error('Journal.onApply must be called before open()');
    this.hooks.push(hook);
  }

  /** Load the store, or refuse (StoreCorruptError) with nothing changed when its pieces do not agree. */
  async open(): Promise<void> {
    await this.load('open');
  }

  /** What `open()` would find, and what `recover()` would do, changing nothing. The journal stays closed. */
  inspect(): Promise<JournalReport> {
    return this.load('inspect');
  }

  /**
   * Open a store whose log is damaged by dropping everything from the first unusable record on (kept in
   * backups) and report exactly what was dropped. An explicit operator action, never done by `open()`.
   */
  recover(): Promise<JournalReport> {
    return this.load('recover');
  }

  /** Whether any piece of a store (snapshot or log) is in the directory. */
  async exists(): Promise<boolean> {
    if ((await this.walGenerations()).length > 0) return true;
    return (await readdir(this.dir).catch(() => [] as string[])).includes(`${this.name}.json`);
  }

  private async load(mode: LoadMode): Promise<JournalReport> {
    if (this.loaded) throw new Error('journal is already open');
    this.loaded = true;
    if (mode === 'inspect') return this.loadLocked(mode);
    await ensurePrivateDir(this.dir, this.log);
    this.lock = await StoreLock.acquire(join(this.dir, `${this.name}.lock`), this.log);
    try {
      return await this.loadLocked(mode);
    } catch (err) {
      await this.wal?.close().catch(() => undefined);
      await this.lock.release();
      this.lock = undefined;
      throw err;
    }
  }

  private async loadLocked(mode: LoadMode): Promise<JournalReport> {
    const writes = mode !== 'inspect';
    const report: JournalReport = { healthy: true, problems: [], actions: [], dropped: [] };

    await this.snapshot.read();
    const snap = this.snapshot.data;
    this.snapshot.data = null;
    if (snap) {
      for (const [c, entries] of Object.entries(snap.collections)) {
        for (const [id, doc] of entries) this.apply({ c, id, doc: doc as object });
      }
      this.seq = snap.seq;
    }
    const firstGen = snap?.walGen ?? 1;
    const gens = await this.walGenerations();
    const stale = gens.filter((g) => g < firstGen);
    const live = gens.filter((g) => g >= firstGen);
    if (!snap && live.length > 0 && live[0] !== 1) {
      throw new StoreCorruptError(
        `${this.snapshotFile.path} is missing, yet the log starts at generation ${String(live[0])} (after a compaction), so the store's older data was in that snapshot: restore it from a backup. Nothing was changed`,
        { path: this.snapshotFile.path },
      );
    }
    // A snapshot written by this version always has its log: the log is created before the snapshot naming it.
    const expectLog = snap !== null && this.snapshotFile.checksummed;

    const { damage, torn, lastGen } = await this.replayLogs(firstGen, live, expectLog);
    if (damage) {
      if (mode === 'open')
        throw new StoreCorruptError(`${describeDamage(damage)}; acknowledged records from there on cannot be read. ${RECOVERY_HINT}`, {
          path: damage.path,
          recoverable: true,
        });
      const later = live.filter((g) => g > lastGen).map((g) => this.walPath(g));
      report.healthy = false;
      report.problems.push(describeDamage(damage));
      report.dropped.push(...(await describeRecords(damage.path, damage.offset, damage.line ?? 1)));
      for (const path of later) report.dropped.push(...(await describeRecords(path, 0, 1)));
      const stamp = backupStamp();
      if (live.includes(lastGen)) {
        const backup = `${damage.path}.damaged-${stamp}`;
        if (mode === 'recover') await backUpAndTruncate(damage.path, damage.offset, backup);
        report.actions.push(
          `${mode === 'recover' ? 'truncated' : 'would truncate'} ${damage.path} at byte ${damage.offset}, keeping the whole file as ${backup}`,
        );
      } else {
        report.actions.push(`${mode === 'recover' ? 'started' : 'would start'} ${damage.path} afresh: its records are lost`);
      }
      for (const path of later) {
        const aside = `${path}.dropped-${stamp}`;
        if (mode === 'recover') await moveAside(path, aside);
        report.actions.push(`${mode === 'recover' ? 'moved' : 'would move'} ${path} aside to ${aside}`);
      }
      if (mode === 'recover')
        this.log?.warn({ damage: describeDamage(damage), dropped: report.dropped.length, actions: report.actions }, 'journal recovery dropped records');
    } else if (snap && !expectLog && live.length === 0) {
      // A snapshot from an older version, written before its log existed (it was not then ordered): nothing to lose.
      report.actions.push(`${writes ? 'created' : 'would create'} the missing ${this.walPath(firstGen)} beside a snapshot from an older version`);
      if (writes)
        this.log?.warn(
          { path: this.walPath(firstGen) },
          'the log is missing beside a snapshot from an older version (a crash during its compaction); starting it afresh',
        );
    }
    if (torn) {
      const what = `${torn.bytes} bytes of an incomplete final line at byte ${torn.offset} of ${torn.path} (a write cut off by a crash, never acknowledged)`;
      report.actions.push(`${writes ? 'dropped' : 'would drop'} ${what}`);
      if (writes) {
        this.log?.warn(
          { path: torn.path, offset: torn.offset, bytes: torn.bytes },
          'dropping an incomplete final line of the log (a write cut off by a crash, never acknowledged)',
        );
        await truncateDurably(torn.path, torn.offset);
        this.tornBytesDropped += torn.bytes;
      }
    }
    for (const gen of stale) {
      report.actions.push(`${writes ? 'deleted' : 'would delete'} ${this.walPath(gen)}, already folded into the snapshot`);
      if (writes) await unlink(this.walPath(gen));
    }
    if (!writes) return report;

    await rm(this.snapshotFile.tempPath, { force: true });
    await tightenFile(this.snapshotFile.path, this.log);
    for (const gen of await this.walGenerations()) await tightenFile(this.walPath(gen), this.log);
    this.walGen = lastGen;
    this.wal = await WalWriter.open(this.walPath(lastGen), this.fsync);
    if (snap && !this.snapshotFile.checksummed) {
      // Upgrade: a snapshot without a checksum is rewritten with one at once (or at the next compaction).
      await this.compact().then(
        () => report.actions.push(`rewrote ${this.snapshotFile.path} with a checksum`),
        (err: unknown) => this.log?.error({ err }, 'could not rewrite the snapshot with a checksum; the next compaction will'),
      );
    }
    return report;
  }

  /**
   * Replay the log generations from `firstGen` on, in order, stopping at the first thing that is not
   * a readable record in sequence. `lastGen`: the generation the writer continues (the damaged one).
   */
  private async replayLogs(
    firstGen: number,
    live: number[],
    expectLog: boolean,
  ): Promise<{ damage?: Damage; torn?: { path: string; offset: number; bytes: number }; lastGen: number }> {
    const newest = live[live.length - 1];
    for (let i = 0; ; i++) {
      const gen = firstGen + i;
      const path = this.walPath(gen);
      if (i >= live.length) {
        if (i === 0 && expectLog) {
          return {
            damage: {
              path,
              offset: 0,
              line: undefined,
              why: 'is missing: the snapshot says the log goes on there, so the records acknowledged since the last compaction are gone',
            },
            lastGen: gen,
          };
        }
        return { lastGen: i === 0 ? gen : gen - 1 };
      }
      if (live[i] !== gen) {
        return { damage: { path, offset: 0, line: undefined, why: `is missing, yet the log goes on at generation ${String(live[i])}` }, lastGen: gen };
      }
      const scan = readLog(await readFile(path));
      for (const { record, line, offset } of scan.records) {
        if (record.s <= this.seq) continue;
        if (record.s !== this.seq + 1) {
          this.walBytes += offset;
          return { damage: { path, offset, line, why: `has sequence ${record.s}, expected ${this.seq + 1}` }, lastGen: gen };
        }
        for (const m of record.m) this.apply(m);
        this.seq = record.s;
      }
      this.walBytes += scan.goodBytes;
      if (scan.damaged) return { damage: { path, ...scan.damaged, why: scan.damaged.reason }, lastGen: gen };
      if (scan.torn) {
        if (gen !== newest)
          return {
            damage: { path, offset: scan.torn.offset, line: scan.torn.line, why: 'is incomplete (no newline), yet later log generations exist' },
            lastGen: gen,
          };
        return { torn: { path, offset: scan.torn.offset, bytes: scan.torn.bytes }, lastGen: gen };
      }
    }
  }

  get<T>(collection: string, id: string): T | undefined {
    return this.collections.get(collection)?.get(id) as T | undefined;
  }

  /** Documents of a collection in insertion order. */
  values<T>(collection: string): IterableIterator<T> {
    return (this.collections.get(collection) ?? new Map<string, unknown>()).values() as IterableIterator<T>;
  }

  size(collection: string): number {
    return this.collections.get(collection)?.size ?? 0;
  }

  /**
   * Apply mutations atomically and make them durable. They are visible to readers at once (so
   * uniqueness checks see them); the promise resolves when they are on disk. Callers answer a
   * request only after it resolves.
   */
  commit(mutations: Mutation[]): Promise<void> {
    const wal = this.wal;
    if (!wal) return Promise.reject(new Error('journal is not open'));
    if (wal.failed) return Promise.reject(new StoreUnavailableError(wal.failed));
    if (mutations.length === 0) return wal.flushed();
    const record: WalRecord = { s: this.seq + 1, m: mutations };
    const line = encodeRecord(JSON.stringify(record));
    this.seq += 1;
    for (const m of mutations) this.apply(m);
    this.walBytes += Buffer.byteLength(line);
    const appended = wal.append(line);
    const onCommitted = this.onCommitted;
    if (onCommitted) {
      const started = performance.now();
      appended.then(
        () => onCommitted((performance.now() - started) / 1000),
        () => undefined,
      );
    }
    const durable = appended.catch((err: Error) => {
      if (!this.failureReported) {
        this.failureReported = true;
        this.log?.fatal({ err }, 'store write failed; refusing further writes until restart');
        this.onFailure?.(err);
      }
      throw new StoreUnavailableError(err);
    });
    this.maybeCompact();
    return durable;
  }

  /** Resolves when every commit made so far is durable. */
  sync(): Promise<void> {
    return this.wal ? this.wal.flushed() : Promise.resolve();
  }

  stats(): JournalStats {
    return {
      seq: this.seq,
      walBytes: this.walBytes,
      snapshotBytes: this.snapshotFile.bytes,
      compactions: this.compactions,
      tornBytesDropped: this.tornBytesDropped,
    };
  }

  /** Fold the log into a new snapshot now (normally triggered by size). */
  compact(): Promise<void> {
    if (this.compacting) return this.compacting;
    const wal = this.wal;
    if (!wal || wal.failed) return Promise.resolve();
    const nextGen = this.walGen + 1;
    // Capture the entry lists synchronously: everything up to `seq` is in the snapshot, everything
    // after goes to the next log generation. Records are immutable, so the snapshot file can be
    // streamed out afterwards while commits go on.
    const collections: Snapshot['collections'] = {};
    for (const [c, docs] of this.collections) collections[c] = [...docs.entries()];
    const data: Snapshot = { format: 1, seq: this.seq, walGen: nextGen, collections };
    // The new log exists (and its directory entry is synced) before the snapshot naming it is renamed
    // into place: a snapshot whose log is missing then always means a lost log, never a crash.
    const rotated = wal.rotate(this.walPath(nextGen));
    const written = rotated.then(() => {
      this.snapshot.data = data;
      const done = this.snapshot.write();
      this.snapshot.data = null;
      return done;
    });
    this.walGen = nextGen;
    this.walBytes = 0;
    this.compacting = (async () => {
      await Promise.all([written, rotated]);
      const old = (await this.walGenerations()).filter((g) => g < nextGen);
      for (const gen of old) await unlink(this.walPath(gen)).catch(() => undefined);
      this.compactions += 1;
    })().finally(() => {
      this.compacting = undefined;
    });
    return this.compacting;
  }

  async close(): Promise<void> {
    await this.compacting?.catch(() => undefined);
    await this.wal?.close();
    await this.lock?.release();
    this.lock = undefined;
  }

  private maybeCompact(): void {
    if (this.compacting || this.walBytes < Math.max(this.compactBytes, this.snapshotFile.bytes)) return;
    this.compact().catch((err: unknown) => this.log?.error({ err }, 'journal compaction failed'));
  }

  private apply(m: Mutation): void {
    let docs = this.collections.get(m.c);
    if (!docs) {
      docs = new Map();
      this.collections.set(m.c, docs);
    }
    const prev = docs.get(m.id);
    const next = 'delete' in m ? undefined : m.doc;
    if (next === undefined) docs.delete(m.id);
    else docs.set(m.id, next);
    for (const hook of this.hooks) hook(m.c, m.id, next, prev);
  }

  private walPath(gen: number): string {
    return join(this.dir, `${this.name}.wal.${String(gen).padStart(6, '0')}`);
  }

  private async walGenerations(): Promise<number[]> {
    const prefix = `${this.name}.wal.`;
    let files: string[];
    try {
      files = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return files
      .filter((f) => f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length)))
      .map((f) => Number(f.slice(prefix.length)))
      .sort((a, b) => a - b);
  }
}
