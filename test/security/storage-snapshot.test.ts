/**
 * Issue 10, Storage: a missing snapshot is not an empty store. The snapshot carries a checksum and names
 * the log generation that follows it; a missing or damaged piece refuses the start. A fresh directory
 * and a directory written before the checksum existed still open. secrets.json and the store belong
 * together: neither is silently made anew beside the other.
 */
import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBridge } from '../helpers/bridge.js';
import { Journal, StoreCorruptError } from '../../bridge/store/journal/engine.js';
import { encodeRecord } from '../../bridge/store/journal/wal.js';
import { seed, storedEvents } from './storage-helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-storage-snap-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const COMPACT = { JOURNAL_COMPACT_BYTES: 4096 };

async function journalWithCompaction(after: number): Promise<void> {
  const j = new Journal({ dir });
  await j.open();
  for (let i = 0; i < 20; i++) await j.commit([{ c: 'x', id: String(i), doc: { i } }]);
  await j.compact();
  for (let i = 0; i < after; i++) await j.commit([{ c: 'x', id: `after-${i}`, doc: { i } }]);
  await j.close();
}

describe('a missing snapshot', () => {
  it('refuses to start the bridge when paywire.json is deleted after a compaction', async () => {
    await seed(dir, 40, COMPACT);
    expect(await readdir(dir)).toContain('paywire.json');
    await unlink(join(dir, 'paywire.json'));
    await expect(startBridge(COMPACT, { dataDir: dir })).rejects.toThrow(/paywire\.json is missing, yet the log starts at generation \d+/);
  });

  it('refuses even when nothing was written since the compaction (the new log is empty)', async () => {
    await journalWithCompaction(0);
    await unlink(join(dir, 'paywire.json'));
    const refused = await new Journal({ dir }).open().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(StoreCorruptError);
    expect((refused as Error).message).toMatch(/paywire\.json is missing/);
  });

  it('refuses when the log the snapshot names is deleted (records since the compaction lost), and recover starts it afresh', async () => {
    await journalWithCompaction(3);
    await unlink(join(dir, 'paywire.wal.000002'));
    await expect(new Journal({ dir }).open()).rejects.toThrow(/paywire\.wal\.000002 is missing: the snapshot says the log goes on there/);

    const j = new Journal({ dir });
    const report = await j.recover();
    expect(report.healthy).toBe(false);
    expect(report.actions.join('\n')).toMatch(/started .*paywire\.wal\.000002 afresh/);
    expect(j.size('x')).toBe(20);
    await j.close();
    const again = new Journal({ dir });
    await again.open();
    expect(again.size('x')).toBe(20);
    await again.close();
  });
});

describe('a damaged snapshot', () => {
  it('refuses when a byte inside a document is changed (still valid JSON)', async () => {
    await seed(dir, 40, COMPACT);
    const path = join(dir, 'paywire.json');
    const text = await readFile(path, 'utf8');
    expect(text).toContain('storage-bot');
    await writeFile(path, text.replace('storage-bot', 'storage-bat'));
    JSON.parse(await readFile(path, 'utf8'));
    await expect(startBridge(COMPACT, { dataDir: dir })).rejects.toThrow(/paywire\.json fails its checksum: .*restore it from a backup/);
  });

  it('refuses a snapshot that does not parse, with the store error rather than a bare SyntaxError', async () => {
    await journalWithCompaction(1);
    const path = join(dir, 'paywire.json');
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.slice(0, Math.floor(text.length / 2)));
    const refused = await new Journal({ dir }).open().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(StoreCorruptError);
    expect((refused as Error).message).toMatch(/paywire\.json does not end with its checksum/);
  });
});

describe('directories that must still open', () => {
  it('starts on a fresh, not yet existing DATA_DIR', async () => {
    const fresh = join(dir, 'new', 'data');
    const t = await startBridge({}, { dataDir: fresh });
    try {
      expect((await t.request('POST', '/api/v1/accounts', { body: { label: 'first' } })).status).toBe(201);
    } finally {
      await t.stop();
    }
    const again = await startBridge({}, { dataDir: fresh });
    await again.stop();
  });

  it('opens a data dir written before the checksum existed and adds one', async () => {
    // A snapshot and log as the previous version wrote them: no checksum, the snapshot ends `}}`.
    await writeFile(
      join(dir, 'paywire.json'),
      JSON.stringify({
        format: 1,
        seq: 2,
        walGen: 3,
        collections: {
          x: [
            ['a', { v: 1 }],
            ['b', { v: 2 }],
          ],
        },
      }),
    );
    await writeFile(join(dir, 'paywire.wal.000003'), encodeRecord(JSON.stringify({ s: 3, m: [{ c: 'x', id: 'c', doc: { v: 3 } }] })));
    const j = new Journal({ dir });
    await j.open();
    expect([...j.values('x')]).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }]);
    await j.close();
    expect(await readFile(join(dir, 'paywire.json'), 'utf8')).toMatch(/,"sha256":"[0-9a-f]{64}"\}$/);
    const again = new Journal({ dir });
    await again.open();
    expect(again.size('x')).toBe(3);
    await again.close();
  });
});

describe('secrets.json beside the store', () => {
  it('refuses to start when secrets.json is missing beside a store that holds data', async () => {
    const { key } = await seed(dir, 2);
    const secrets = await readFile(join(dir, 'secrets.json'));
    await unlink(join(dir, 'secrets.json'));
    await expect(startBridge({}, { dataDir: dir })).rejects.toThrow(/secrets\.json is missing while the store holds data: .*restore it from a backup/);
    expect(await readdir(dir)).not.toContain('secrets.json');
    // Put back, the bridge starts and the account's key still works.
    await writeFile(join(dir, 'secrets.json'), secrets);
    const t = await startBridge({}, { dataDir: dir });
    try {
      expect(await storedEvents(t, key)).toHaveLength(2);
    } finally {
      await t.stop();
    }
  });

  it('refuses a secrets.json with a malformed key instead of using it', async () => {
    await seed(dir, 1);
    const path = join(dir, 'secrets.json');
    const secrets = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...secrets, webhook_signing_seed: 'not-hex' }));
    await expect(startBridge({}, { dataDir: dir })).rejects.toThrow(/secrets\.json has no valid webhook_signing_seed/);
  });

  it('refuses to start an empty store beside an existing secrets.json (the store files are gone)', async () => {
    await seed(dir, 2);
    for (const f of await readdir(dir)) if (f.startsWith('paywire.')) await unlink(join(dir, f));
    await expect(startBridge({}, { dataDir: dir })).rejects.toThrow(/holds secrets\.json but no store/);
    expect((await readdir(dir)).filter((f) => f.startsWith('paywire.'))).toEqual([]);
  });
});
