/**
 * Issue 10, Storage: DATA_DIR is 0700 and its files (log, snapshot, secrets.json, temp files, recovery
 * backups) 0600 whatever the umask; an existing DATA_DIR with looser modes is tightened at start.
 */
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBridge } from '../helpers/bridge.js';
import { seed } from './storage-helpers.js';

let dir: string;
let umask: number;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-storage-modes-'));
  umask = process.umask(0); // as permissive as it gets: every mode below is the bridge's own doing
});
afterEach(async () => {
  process.umask(umask);
  await rm(dir, { recursive: true, force: true });
});

const mode = async (path: string) => (await stat(path)).mode & 0o777;

async function filesOf(data: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const f of (await readdir(data)).sort()) out[f] = await mode(join(data, f));
  return out;
}

describe('DATA_DIR modes', () => {
  it('creates DATA_DIR 0700 and every file in it 0600, snapshot included, under umask 0', async () => {
    const data = join(dir, 'data');
    await seed(data, 40, { JOURNAL_COMPACT_BYTES: 4096 });
    expect(await mode(data)).toBe(0o700);
    const files = await filesOf(data);
    expect(Object.keys(files)).toEqual(expect.arrayContaining(['paywire.json', 'secrets.json']));
    expect(Object.keys(files).some((f) => f.startsWith('paywire.wal.'))).toBe(true);
    for (const [f, m] of Object.entries(files)) expect(m.toString(8), f).toBe('600');
  });

  it('tightens an existing DATA_DIR and its files with looser modes at start', async () => {
    const data = join(dir, 'data');
    await seed(data, 40, { JOURNAL_COMPACT_BYTES: 4096 });
    await chmod(data, 0o777);
    for (const f of await readdir(data)) await chmod(join(data, f), 0o666);
    // A snapshot temp file left by a crash mid-compaction, with a loose mode: removed, never reused.
    await writeFile(join(data, '.paywire.json.tmp'), '{"format":1', { mode: 0o666 });
    const t = await startBridge({ JOURNAL_COMPACT_BYTES: 4096 }, { dataDir: data });
    await t.stop();
    expect(await mode(data)).toBe(0o700);
    const files = await filesOf(data);
    expect(Object.keys(files)).not.toContain('.paywire.json.tmp');
    for (const [f, m] of Object.entries(files)) expect(m.toString(8), f).toBe('600');
  });
});
