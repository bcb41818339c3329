/** `paywire migrate --from-journal` carries the x402 facilitator's store across: every record reads back the same on PostgreSQL. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../../bridge/store/journal/engine.js';
import { JournalX402Store } from '../../bridge/store/journal/x402-store.js';
import { importJournal } from '../../bridge/store/postgres/import-journal.js';
import { openPostgres } from '../../bridge/store/postgres/engine.js';
import type { X402Store } from '../../bridge/x402/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

const T0 = '2026-01-01T00:00:00.000Z';
let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'paywire-x402-import-'));
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

async function fill(s: X402Store): Promise<void> {
  for (const email of ['a@example.com', 'b@example.com']) {
    await s.createUser({ email, password_hash: `scrypt$${email}`, is_admin: email.startsWith('a'), account_id: `acct-${email[0]}`, created: T0, updated: T0 });
  }
  await s.putRefreshToken({ token_hash: 'h1', user_id: 1, family_id: 'f', created: T0, expires_at: T0, rotated_at: T0, revoked_at: null });
  for (const id of ['c1', 'c2', 'c3']) {
    await s.createClient(
      { client_id: id, user_id: 1, title: id, scope: ['verify'], token_hash: `t-${id}`, created: T0, expires_at: null, deleted_at: id === 'c2' ? T0 : null },
      10,
    );
  }
  await s.createResource(
    {
      user_id: 2,
      resource: '/r',
      type: 'endpoint',
      x402_version: 2,
      accepts: [{ scheme: 'exact', network: 'n' }],
      metadata: { a: [1] },
      created: T0,
      updated: T0,
    },
    10,
  );
  await s.addRequestCounts([{ day: '2026-01-01', user_id: 1, route: 'POST /api/v1/verify', requests: 3, errors: 1, latency_ms: 12 }]);
  await s.addSettlement({
    id: '0xabc',
    user_id: 1,
    client_id: 'c1',
    network: 'base-sepolia',
    asset: '0xA',
    amount: '123456789012345678901234567890',
    fee: '21000',
    success: true,
    pending: false,
    created: T0,
  });
  await s.putAsset(
    {
      network: 'base-sepolia',
      asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
      symbol: 'USDC',
      decimals: 6,
      active: false,
      name: 'USDC',
      version: '2',
      source: 'admin',
      created: T0,
      updated: T0,
    },
    'insert',
  );
}

async function readAll(s: X402Store): Promise<unknown> {
  const page = { offset: 0, limit: 100 };
  return {
    users: await s.listUsers(page),
    refresh: await s.getRefreshToken('h1'),
    clients: await s.listClients(undefined, page),
    deleted: await s.getClient('c2'),
    resources: await s.listResources(undefined, page),
    counts: await s.requestCounts(undefined, '2000-01-01', '2100-01-01'),
    settlements: await s.settlements(undefined, '2000-01-01T00:00:00.000Z', '2100-01-01T00:00:00.000Z'),
    assets: await s.listAssets(false),
  };
}

describe('migrate --from-journal with x402 data', () => {
  it('copies every x402 record, keeps ids and order, and new ids come after the copied ones', async () => {
    const journal = new Journal({ dir });
    const store = new JournalX402Store(journal);
    await journal.open();
    await fill(store);
    const expected = await readAll(store);
    await journal.close();

    const url = await db.schemaUrl();
    const counts = await importJournal({ dataDir: dir, url });
    expect(counts).toMatchObject({
      x402_users: 2,
      x402_refresh_tokens: 1,
      x402_clients: 3,
      x402_resources: 1,
      x402_request_counts: 1,
      x402_settlement_metrics: 1,
      x402_assets: 1,
    });
    const pg = await openPostgres({ url, poolSize: 2 });
    try {
      expect(await readAll(pg.x402)).toEqual(expected);
      expect((await pg.x402.createUser({ email: 'c@example.com', password_hash: 'x', is_admin: false, account_id: 'c', created: T0, updated: T0 }))?.id).toBe(
        3,
      );
      expect(
        (await pg.x402.createResource({ user_id: 1, resource: '/n', type: 't', x402_version: 1, accepts: [], metadata: {}, created: T0, updated: T0 }, 10))?.id,
      ).toBe(2);
      const asset = await pg.x402.putAsset(
        {
          network: 'base',
          asset: '0x0000000000000000000000000000000000000001',
          symbol: 'X',
          decimals: 1,
          active: true,
          name: null,
          version: null,
          source: 'admin',
          created: T0,
          updated: T0,
        },
        'insert',
      );
      expect(asset.asset.id).toBe(2);
    } finally {
      await pg.close();
    }
  });
});
