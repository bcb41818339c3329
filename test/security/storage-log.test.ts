/**
 * Issue 10, Storage: acknowledged records are never dropped silently. Only a final line without its
 * newline is a torn write; a damaged complete line anywhere in the log (the last one included) refuses
 * the start, naming the file and byte, and `npm start -- journal recover` is the explicit way past it.
 */
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBridge } from '../helpers/bridge.js';
import { Journal, StoreCorruptError, StoreInUseError } from '../../bridge/store/journal/engine.js';
import { encodeRecord } from '../../bridge/store/journal/wal.js';
import { startCli } from '../helpers/process.js';
import { flipByteInLine, lineRanges, newestLog, runCli, seed, storedEvents } from './storage-helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-storage-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a damaged record in the log', () => {
  it('refuses to start when the last complete line is damaged, naming the file, line and byte', async () => {
    await seed(dir, 6);
    const log = await newestLog(dir);
    const before = await readFile(log);
    const { offset } = await flipByteInLine(log, -1);

    const refused = await startBridge({}, { dataDir: dir }).then(
      async (t) => {
        await t.stop();
        return undefined;
      },
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(StoreCorruptError);
    const message = (refused as Error).message;
    expect(message).toContain(log);
    expect(message).toMatch(new RegExp(`line ${lineRanges(before).length} \\(byte ${offset}\\) fails its checksum`));
    expect(message).toContain('npm start -- journal recover');
    // Refusing changed nothing: the damaged line is still there for the operator to look at.
    expect((await readFile(log)).length).toBe(before.length);
  });

  it('refuses when the last complete line is damaged and a torn line follows it', async () => {
    await seed(dir, 4);
    const log = await newestLog(dir);
    await flipByteInLine(log, -1);
    await appendFile(log, '1234abcd {"s":99,"m":[{"c":"ev'); // a later write cut off by a crash
    await expect(startBridge({}, { dataDir: dir })).rejects.toThrow(/line \d+ \(byte \d+\) fails its checksum/);
  });

  it('refuses when the final newline of an acknowledged record is damaged (not a torn write)', async () => {
    await seed(dir, 3);
    const log = await newestLog(dir);
    const buf = await readFile(log);
    buf[buf.length - 1] = 0x0b; // '\n' -> '\v': the record is whole, a crash cannot have left it so
    await writeFile(log, buf);
    await expect(startBridge({}, { dataDir: dir })).rejects.toThrow(/newline is damaged/);
  });

  it('refuses a damaged record in an older log generation too', async () => {
    // Two generations and no snapshot yet: what a crash in the middle of the first compaction leaves.
    const record = (s: number) => encodeRecord(JSON.stringify({ s, m: [{ c: 'x', id: String(s), doc: { s } }] }));
    await writeFile(join(dir, 'paywire.wal.000001'), [1, 2, 3, 4].map(record).join(''));
    await writeFile(join(dir, 'paywire.wal.000002'), record(5));
    const j = new Journal({ dir });
    await j.open();
    expect(j.size('x')).toBe(5);
    await j.close();
    await flipByteInLine(join(dir, 'paywire.wal.000001'), -1);
    await expect(new Journal({ dir }).open()).rejects.toThrow(/paywire\.wal\.000001: line 4 \(byte \d+\) fails its checksum/);
  });
});

