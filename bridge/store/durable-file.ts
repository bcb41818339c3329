/**
 * Crash-safe whole-file writes: write a temporary file, fdatasync it, rename it over the target,
 * fsync the directory. `DurableJsonFile` is the lowdb adapter the journal's snapshot uses; lowdb's
 * own `JSONFile` renames without syncing, which survives a killed process but not a power cut.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeFileDurably(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.tmp`);
  const handle = await open(temp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await fsyncDir(dirname(path));
}

export class DurableJsonFile<T> implements Adapter<T> {
  readonly path: string;
  /** Size in bytes of the last document read or written. */
  bytes = 0;

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    this.bytes = Buffer.byteLength(text);
    return JSON.parse(text) as T;
  }

  /** Serialises synchronously, before the first await, so the caller's data is captured as it is now. */
  write(data: T): Promise<void> {
    const text = JSON.stringify(data);
    this.bytes = Buffer.byteLength(text);
    return writeFileDurably(this.path, text);
  }
}
