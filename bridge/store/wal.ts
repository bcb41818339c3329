/**
 * The append-only log under the journal. Each record is one line, `<crc32 hex> <json>\n`.
 * Appends queue up while a write is in flight and go out together with one fdatasync (group
 * commit), so concurrent writers share the cost of the sync. A failed write poisons the log: every
 * later append is refused, because the file may now hold a torn record that later ones must not follow.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncDir } from './durable-file.js';

export function encodeRecord(json: string): string {
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** Decode one line (without its newline); undefined when the line is torn or corrupt. */
export function decodeRecord(line: string): unknown {
  if (line.length < 10 || line[8] !== ' ') return undefined;
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
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
    const handle = await open(path, 'a');
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
          const next = await open(first.rotateTo as string, 'a');
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
