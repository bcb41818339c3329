/**
 * DATA_DIR holds the store and the bridge's secrets, so only its owner may read it: the directory is
 * 0700 and every file in it 0600, whatever the umask (a mode given at creation can only be narrowed by
 * the umask, never widened). An existing directory or file with looser modes is tightened at start,
 * with a warning saying what changed; if that is not permitted (not the owner), the warning says so
 * and the start goes on.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import type { Logger } from 'pino';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Create `dir` (and missing parents) 0700, or tighten an existing one to 0700. */
export async function ensurePrivateDir(dir: string, log?: Logger): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await tighten(dir, PRIVATE_DIR_MODE, log);
}

/** Tighten an existing file to 0600; a missing file is left alone. */
export async function tightenFile(path: string, log?: Logger): Promise<void> {
  await tighten(path, PRIVATE_FILE_MODE, log);
}

async function tighten(path: string, mode: number, log: Logger | undefined): Promise<void> {
  let current: number;
  try {
    current = (await stat(path)).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if ((current & ~mode) === 0) return;
  const from = current.toString(8).padStart(4, '0');
  const to = (current & mode).toString(8).padStart(4, '0');
  try {
    await chmod(path, current & mode);
    log?.warn({ path, from, to }, 'tightened the mode of a data file: only the owner may read DATA_DIR');
  } catch (err) {
    log?.warn({ path, mode: from, err: (err as Error).message }, 'cannot tighten the mode of a data file: others may read it');
  }
}
