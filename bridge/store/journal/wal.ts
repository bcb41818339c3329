/**
 * The append-only log under the journal. Each record is one line, `<crc32 hex> <json>\n`.
 * Appends queue up while a write is in flight and go out together with one fdatasync (group
 * commit), so concurrent writers share the cost of the sync. A failed write poisons the log: every
 * later append is refused, because the file may now hold a torn record that later ones must not follow.
 *
 * Reading (`readLog`) tells a torn write from damage. Appends are sequential, so a crash mid-write can
 * only leave a prefix of the last batch: a final line without its newline (on some filesystems, a run
 * of NUL bytes where the unsynced data should be, also without a newline). That is torn: it was never
 * acknowledged. A complete line (newline-terminated) that does not decode is damage, wherever it is,
 * last line included: its record was acknowledged, and only the operator may decide to drop it.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncDir } from '../durable-file.js';
import { PRIVATE_FILE_MODE } from '../file-modes.js';
import type { Mutation } from './engine.js';

export interface WalRecord {
  s: number;
  m: Mutation[];
}

export function encodeRecord(json: string): string {
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** Decode one line (without its newline): the record, or why it is unreadable. */
export function decodeLine(line: string): { record: WalRecord } | { reason: string } {
  if (line.length < 10 || line[8] !== ' ' || !/^[0-9a-f]{8}$/.test(line.slice(0, 8))) return { reason: 'is not a `<crc32> <json>` record' };
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return { reason: 'fails its checksum' };
  let value: unknown;
  try {
    value = JSON.parse(json) as unknown;
  } catch {
    return { reason: 'is not JSON' };
  }
  const r = value as Partial<WalRecord> | null;
  if (typeof r !== 'object' || r === null || !Number.isSafeInteger(r.s) || !Array.isArray(r.m)) return { reason: 'is not a journal record' };
  return { record: r as WalRecord };
}

/** Decode one line (without its newline); undefined when the line is torn or corrupt. */
export function decodeRecord(line: string): unknown {
  const decoded = decodeLine(line);
  return 'record' in decoded ? decoded.record : undefined;
}

export interface LogRecordAt {
  record: WalRecord;
  /** 1-based line number and byte offset of the line in the file. */
  line: number;
  offset: number;
}

export interface LogScan {
  /** The readable records, in order, up to the first damaged line. */
  records: LogRecordAt[];
  /** Bytes of the file made of whole, readable lines. */
  goodBytes: number;
  /** A final line without its newline: a write cut off by a crash, never acknowledged. */
  torn?: { line: number; offset: number; bytes: number };
  /** The first whole line that does not decode. */
  damaged?: { line: number; offset: number; reason: string };
}

/** Split a log file into records, a torn tail, or the first damaged line. Reads only. */
export function readLog(buf: Buffer): LogScan {
  const records: LogRecordAt[] = [];
  let offset = 0;
  let line = 0;
  while (offset < buf.length) {
    line += 1;
    const nl = buf.indexOf(0x0a, offset);
    if (nl === -1) {
      // No newline: torn, unless it is a whole record followed by a stray byte where its newline was
      // (a crash only ever cuts a write short; it does not add a byte to a record that is there).
      if (buf.length - offset > 1 && 'record' in decodeLine(buf.toString('utf8', offset, buf.length - 1))) {
        return { records, goodBytes: offset, damaged: { line, offset, reason: 'is a whole record whose newline is damaged' } };
      }
      return { records, goodBytes: offset, torn: { line, offset, bytes: buf.length - offset } };
    }
    const decoded = decodeLine(buf.toString('utf8', offset, nl));
    if (!('record' in decoded)) return { records, goodBytes: offset, damaged: { line, offset, reason: decoded.reason } };
    records.push({ record: decoded.record, line, offset });
    offset = nl + 1;
  }
  return { records, goodBytes: offset };
}

interface Pending {
  data: string;
  rotateTo?: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class WalWriter {
  private handle: FileHandle;
  private readonly fsync: boolean;
  private queue: Pending[] = [];
  private running = false;
  private failure: Error | undefined;
  private closed = false;

  private constructor(handle: FileHandle, fsync: boolean) {
    this.handle = handle;
    this.fsync = fsync;
  }

  static async open(path: string, fsync: boolean): Promise<WalWriter> {
    const handle = await open(path, 'a', PRIVATE_FILE_MODE);
    if (fsync) await fsyncDir(dirname(path));
    return new WalWriter(handle, fsync);
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Queue data; resolves once it is written (and synced, when fsync is on). */
  append(data: string): Promise<void> {
    return this.enqueue({ data });
  }

  /** Everything appended before this call goes to the current file; everything after, to `path`. */
  rotate(path: string): Promise<void> {
    return this.enqueue({ data: '', rotateTo: path });
  }

  /** Resolves when everything appended so far is durable. */
  flushed(): Promise<void> {
    if (!this.running && this.queue.length === 0) {
      return this.failure ? Promise.reject(this.failure) : Promise.resolve();
    }
    return this.enqueue({ data: '' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushed().catch(() => undefined);
    this.closed = true;
    await this.handle.close();
  }

  private enqueue(item: Omit<Pending, 'resolve' | 'reject'>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('write-ahead log is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ...item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const first = this.queue[0];
      if (first?.rotateTo !== undefined) {
        this.queue.shift();
        await this.step([first], async () => {
          const next = await open(first.rotateTo as string, 'a', PRIVATE_FILE_MODE);
          await this.handle.close();
          this.handle = next;
          if (this.fsync) await fsyncDir(dirname(first.rotateTo as string));
        });
        continue;
      }
      const cut = this.queue.findIndex((p) => p.rotateTo !== undefined);
      const batch = cut === -1 ? this.queue.splice(0) : this.queue.splice(0, cut);
      const data = batch.map((p) => p.data).join('');
      await this.step(batch, async () => {
        if (data.length > 0) {
          await this.handle.appendFile(data);
          if (this.fsync) await this.handle.datasync();
        }
      });
    }
    this.running = false;
  }

  private async step(batch: Pending[], work: () => Promise<void>): Promise<void> {
    if (this.failure) {
      for (const p of batch) p.reject(this.failure);
      return;
    }
    try {
      await work();
      for (const p of batch) p.resolve();
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      for (const p of batch) p.reject(this.failure);
      for (const p of this.queue.splice(0)) p.reject(this.failure);
    }
  }
}
