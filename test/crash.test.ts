/**
 * Kill -9 in the middle of a stream of event writes: after a restart on the same data, every event
 * that was acknowledged (201) is there, exactly once, and the store keeps working.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, testDatabaseUrl, type ApiResponse } from './helpers/bridge.js';
import { TEST_ENGINE } from './helpers/pg.js';
import { startCli, type BridgeProcess } from './helpers/process.js';

let dir: string;
/** The `postgres` test project runs this on PostgreSQL: the kill then lands between the bridge and its commits. */
let database: Record<string, string> = {};
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-crash-'));
  if (TEST_ENGINE === 'postgres') database = { DATABASE_URL: await testDatabaseUrl(dir), DATABASE_POOL_SIZE: '10' };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({
  PORT: '0',
  HOST: '127.0.0.1',
  MQTT_ENABLED: 'false',
  DATA_DIR: dir,
  ADMIN_TOKEN: 'crash-test-admin-token-000',
  RATE_LIMIT_PER_MINUTE: '0',
  SIGNUPS_PER_HOUR: '0',
  // Small enough that compactions happen during the stream, so a kill can land in one.
  JOURNAL_COMPACT_BYTES: '65536',
  ...database,
});

/**
 * Post events from `writers` concurrent loops and SIGKILL the process once `threshold` are
 * acknowledged. Returns the acknowledged external ids and how many there were when the kill was
 * sent (fewer than `threshold` only when the stream stopped before it: the process died on its own).
 */
async function stream(
  proc: BridgeProcess,
  key: string,
  assetId: string,
  round: number,
  writers: number,
  threshold: number,
): Promise<{ acked: Set<string>; atKill: number }> {
  const acked = new Set<string>();
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let n = 0; ; n++) {
      const externalId = `r${round}-w${w}-n${n}`;
      try {
        const res = await request(proc.url, 'POST', '/api/public/events', {
          token: key,
          body: { type: 'action', asset_id: assetId, external_id: externalId, data: { round, w, n, pad: 'x'.repeat(100) } },
        });
        if (res.status !== 201) throw new Error(`unexpected ${res.status} ${res.text}`);
        acked.add(externalId);
      } catch (err) {
        if ((err as Error).message.startsWith('unexpected')) throw err;
        return; // connection refused or reset: the process is gone
      }
    }
  });
  let stopped = false;
  const done = Promise.allSettled(loops).then((results) => {
    stopped = true;
    return results;
  });
  // Kill while the writers are busy, at a different point each round.
  while (acked.size < threshold && !stopped) await new Promise((r) => setTimeout(r, 2));
  const atKill = acked.size;
  proc.child.kill('SIGKILL');
  await proc.exited;
  for (const r of await done) if (r.status === 'rejected') throw r.reason;
  return { acked, atKill };
}

async function allEvents(url: string, key: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res: ApiResponse = await request(url, 'GET', `/api/public/events?limit=200${cursor ? `&cursor=${cursor}` : ''}`, { token: key });
    expect(res.status).toBe(200);
    ids.push(...res.body.events.map((e: { external_id: string }) => e.external_id));
    cursor = res.body.next_cursor;
  } while (cursor);
  return ids;
}

describe('SIGKILL during event writes', () => {
  it('loses no acknowledged event across three kills', async () => {
    let proc = await startCli(env());
    const signup = await request(proc.url, 'POST', '/api/v1/accounts', { body: { label: 'crash-bot' } });
    const key: string = signup.body.api_key;
    const asset = await request(proc.url, 'POST', '/api/v1/assets', { token: key, body: { name: 'Vend', price_sats: 10 } });
    const assetId: string = asset.body.asset_id;
    const acknowledged = new Set<string>();

    for (let round = 0; round < 3; round++) {
      const threshold = 150 + round * 97;
      const { acked, atKill } = await stream(proc, key, assetId, round, 16, threshold);
      expect(atKill, `round ${round}: acknowledged before the kill`).toBeGreaterThanOrEqual(threshold);
      for (const id of acked) acknowledged.add(id);
      proc = await startCli(env());
      const stored = await allEvents(proc.url, key);
      const storedSet = new Set(stored);
      expect(stored.length, 'no event stored twice').toBe(storedSet.size);
      const lost = [...acknowledged].filter((id) => !storedSet.has(id));
      expect(lost, `round ${round}: acknowledged but lost`).toEqual([]);
    }

    // The store still takes writes, and old external ids are still deduplicated.
    const again = await request(proc.url, 'POST', '/api/public/events', { token: key, body: { type: 'action', external_id: [...acknowledged][0] } });
    expect(again.status).toBe(409);
    const fresh = await request(proc.url, 'POST', '/api/public/events', { token: key, body: { type: 'action', external_id: 'after-crashes' } });
    expect(fresh.status).toBe(201);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  }, 120_000);
});
