/**
 * The embedded store engine behind every lowdb-backed store. Collections live in memory; each commit
 * (one or more puts and deletes, applied atomically) is one record in a write-ahead log, synced before
 * the commit resolves, and the log is folded into a lowdb JSON snapshot once it outgrows the
 * snapshot. A write therefore costs O(size of the records written), where lowdb alone rewrites the
 * whole file on every write. On open, the snapshot is loaded and the log replayed; a torn last record
 * (a write cut off by a crash, never acknowledged) is dropped, anything else unreadable stops the start.
 */
import { mkdir, readdir, readFile, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import type { Logger } from 'pino';
import { SnapshotFile, type Snapshot } from './snapshot-file.js';
import { decodeRecord, encodeRecord, WalWriter } from './wal.js';

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

interface WalRecord {
  s: number;
  m: Mutation[];
}

export class StoreUnavailableError extends Error {
  constructor(cause: Error) {
    super(`store is unavailable: ${cause.message}`, { cause });
    this.name = 'StoreUnavailableError';
  }
}

export class StoreCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreCorruptError';
  }
}

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

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.snapshot.read();
    const snap = this.snapshot.data;
    if (snap) {
      if (snap.format !== 1) throw new StoreCorruptError(`${this.snapshotFile.path}: unknown format ${String(snap.format)}`);
      for (const [c, entries] of Object.entries(snap.collections)) {
        for (const [id, doc] of entries) this.apply({ c, id, doc: doc as object });
      }
      this.seq = snap.seq;
      this.walGen = snap.walGen;
    }

    const gens = await this.walGenerations();
    for (const gen of gens.filter((g) => g < this.walGen)) await unlink(this.walPath(gen));
    const live = gens.filter((g) => g >= this.walGen);
    for (const [i, gen] of live.entries()) await this.replay(gen, i === live.length - 1);
    if (live.length > 0) this.walGen = live[live.length - 1] as number;
    this.wal = await WalWriter.open(this.walPath(this.walGen), this.fsync);
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
      appended.then(() => onCommitted((performance.now() - started) / 1000), () => undefined);
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
    this.snapshot.data = { format: 1, seq: this.seq, walGen: nextGen, collections };
    const written = this.snapshot.write();
    this.snapshot.data = null;
    const rotated = wal.rotate(this.walPath(nextGen));
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
    return (await readdir(this.dir))
      .filter((f) => f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length)))
      .map((f) => Number(f.slice(prefix.length)))
      .sort((a, b) => a - b);
  }

  private async replay(gen: number, last: boolean): Promise<void> {
    const path = this.walPath(gen);
    const buf = await readFile(path);
    let offset = 0;
    let lineNo = 0;
    while (offset < buf.length) {
      const nl = buf.indexOf(0x0a, offset);
      const end = nl === -1 ? buf.length : nl;
      lineNo += 1;
      const record = nl === -1 ? undefined : (decodeRecord(buf.toString('utf8', offset, end)) as WalRecord | undefined);
      if (!record || typeof record.s !== 'number' || !Array.isArray(record.m)) {
        // A torn tail (cut off by a crash before its sync returned) is dropped; damage anywhere else is not ours to guess at.
        if (!last || this.hasValidRecordAfter(buf, end + 1)) {
          throw new StoreCorruptError(`${path}: record ${lineNo} is unreadable and is not the torn tail of the log`);
        }
        this.tornBytesDropped += buf.length - offset;
        this.log?.warn({ path, bytes: buf.length - offset }, 'dropping a torn record at the end of the log');
        await truncate(path, offset);
        break;
      }
      if (record.s > this.seq) {
        if (record.s !== this.seq + 1) {
          throw new StoreCorruptError(`${path}: record ${lineNo} has sequence ${record.s}, expected ${this.seq + 1}`);
        }
        for (const m of record.m) this.apply(m);
        this.seq = record.s;
      }
      offset = end + 1;
    }
    this.walBytes += offset;
  }

  private hasValidRecordAfter(buf: Buffer, from: number): boolean {
    let offset = from;
    while (offset < buf.length) {
      const nl = buf.indexOf(0x0a, offset);
      if (nl === -1) return false;
      if (decodeRecord(buf.toString('utf8', offset, nl)) !== undefined) return true;
      offset = nl + 1;
    }
    return false;
  }
}
