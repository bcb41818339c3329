/**
 * What `npm start -- journal check` reports and `npm start -- journal recover` does when the log is
 * damaged: everything from the first unreadable record on is dropped (records after it may depend on
 * it, so only the readable prefix is a consistent store). Nothing is destroyed: the damaged log file is
 * copied to `<log>.damaged-<time>` before it is truncated, later log files are renamed to
 * `<log>.dropped-<time>`, and every dropped record is listed (sequence, collection/id, put or delete;
 * never document contents, which may be private).
 */
import { open, readFile, rename } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fsyncDir } from '../durable-file.js';
import { PRIVATE_FILE_MODE } from '../file-modes.js';
import { decodeLine, type WalRecord } from './wal.js';

/** What `inspect()` found or `recover()` did, for the operator. */
export interface JournalReport {
  /** The store opens as it is (an incomplete final line, never acknowledged, is no problem). */
  healthy: boolean;
  /** What is wrong, one line each. */
  problems: string[];
  /** What was done (recover), or would be done (check). */
  actions: string[];
  /** Each dropped record, one line each. */
  dropped: string[];
}

/** Where the readable store ends: a log file and the byte (line) of the first record it cannot use. */
export interface Damage {
  path: string;
  offset: number;
  /** Undefined when the whole file is missing. */
  line: number | undefined;
  why: string;
}

export function describeDamage(d: Damage): string {
  return d.line === undefined ? `${d.path} ${d.why}` : `${d.path}: line ${d.line} (byte ${d.offset}) ${d.why}`;
}

const printable = (v: unknown) => String(v).replace(/[^\x20-\x7e]/g, '?');

function summarize(record: Partial<WalRecord>): string {
  const mutations = Array.isArray(record.m) ? record.m : [];
  const each = mutations.map((m) => {
    const mu = (typeof m === 'object' && m !== null ? m : {}) as { c?: unknown; id?: unknown; delete?: unknown };
    return `${mu.delete === true ? 'delete' : 'put'} ${printable(mu.c)}/${printable(mu.id)}`;
  });
  return `seq ${printable(record.s)}: ${each.join(', ') || 'no mutations'}`;
}

/** One line per record from byte `from` (line `firstLine`) of a log file to its end. */
export async function describeRecords(path: string, from: number, firstLine: number): Promise<string[]> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  const name = basename(path);
  let offset = from;
  for (let line = firstLine; offset < buf.length; line++) {
    const nl = buf.indexOf(0x0a, offset);
    const end = nl === -1 ? buf.length : nl;
    const text = buf.toString('utf8', offset, end);
    const where = `${name} line ${line} (byte ${offset})`;
    const decoded = decodeLine(text);
    if ('record' in decoded) out.push(`${where}: ${summarize(decoded.record)}`);
    else if (nl === -1) out.push(`${where}: ${end - offset} bytes without a newline (a write cut off by a crash, never acknowledged)`);
    else out.push(`${where}: unreadable, ${decoded.reason}${asRead(text)}`);
    offset = end + 1;
  }
  return out;
}

/** A damaged record's content as far as it still parses, marked unverified. */
function asRead(text: string): string {
  try {
    const value = JSON.parse(text.slice(9)) as Partial<WalRecord> | null;
    return typeof value === 'object' && value !== null && 's' in value ? `; as read, unverified: ${summarize(value)}` : '';
  } catch {
    return '';
  }
}

/** A timestamp usable in a file name. */
export function backupStamp(now = new Date()): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

/** Copy `path` to `backup` (0600, synced), then cut `path` at `offset` (synced). */
export async function backUpAndTruncate(path: string, offset: number, backup: string): Promise<void> {
  const data = await readFile(path);
  const copy = await open(backup, 'wx', PRIVATE_FILE_MODE);
  try {
    await copy.writeFile(data);
    await copy.datasync();
  } finally {
    await copy.close();
  }
  await fsyncDir(dirname(backup));
  await truncateDurably(path, offset);
}

/** Cut `path` at `offset` and sync it, so no later append can land after bytes a crash brings back. */
export async function truncateDurably(path: string, offset: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.truncate(offset);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Rename a later log file aside so it is no longer replayed. */
export async function moveAside(path: string, to: string): Promise<void> {
  await rename(path, to);
  await fsyncDir(dirname(to));
}
