/**
 * The journal's snapshot as a lowdb adapter. Reading parses the file once at start. Writing streams:
 * each record is serialised on its own and written in chunks, awaiting the disk between them, so a
 * large snapshot never blocks the event loop for long nor needs the whole file as one string. The
 * snapshot's entry lists are captured by the caller before `write` (records are immutable, so the
 * stream sees exactly that moment); then temp file (0600), fdatasync, rename, fsync of the directory.
 *
 * The file ends with a checksum of everything before it: `{"format":1,…,"collections":{…},"sha256":"<hex>"}`,
 * the sha256 taken over the bytes up to (not including) `,"sha256"`. A snapshot that fails it, or does not
 * parse, is refused. A snapshot written before the checksum existed (ending `}}`) is read as it is and
 * marked `checksummed: false`; the journal rewrites it at once. The format number stays 1: the field is
 * an addition that older readers ignore.
 */
import { createHash } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Adapter } from 'lowdb';
import { fsyncDir, tempPathFor } from '../durable-file.js';
import { StoreCorruptError } from '../errors.js';
import { PRIVATE_FILE_MODE } from '../file-modes.js';

export interface Snapshot {
  format: 1;
  seq: number;
  /** The first log generation this snapshot does not include. */
  walGen: number;
  collections: Record<string, [string, unknown][]>;
}

const CHUNK_ENTRIES = 256;
const SUM_PREFIX = ',"sha256":"';
/** `,"sha256":"` + 64 hex + `"}` */
const SUM_BYTES = SUM_PREFIX.length + 64 + 2;

export class SnapshotFile implements Adapter<Snapshot> {
  readonly path: string;
  /** Size in bytes of the last snapshot read or written. */
  bytes = 0;
  /** Whether the last snapshot read carried a checksum (false for one written by an older version). */
  checksummed = false;

  constructor(path: string) {
    this.path = path;
  }

  get tempPath(): string {
    return tempPathFor(this.path);
  }

  async read(): Promise<Snapshot | null> {
    let buf: Buffer;
    try {
      buf = await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const refuse = (why: string) =>
      new StoreCorruptError(
        `${this.path} ${why}: the snapshot is damaged and the store cannot open without it; restore it from a backup (nothing was changed)`,
        {
          path: this.path,
        },
      );
    const legacy = buf.length >= 2 && buf.subarray(-2).toString('latin1') === '}}';
    if (!legacy) {
      const sum = buf.subarray(buf.length - SUM_BYTES).toString('latin1');
      const match = buf.length > SUM_BYTES && sum.startsWith(SUM_PREFIX) && sum.endsWith('"}') ? /^[0-9a-f]{64}$/.exec(sum.slice(SUM_PREFIX.length, -2)) : null;
      if (!match) throw refuse('does not end with its checksum');
      const actual = createHash('sha256')
        .update(buf.subarray(0, buf.length - SUM_BYTES))
        .digest('hex');
      if (actual !== match[0]) throw refuse('fails its checksum');
    }
    let snapshot: Partial<Snapshot> | null;
    try {
      snapshot = JSON.parse(buf.toString('utf8')) as Partial<Snapshot> | null;
    } catch {
      throw refuse('is not valid JSON');
    }
    if (typeof snapshot !== 'object' || snapshot === null) throw refuse('is not a snapshot');
    if (snapshot.format !== 1) throw refuse(`has an unknown format ${String(snapshot.format)}`);
    if (!Number.isSafeInteger(snapshot.seq) || !Number.isSafeInteger(snapshot.walGen) || (snapshot.walGen as number) < 1)
      throw refuse('has no valid seq or walGen');
    const collections = snapshot.collections as unknown;
    if (typeof collections !== 'object' || collections === null || !Object.values(collections).every((entries) => Array.isArray(entries))) {
      throw refuse('has no valid collections');
    }
    this.bytes = buf.length;
    this.checksummed = !legacy;
    return { format: 1, seq: snapshot.seq as number, walGen: snapshot.walGen as number, collections: collections as Snapshot['collections'] };
  }

  async write(snapshot: Snapshot): Promise<void> {
    const temp = this.tempPath;
    await rm(temp, { force: true });
    const handle = await open(temp, 'wx', PRIVATE_FILE_MODE);
    const sum = createHash('sha256');
    let bytes = 0;
    const put = async (text: string) => {
      bytes += Buffer.byteLength(text);
      sum.update(text);
      await handle.write(text);
    };
    try {
      await put(`{"format":1,"seq":${snapshot.seq},"walGen":${snapshot.walGen},"collections":{`);
      let firstCollection = true;
      for (const [name, entries] of Object.entries(snapshot.collections)) {
        await put(`${firstCollection ? '' : ','}${JSON.stringify(name)}:[`);
        firstCollection = false;
        for (let i = 0; i < entries.length; i += CHUNK_ENTRIES) {
          const chunk = entries.slice(i, i + CHUNK_ENTRIES).map((entry) => JSON.stringify(entry));
          await put(`${i === 0 ? '' : ','}${chunk.join(',')}`);
        }
        await put(']');
      }
      await put('}');
      const tail = `${SUM_PREFIX}${sum.digest('hex')}"}`;
      bytes += tail.length;
      await handle.write(tail);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.path);
    await fsyncDir(dirname(this.path));
    this.bytes = bytes;
    this.checksummed = true;
  }
}
