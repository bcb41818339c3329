/**
 * The payment ledger: which payments (and triggers) this daemon has seen, run and reported, kept in
 * a small append-only file so a payment sent again (the bridge delivers at least once, and replays
 * what was not acknowledged) never runs twice, across restarts too. Each change is one JSON line,
 * written with fdatasync before the daemon acts on it; the file is compacted (write, fsync, rename,
 * fsync the directory) when it grows, keeping the newest `remember` entries.
 */
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionMessage } from '../broker/topics.js';

/**
 * `queued`: taken (the broker was told so) and waiting for the relay; `running`: about to switch the
 * relay (written before the pin, so a crash never runs it twice); `done`: finished or refused, the
 * report waiting for the broker's PUBACK; `reported`: the bridge stored the report.
 */
export type EntryState = 'queued' | 'running' | 'done' | 'reported';

export interface LedgerEntry {
  asset: string;
  /** `p:<payment_id>` or `t:<trigger_id>`. */
  id: string;
  state: EntryState;
  /** The work to do (queued) or the report to send (done). */
  data?: unknown;
  report?: ActionMessage;
}

const FILE = 'ledger.jsonl';

export class Ledger {
  private readonly entries = new Map<string, LedgerEntry>();
  private fd: number;
  private lines = 0;

  private constructor(
    private readonly dir: string,
    private readonly remember: number,
  ) {
    mkdirSync(dir, { recursive: true });
    this.load();
    this.fd = this.compact();
  }

  static open(dir: string, remember: number): Ledger {
    return new Ledger(dir, remember);
  }

  get size(): number {
    return this.entries.size;
  }

  get(asset: string, id: string): LedgerEntry | undefined {
    return this.entries.get(`${asset}/${id}`);
  }

  /** Record a change; `sync` waits for the disk (fdatasync) before returning. */
  set(entry: LedgerEntry, sync: boolean): void {
    const key = `${entry.asset}/${entry.id}`;
    const existing = this.entries.get(key);
    const next: LedgerEntry = { ...entry };
    if (next.report === undefined && existing?.report !== undefined && entry.state !== 'reported') next.report = existing.report;
    if (next.data === undefined && existing?.data !== undefined && entry.state === 'running') next.data = existing.data;
    if (existing) this.entries.set(key, next);
    else {
      this.entries.set(key, next);
      this.evict();
    }
    writeSync(this.fd, `${JSON.stringify(next)}\n`);
    this.lines += 1;
    if (sync) fdatasyncSync(this.fd);
    if (this.lines > this.remember * 3 + 100) {
      closeSync(this.fd);
      this.fd = this.compact();
    }
  }

  /** Entries not reported yet, oldest first: what a restart must finish. */
  unfinished(): LedgerEntry[] {
    return [...this.entries.values()].filter((e) => e.state !== 'reported');
  }

  close(): void {
    try {
      fdatasyncSync(this.fd);
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }

  /** Oldest reported entries go first; the bound holds even when nothing is reported. */
  private evict(): void {
    if (this.entries.size <= this.remember) return;
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.remember) return;
      if (e.state === 'reported') this.entries.delete(key);
    }
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.remember) return;
      this.entries.delete(key);
    }
  }

  private load(): void {
    let text = '';
    try {
      text = readFileSync(join(this.dir, FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let e: LedgerEntry;
      try {
        e = JSON.parse(line) as LedgerEntry;
      } catch {
        continue; // a line torn by a crash mid-write: the change it held was never acted on
      }
      if (typeof e?.asset !== 'string' || typeof e.id !== 'string' || typeof e.state !== 'string') continue;
      const key = `${e.asset}/${e.id}`;
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    while (this.entries.size > this.remember) this.evict();
  }

  /** Rewrite the file with the live entries (write, fsync, rename, fsync the directory); returns the append fd. */
  private compact(): number {
    const path = join(this.dir, FILE);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    const body = [...this.entries.values()].map((e) => `${JSON.stringify(e)}\n`).join('');
    if (body.length > 0) writeSync(fd, body);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    this.lines = this.entries.size;
    return openSync(path, 'a');
  }
}
