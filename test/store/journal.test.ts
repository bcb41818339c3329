import { appendFile, mkdtemp, open as openFile, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Journal, StoreCorruptError } from '../../bridge/store/journal/engine.js';
import { decodeRecord, encodeRecord } from '../../bridge/store/journal/wal.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function open(options: Partial<ConstructorParameters<typeof Journal>[0]> = {}): Promise<Journal> {
  const j = new Journal({ dir, ...options });
  await j.open();
  return j;
}

const walFiles = async () => (await readdir(dir)).filter((f) => f.startsWith('paywire.wal.')).sort();

describe('records', () => {
  it('round-trip and reject damage', () => {
    const line = encodeRecord('{"s":1,"m":[]}');
    expect(line.endsWith('\n')).toBe(true);
    expect(decodeRecord(line.slice(0, -1))).toEqual({ s: 1, m: [] });
    expect(decodeRecord(line.slice(0, -3))).toBeUndefined();
    expect(decodeRecord(line.slice(0, -1).replace('"s":1', '"s":2'))).toBeUndefined();
    expect(decodeRecord('')).toBeUndefined();
  });
});

describe('Journal', () => {
  it('keeps puts and deletes across a reopen, in insertion order', async () => {
    const j = await open();
    await j.commit([
      { c: 'things', id: 'a', doc: { n: 1 } },
      { c: 'things', id: 'b', doc: { n: 2 } },
    ]);
    await j.commit([{ c: 'things', id: 'a', doc: { n: 3 } }]);
    await j.commit([
      { c: 'things', id: 'c', doc: { n: 4 } },
      { c: 'things', id: 'b', delete: true },
    ]);
    expect([...j.values('things')]).toEqual([{ n: 3 }, { n: 4 }]);
    await j.close();

    const again = await open();
    expect([...again.values('things')]).toEqual([{ n: 3 }, { n: 4 }]);
    expect(again.get('things', 'b')).toBeUndefined();
    expect(again.stats().seq).toBe(3);
    await again.close();
  });

  it('makes a commit visible at once and durable when it resolves', async () => {
    const j = await open();
    const pending = j.commit([{ c: 'x', id: '1', doc: { v: 1 } }]);
    expect(j.get('x', '1')).toEqual({ v: 1 });
    await pending;
    const text = await readFile(join(dir, (await walFiles())[0] as string), 'utf8');
    expect(text).toContain('"v":1');
    await j.close();
  });

  it('shares one write among concurrent commits (group commit) and keeps their order', async () => {
    const j = await open();
    // Count the log's writes and syncs: the calls the WAL makes on its file handle.
    const probe = await openFile(join(dir, (await walFiles())[0] as string), 'r');
    const handle = Object.getPrototypeOf(probe) as { appendFile(...args: unknown[]): Promise<void>; datasync(): Promise<void> };
    await probe.close();
    const writeSpy = vi.spyOn(handle, 'appendFile');
    const syncSpy = vi.spyOn(handle, 'datasync');
    let writes: unknown[][];
    let syncs: number;
    try {
      await Promise.all(Array.from({ length: 500 }, (_, i) => j.commit([{ c: 'x', id: String(i), doc: { i } }])));
    } finally {
      writes = [...writeSpy.mock.calls];
      syncs = syncSpy.mock.calls.length;
      writeSpy.mockRestore();
      syncSpy.mockRestore();
    }
    await j.close();
    const text = await readFile(join(dir, (await walFiles())[0] as string), 'utf8');
    const lines = text.trim().split('\n');
    expect(lines.map((l) => (decodeRecord(l) as { s: number }).s)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    // Every record went out in those writes, and the 500 commits shared them: fewer writes than commits.
    expect(writes.map((c) => String(c[0])).join('')).toBe(text);
    expect(writes.length).toBeLessThan(500);
    expect(syncs).toBe(writes.length);
  });

  it('calls index hooks on commit and on replay', async () => {
    const seen: string[] = [];
    const j = new Journal({ dir });
    j.onApply((c, id, next, prev) => seen.push(`${c}/${id}:${JSON.stringify(prev ?? null)}->${JSON.stringify(next ?? null)}`));
    await j.open();
    await j.commit([{ c: 'x', id: '1', doc: { v: 1 } }]);
    await j.commit([{ c: 'x', id: '1', delete: true }]);
    await j.close();
    expect(seen).toEqual(['x/1:null->{"v":1}', 'x/1:{"v":1}->null']);

    const replayed: string[] = [];
    const k = new Journal({ dir });
    k.onApply((c, id, next) => replayed.push(`${c}/${id}:${JSON.stringify(next ?? null)}`));
    await k.open();
    expect(replayed).toEqual(['x/1:{"v":1}', 'x/1:null']);
    expect(() => k.onApply(() => undefined)).toThrow(/before open/);
    await k.close();
  });

  it('drops a torn last record and keeps every complete one', async () => {
    const j = await open();
    for (let i = 0; i < 10; i++) await j.commit([{ c: 'x', id: String(i), doc: { i } }]);
    await j.close();
    const wal = join(dir, (await walFiles())[0] as string);
    const size = (await stat(wal)).size;
    await truncate(wal, size - 7); // the last record loses its tail, as a crash mid-write would leave it

    const again = await open();
    expect(again.size('x')).toBe(9);
    expect(again.stats().tornBytesDropped).toBeGreaterThan(0);
    // The log is usable again: new commits follow the last good one.
    await again.commit([{ c: 'x', id: 'new', doc: { i: 99 } }]);
    await again.close();
    const third = await open();
    expect(third.size('x')).toBe(10);
    expect(third.get('x', 'new')).toEqual({ i: 99 });
    await third.close();
  });

  it('treats zero-filled tail blocks as torn', async () => {
    const j = await open();
    await j.commit([{ c: 'x', id: '1', doc: { i: 1 } }]);
    await j.close();
    await appendFile(join(dir, (await walFiles())[0] as string), Buffer.alloc(4096));
    const again = await open();
    expect(again.size('x')).toBe(1);
    await again.close();
  });

  it('refuses to start when a record in the middle is damaged', async () => {
    const j = await open();
    for (let i = 0; i < 5; i++) await j.commit([{ c: 'x', id: String(i), doc: { i } }]);
    await j.close();
    const wal = join(dir, (await walFiles())[0] as string);
    const lines = (await readFile(wal, 'utf8')).split('\n');
    lines[2] = (lines[2] as string).replace('"i":2', '"i":7');
    await writeFile(wal, lines.join('\n'));
    await expect(open()).rejects.toBeInstanceOf(StoreCorruptError);
  });

  it('refuses a gap in the sequence', async () => {
    const j = await open();
    for (let i = 0; i < 3; i++) await j.commit([{ c: 'x', id: String(i), doc: { i } }]);
    await j.close();
    const wal = join(dir, (await walFiles())[0] as string);
    const lines = (await readFile(wal, 'utf8')).split('\n');
    lines.splice(1, 1);
    await writeFile(wal, lines.join('\n'));
    await expect(open()).rejects.toThrow(/sequence 3, expected 2/);
  });

  it('compacts into a lowdb snapshot and a new log generation', async () => {
    const j = await open({ compactBytes: 4096 });
    for (let i = 0; i < 200; i++) await j.commit([{ c: 'x', id: String(i % 50), doc: { i, pad: 'p'.repeat(40) } }]);
    await j.compact();
    const stats = j.stats();
    expect(stats.compactions).toBeGreaterThan(0);
    await j.commit([{ c: 'x', id: 'after', doc: { i: -1 } }]);
    await j.close();

    const snapshot = JSON.parse(await readFile(join(dir, 'paywire.json'), 'utf8'));
    expect(snapshot.format).toBe(1);
    expect(snapshot.collections.x.length).toBeLessThanOrEqual(51);
    const wals = await walFiles();
    expect(wals.length).toBe(1);
    expect(wals[0]).not.toBe('paywire.wal.000001');

    const again = await open();
    expect(again.size('x')).toBe(51);
    expect(again.get('x', '49')).toEqual({ i: 199, pad: 'p'.repeat(40) });
    expect(again.get('x', 'after')).toEqual({ i: -1 });
    await again.close();
  });

  it('recovers when a crash left the old log beside a newer snapshot', async () => {
    const j = await open();
    for (let i = 0; i < 5; i++) await j.commit([{ c: 'x', id: String(i), doc: { i } }]);
    const before = await readFile(join(dir, 'paywire.wal.000001'));
    await j.compact();
    await j.commit([{ c: 'x', id: '5', doc: { i: 5 } }]);
    await j.close();
    // As if the process died after writing the snapshot but before deleting the old log.
    await writeFile(join(dir, 'paywire.wal.000001'), before);
    const again = await open();
    expect(again.size('x')).toBe(6);
    expect(again.stats().seq).toBe(6);
    expect(await walFiles()).toEqual(['paywire.wal.000002']);
    await again.close();
  });

  it('keeps accepting commits while a compaction runs', async () => {
    const j = await open();
    for (let i = 0; i < 100; i++) await j.commit([{ c: 'x', id: String(i), doc: { i } }]);
    const compaction = j.compact();
    const during = Array.from({ length: 50 }, (_, i) => j.commit([{ c: 'x', id: `d${i}`, doc: { i } }]));
    await Promise.all([compaction, ...during]);
    await j.close();
    const again = await open();
    expect(again.size('x')).toBe(150);
    await again.close();
  });

  it('refuses writes after a failed write instead of writing past a torn record', async () => {
    const j = await open();
    await j.commit([{ c: 'x', id: '1', doc: { v: 1 } }]);
    // Close the file under the journal: the next append fails like a dying disk would.
    await (j as unknown as { wal: { handle: { close(): Promise<void> } } }).wal.handle.close();
    await expect(j.commit([{ c: 'x', id: '2', doc: { v: 2 } }])).rejects.toThrow(/store is unavailable/);
    await expect(j.commit([{ c: 'x', id: '3', doc: { v: 3 } }])).rejects.toThrow(/store is unavailable/);
  });
});

describe('Journal failure callback', () => {
  it('reports the first failed write once', async () => {
    const failures: Error[] = [];
    const j = new Journal({ dir, onFailure: (err) => failures.push(err) });
    await j.open();
    await (j as unknown as { wal: { handle: { close(): Promise<void> } } }).wal.handle.close();
    await expect(j.commit([{ c: 'x', id: '1', doc: {} }])).rejects.toThrow();
    await expect(j.commit([{ c: 'x', id: '2', doc: {} }])).rejects.toThrow();
    expect(failures).toHaveLength(1);
  });
});
