/**
 * The journal's snapshot as a lowdb adapter. Reading parses the file once at start. Writing streams:
 * each record is serialised on its own and written in chunks, awaiting the disk between them, so a
 * large snapshot never blocks the event loop for long nor needs the whole file as one string. The
 * snapshot's entry lists are captured by the caller before `write` (records are immutable, so the
 * stream sees exactly that moment); then temp file, fdatasync, rename, fsync of the directory.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';
import { fsyncDir } from './durable-file.js';

export interface Snapshot {
  format: 1;
  seq: number;
  /** The first log generation this snapshot does not include. */
  walGen: number;
  collections: Record<string, [string, unknown][]>;
}

const CHUNK_ENTRIES = 256;

export class SnapshotFile implements Adapter<Snapshot> {
  readonly path: string;
  /** Size in bytes of the last snapshot read or written. */
  bytes = 0;

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<Snapshot | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    this.bytes = Buffer.byteLength(text);
    return JSON.parse(text) as Snapshot;
  }

  async write(snapshot: Snapshot): Promise<void> {
    const temp = join(dirname(this.path), `.${basename(this.path)}.tmp`);
    const handle = await open(temp, 'w');
    let bytes = 0;
    const put = async (text: string) => {
      bytes += Buffer.byteLength(text);
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
      await put('}}');
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.path);
    await fsyncDir(dirname(this.path));
    this.bytes = bytes;
  }
}
