/**
 * One writer per store. Two bridges (or a bridge and `journal recover`) on one DATA_DIR would
 * interleave their appends, and one's start would cut the other's in-flight write as if it were torn.
 * `<name>.lock` (0600) holds the owner's pid and host; it is removed on close. A lock left by a process
 * that is gone (killed, crashed) is taken over; one held by a live process on this host refuses the
 * start. A lock from another host (a shared volume, or a container recreated under a new hostname)
 * cannot be checked: it is taken over with a warning.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { StoreInUseError } from '../errors.js';
import { PRIVATE_FILE_MODE } from '../file-modes.js';

interface LockOwner {
  pid: number;
  host: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class StoreLock {
  private constructor(
    readonly path: string,
    private readonly owner: string,
  ) {}

  static async acquire(path: string, log?: Logger): Promise<StoreLock> {
    const me: LockOwner = { pid: process.pid, host: hostname() };
    const owner = JSON.stringify(me);
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(path, 'wx', PRIVATE_FILE_MODE);
        try {
          await handle.writeFile(`${owner}\n`);
        } finally {
          await handle.close();
        }
        return new StoreLock(path, owner);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      }
      let held: Partial<LockOwner> = {};
      try {
        held = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
      } catch {
        // Unreadable (a crash while writing it): nobody can be shown to hold it.
      }
      if (typeof held.pid === 'number' && held.host === me.host && held.pid !== me.pid && alive(held.pid)) {
        throw new StoreInUseError(
          `${path}: the store is in use by another process (pid ${held.pid}); stop it first, or remove the lock file if no bridge runs on this data`,
          path,
        );
      }
      if (typeof held.host === 'string' && held.host !== me.host) {
        log?.warn({ path, host: held.host, pid: held.pid }, 'taking over a store lock left by another host: make sure no other bridge uses this data');
      }
      await unlink(path).catch(() => undefined);
    }
  }

  /** Remove the lock, if it is still ours. */
  async release(): Promise<void> {
    const current = await readFile(this.path, 'utf8').catch(() => '');
    if (current.trim() === this.owner) await unlink(this.path).catch(() => undefined);
  }
}