describe('journal recovery (an explicit operator action)', () => {
  it('check reports and changes nothing; recover truncates at the damage, keeps a backup, lists what it dropped; then the bridge starts', async () => {
    const { key, ids } = await seed(dir, 8);
    const log = await newestLog(dir);
    const before = await readFile(log);
    const lines = lineRanges(before).length;
    const { offset } = await flipByteInLine(log, -2); // the second-to-last record, and the last one after it
    const damaged = await readFile(log);

    const previous = process.umask(0);
    let check, recover;
    try {
      check = await runCli(['journal', 'check'], { DATA_DIR: dir });
      expect(await readFile(log)).toEqual(damaged);
      recover = await runCli(['journal', 'recover'], { DATA_DIR: dir });
    } finally {
      process.umask(previous);
    }

    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`problem: ${log}: line ${lines - 1} (byte ${offset}) fails its checksum`);
    expect(check.stdout).toContain('recovery would drop 2 record(s):');
    expect(recover.code, recover.stderr).toBe(0);
    expect(recover.stdout).toContain(`truncated ${log} at byte ${offset}`);
    expect(recover.stdout).toContain('dropped 2 record(s):');
    // The damaged record is named by line and byte; the readable one after it by its sequence and ids.
    expect(recover.stdout).toMatch(new RegExp(`paywire\\.wal\\.000001 line ${lines - 1} \\(byte ${offset}\\): unreadable, fails its checksum`));
    expect(recover.stdout).toMatch(new RegExp(`paywire\\.wal\\.000001 line ${lines} \\(byte \\d+\\): seq \\d+: put events/\\w+`));

    expect((await stat(log)).size).toBe(offset);
    const backups = (await readdir(dir)).filter((f) => f.startsWith('paywire.wal.000001.damaged-'));
    expect(backups).toHaveLength(1);
    const backup = join(dir, backups[0] as string);
    expect(await readFile(backup)).toEqual(damaged);
    expect((await stat(backup)).mode & 0o777).toBe(0o600);

    const t = await startBridge({}, { dataDir: dir });
    try {
      const stored = await storedEvents(t, key);
      // The two newest events were dropped, every one before them is there.
      expect(new Set(stored)).toEqual(new Set(ids.slice(0, -2)));
    } finally {
      await t.stop();
    }
  });
});

describe('a torn final line (a write cut off by a crash)', () => {
  it('starts and keeps every complete record', async () => {
    const { key, ids } = await seed(dir, 5);
    const log = await newestLog(dir);
    const complete = (await stat(log)).size;
    await appendFile(log, '0badc0de {"s":42,"m":[{"c":"events","id":"evt_torn","doc":{"exter');
    const t = await startBridge({}, { dataDir: dir });
    try {
      expect(new Set(await storedEvents(t, key))).toEqual(new Set(ids));
      expect((await stat(log)).size).toBe(complete);
    } finally {
      await t.stop();
    }
  });

  it('treats a run of NUL bytes without a newline at the end as torn', async () => {
    const { key, ids } = await seed(dir, 3);
    await appendFile(await newestLog(dir), Buffer.alloc(8192));
    const t = await startBridge({}, { dataDir: dir });
    try {
      expect(new Set(await storedEvents(t, key))).toEqual(new Set(ids));
    } finally {
      await t.stop();
    }
  });
});

describe('npm start on a damaged store', () => {
  it('prints one clear line and exits non-zero, without a stack trace', async () => {
    await seed(dir, 3);
    const log = await newestLog(dir);
    await flipByteInLine(log, -1);
    const run = await runCli([], { DATA_DIR: dir, LOG_LEVEL: 'error' });
    expect(run.started).toBe(false);
    expect(run.code).toBe(1);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^paywire bridge failed to start: .*paywire\.wal\.000001: line \d+ \(byte \d+\) fails its checksum; .*npm start -- journal recover/,
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('one writer per store', () => {
  it('refuses to open a store another live process holds, and takes over a lock left by a killed one', async () => {
    const proc = await startCli({ PORT: '0', HOST: '127.0.0.1', MQTT_ENABLED: 'false', DATA_DIR: dir, ADMIN_TOKEN: 'storage-test-admin-token-0' });
    try {
      const refused = await new Journal({ dir }).open().catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(StoreInUseError);
      expect((refused as Error).message).toMatch(new RegExp(`in use by another process \\(pid ${String(proc.child.pid)}\\)`));
      // `journal recover` is refused as well while the bridge runs.
      const recover = await runCli(['journal', 'recover'], { DATA_DIR: dir });
      expect(recover.code).toBe(1);
      expect(recover.stderr).toMatch(/in use by another process/);
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    expect(await readdir(dir)).toContain('paywire.lock');
    const j = new Journal({ dir });
    await j.open();
    await j.close();
    expect(await readdir(dir)).not.toContain('paywire.lock');
  });
});
