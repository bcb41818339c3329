/**
 * The behaviour every X402Store engine must have: x402-store.test.ts runs it on the journal and on
 * PostgreSQL. Records come back exactly as written (and after a reopen); uniqueness, the caps and the
 * refresh-token rotation hold under concurrency.
 */
import { describe, expect, it } from 'vitest';
import type {
  ClientKeyRecord,
  RefreshTokenRecord,
  ResourceRecord,
  SettlementMetricRecord,
  X402AssetRecord,
  X402Store,
  X402UserRecord,
} from '../../bridge/x402/store.js';

export interface X402StoreHarness {
  store: X402Store;
  reopen(): Promise<X402Store>;
  close(): Promise<void>;
}

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T00:00:00.000Z';

const user = (email: string, isAdmin = false): Omit<X402UserRecord, 'id'> => ({
  email,
  password_hash: `scrypt$hash-of-${email}`,
  is_admin: isAdmin,
  account_id: `acct${email.length}`,
  created: T0,
  updated: T0,
});

const refresh = (hash: string, family: string, userId = 1): RefreshTokenRecord => ({
  token_hash: hash,
  user_id: userId,
  family_id: family,
  created: T0,
  expires_at: T1,
  rotated_at: null,
  revoked_at: null,
});

const client = (id: string, userId: number, extra: Partial<ClientKeyRecord> = {}): ClientKeyRecord => ({
  client_id: id,
  user_id: userId,
  title: `title ${id}`,
  scope: ['verify', 'settle'],
  token_hash: `h-${id}`,
  created: T0,
  expires_at: null,
  deleted_at: null,
  ...extra,
});

const resource = (userId: number, url = '/api/premium'): Omit<ResourceRecord, 'id'> => ({
  user_id: userId,
  resource: url,
  type: 'endpoint',
  x402_version: 1,
  accepts: [{ scheme: 'exact', network: 'base-sepolia', maxAmountRequired: '1000000' }],
  metadata: { tier: 'gold', nested: { list: [1, 2] } },
  created: T0,
  updated: T0,
});

const settlement = (id: string, userId: number, created: string, amount = '1000000'): SettlementMetricRecord => ({
  id,
  user_id: userId,
  client_id: 'c1',
  network: 'base-sepolia',
  asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
  amount,
  fee: '21000000000000',
  success: true,
  pending: false,
  created,
});

const token = (address: string, extra: Partial<X402AssetRecord> = {}): Omit<X402AssetRecord, 'id'> => ({
  network: 'base-sepolia',
  asset: address,
  symbol: 'USDC',
  decimals: 6,
  active: true,
  name: 'USDC',
  version: '2',
  source: 'config',
  created: T0,
  updated: T0,
  ...extra,
});

const USDC = '0x036CbD53842c5426634e7929541eC2318f3dCF7e';

export function describeX402Store(name: string, open: () => Promise<X402StoreHarness>): void {
  const withStore = (fn: (h: X402StoreHarness) => Promise<void>) => async () => {
    const h = await open();
    try {
      await fn(h);
    } finally {
      await h.close();
    }
  };

  describe(`X402Store on ${name}`, () => {
    it(
      'users: ids count up from 1 (gaps allowed), the email is unique, records read back and survive a reopen',
      withStore(async (h) => {
        const a = await h.store.createUser(user('a@example.com', true));
        const b = await h.store.createUser(user('b@example.com'));
        expect(a?.id).toBe(1);
        expect(b?.id).toBe(2);
        expect(await h.store.createUser(user('a@example.com'))).toBeUndefined();
        expect(await h.store.getUser(1)).toEqual({ id: 1, ...user('a@example.com', true) });
        expect(await h.store.getUserByEmail('b@example.com')).toEqual(b);
        expect(await h.store.getUserByEmail('c@example.com')).toBeUndefined();
        expect(await h.store.getUser(99)).toBeUndefined();
        expect((await h.store.listUsers({ offset: 0, limit: 10 })).map((u) => u.email)).toEqual(['a@example.com', 'b@example.com']);
        expect((await h.store.listUsers({ offset: 1, limit: 10 })).map((u) => u.id)).toEqual([2]);
        expect(await h.store.listUsers({ offset: 0, limit: 1 })).toHaveLength(1);
        const again = await h.reopen();
        expect(await again.getUser(2)).toEqual(b);
        // Ids only grow (PostgreSQL may skip some after a conflict).
        expect((await again.createUser(user('c@example.com')))?.id).toBeGreaterThan(2);
      }),
    );

    it(
      'users: 25 signups racing with one email make exactly one user',
      withStore(async (h) => {
        const results = await Promise.all(Array.from({ length: 25 }, () => h.store.createUser(user('race@example.com'))));
        expect(results.filter((r) => r !== undefined)).toHaveLength(1);
        expect(await h.store.listUsers({ offset: 0, limit: 100 })).toHaveLength(1);
        // Different emails racing each get their own id.
        const many = await Promise.all(Array.from({ length: 10 }, (_, i) => h.store.createUser(user(`u${i}@example.com`))));
        expect(new Set(many.map((u) => u?.id)).size).toBe(10);
      }),
    );

    it(
      'refresh tokens: a live token rotates once; a second use is a reuse that revokes the family',
      withStore(async (h) => {
        await h.store.putRefreshToken(refresh('t1', 'f1'));
        await h.store.putRefreshToken(refresh('other', 'f2'));
        expect(await h.store.rotateRefreshToken('t1', refresh('t2', 'f1'), T1)).toBe('rotated');
        expect((await h.store.getRefreshToken('t1'))?.rotated_at).toBe(T1);
        expect(await h.store.getRefreshToken('t2')).toEqual(refresh('t2', 'f1'));
        expect(await h.store.rotateRefreshToken('t1', refresh('t3', 'f1'), T1)).toBe('reused');
        expect(await h.store.getRefreshToken('t3')).toBeUndefined();
        expect((await h.store.getRefreshToken('t2'))?.revoked_at).toBe(T1);
        expect(await h.store.rotateRefreshToken('t2', refresh('t4', 'f1'), T1)).toBe('revoked');
        expect(await h.store.rotateRefreshToken('nope', refresh('t5', 'f1'), T1)).toBe('unknown');
        // Another family is untouched.
        expect((await h.store.getRefreshToken('other'))?.revoked_at).toBeNull();
        expect(await h.store.revokeRefreshFamily('f2', T1)).toBe(true);
        expect(await h.store.revokeRefreshFamily('f2', T1)).toBe(false);
        expect(await h.store.rotateRefreshToken('other', refresh('t6', 'f2'), T1)).toBe('revoked');
        const again = await h.reopen();
        expect((await again.getRefreshToken('t1'))?.rotated_at).toBe(T1);
      }),
    );

    it(
      'refresh tokens: 10 racing exchanges of one token: one rotates, the rest are reuses, and the family ends revoked',
      withStore(async (h) => {
        await h.store.putRefreshToken(refresh('r0', 'fam'));
        const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => h.store.rotateRefreshToken('r0', refresh(`r${i + 1}`, 'fam'), T1)));
        expect(outcomes.filter((o) => o === 'rotated')).toHaveLength(1);
        expect(outcomes.filter((o) => o === 'reused' || o === 'revoked')).toHaveLength(9);
        const winner = outcomes.indexOf('rotated') + 1;
        expect((await h.store.getRefreshToken(`r${winner}`))?.revoked_at).toBe(T1);
      }),
    );

    it(
      'client keys: capped per user (also when racing), listed per user or for all, soft-deleted',
      withStore(async (h) => {
        expect(await h.store.createClient(client('c1', 1), 3)).toBe(true);
        expect(await h.store.createClient(client('c2', 2), 3)).toBe(true);
        const racing = await Promise.all(Array.from({ length: 6 }, (_, i) => h.store.createClient(client(`r${i}`, 1), 3)));
        expect(racing.filter(Boolean)).toHaveLength(2);
        expect(await h.store.getClient('c1')).toEqual(client('c1', 1));
        expect(await h.store.getClient('zzz')).toBeUndefined();
        const mine = await h.store.listClients(1, { offset: 0, limit: 20 });
        expect(mine).toHaveLength(3);
        expect(mine[0]?.client_id).toBe('c1');
        expect(mine.every((c) => c.user_id === 1)).toBe(true);
        expect(await h.store.listClients(undefined, { offset: 0, limit: 20 })).toHaveLength(4);
        expect(await h.store.listClients(undefined, { offset: 1, limit: 2 })).toHaveLength(2);
        expect(await h.store.deleteClient('c1', T1)).toBe(true);
        expect(await h.store.deleteClient('c1', T1)).toBe(false);
        expect(await h.store.deleteClient('nope', T1)).toBe(false);
        expect((await h.store.getClient('c1'))?.deleted_at).toBe(T1);
        expect((await h.store.listClients(1, { offset: 0, limit: 20 })).map((c) => c.client_id)).not.toContain('c1');
        // The deleted key made room under the cap.
        expect(await h.store.createClient(client('c3', 1), 3)).toBe(true);
        const again = await h.reopen();
        expect((await again.getClient('c1'))?.deleted_at).toBe(T1);
        expect(await again.createClient(client('c4', 1), 3)).toBe(false);
      }),
    );

    it(
      'resources: ids count up, capped per user, updated in place, listed per user or for all',
      withStore(async (h) => {
        const r1 = await h.store.createResource(resource(1), 2);
        const r2 = await h.store.createResource(resource(2, '/b'), 2);
        expect(r1).toEqual({ id: 1, ...resource(1) });
        expect(r2?.id).toBe(2);
        const racing = await Promise.all(Array.from({ length: 4 }, () => h.store.createResource(resource(1, '/c'), 2)));
        expect(racing.filter((r) => r !== undefined)).toHaveLength(1);
        await h.store.putResource({ ...(r1 as ResourceRecord), resource: '/renamed', accepts: [], updated: T1 });
        expect(await h.store.getResource(1)).toEqual({ ...(r1 as ResourceRecord), resource: '/renamed', accepts: [], updated: T1 });
        expect(await h.store.getResource(99)).toBeUndefined();
        expect((await h.store.listResources(1, { offset: 0, limit: 100 })).map((r) => r.user_id)).toEqual([1, 1]);
        expect((await h.store.listResources(undefined, { offset: 0, limit: 100 })).map((r) => r.id)).toEqual([1, 2, 3]);
        expect((await h.store.listResources(undefined, { offset: 1, limit: 1 })).map((r) => r.id)).toEqual([2]);
        const again = await h.reopen();
        expect((await again.getResource(1))?.resource).toBe('/renamed');
        expect((await again.createResource(resource(3), 2))?.id).toBe(4);
      }),
    );

    it(
      'request counts add up per day, user and route, and are read by range',
      withStore(async (h) => {
        await h.store.addRequestCounts([
          { day: '2026-01-01', user_id: 1, route: 'POST /api/v1/verify', requests: 2, errors: 1, latency_ms: 30 },
          { day: '2026-01-01', user_id: 1, route: 'POST /api/v1/verify', requests: 1, errors: 0, latency_ms: 10 },
          { day: '2026-01-02', user_id: 2, route: 'GET /api/v1/supported', requests: 5, errors: 0, latency_ms: 5 },
        ]);
        await h.store.addRequestCounts([{ day: '2026-01-01', user_id: 1, route: 'POST /api/v1/verify', requests: 1, errors: 1, latency_ms: 1 }]);
        await h.store.addRequestCounts([]);
        expect(await h.store.requestCounts(1, '2026-01-01', '2026-12-31')).toEqual([
          { day: '2026-01-01', user_id: 1, route: 'POST /api/v1/verify', requests: 4, errors: 2, latency_ms: 41 },
        ]);
        expect(await h.store.requestCounts(undefined, '2026-01-01', '2026-01-02')).toHaveLength(2);
        expect(await h.store.requestCounts(undefined, '2026-01-02', '2026-01-02')).toHaveLength(1);
        expect(await h.store.requestCounts(3, '2026-01-01', '2026-12-31')).toEqual([]);
        const again = await h.reopen();
        expect((await again.requestCounts(2, '2026-01-01', '2026-12-31'))[0]?.requests).toBe(5);
      }),
    );

    it(
      'settlements are counted once per id and read by time range and user, amounts beyond 2^64 exact',
      withStore(async (h) => {
        const huge = '340282366920938463463374607431768211455';
        expect(await h.store.addSettlement(settlement('0xaa', 1, '2026-01-01T10:00:00.000Z'))).toBe(true);
        expect(await h.store.addSettlement(settlement('0xaa', 1, '2026-01-01T10:00:00.000Z'))).toBe(false);
        expect(await h.store.addSettlement(settlement('0xbb', 2, '2026-01-02T10:00:00.000Z', huge))).toBe(true);
        expect(await h.store.settlements(undefined, '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z')).toEqual([
          settlement('0xaa', 1, '2026-01-01T10:00:00.000Z'),
          settlement('0xbb', 2, '2026-01-02T10:00:00.000Z', huge),
        ]);
        expect(await h.store.settlements(2, '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z')).toHaveLength(1);
        expect(await h.store.settlements(undefined, '2026-01-02T00:00:00.000Z', '2026-01-02T10:00:00.000Z')).toEqual([]);
        // A pending one is resolved later, once (mined: succeeded with its fee; or failed: no amount); a settled or
        // unknown one is not touched.
        await h.store.addSettlement({ ...settlement('0xcc', 1, '2026-01-03T10:00:00.000Z'), fee: '0', success: false, pending: true });
        await h.store.addSettlement({ ...settlement('0xdd', 1, '2026-01-03T11:00:00.000Z'), fee: '0', success: false, pending: true });
        expect(await h.store.resolveSettlement('0xcc', { success: true, fee: '31000000000000' })).toBe(true);
        expect(await h.store.resolveSettlement('0xcc', { success: false })).toBe(false);
        expect(await h.store.resolveSettlement('0xdd', { success: false })).toBe(true);
        expect(await h.store.resolveSettlement('0xaa', { success: true, fee: '1' })).toBe(false);
        expect(await h.store.resolveSettlement('0xnone', { success: true })).toBe(false);
        const again = await h.reopen();
        expect((await again.settlements(2, T0, '2027-01-01T00:00:00.000Z'))[0]?.amount).toBe(huge);
        const resolved = await again.settlements(1, '2026-01-03T00:00:00.000Z', '2026-01-04T00:00:00.000Z');
        expect(resolved.map((r) => [r.id, r.success, r.pending, r.fee, r.amount])).toEqual([
          ['0xcc', true, false, '31000000000000', '1000000'],
          ['0xdd', false, false, '0', '0'],
        ]);
      }),
    );

    it(
      'the token registry: one registration per network and address (any case); insert keeps, upsert replaces',
      withStore(async (h) => {
        const first = await h.store.putAsset(token(USDC), 'insert');
        expect(first).toEqual({ asset: { id: 1, ...token(USDC) }, created: true });
        const kept = await h.store.putAsset(token(USDC.toLowerCase(), { symbol: 'XXX' }), 'insert');
        expect(kept).toEqual({ asset: first.asset, created: false });
        const replaced = await h.store.putAsset(token(USDC, { active: false, source: 'admin', updated: T1 }), 'upsert');
        expect(replaced).toEqual({ asset: { id: 1, ...token(USDC, { active: false, source: 'admin', updated: T1 }) }, created: false });
        const other = await h.store.putAsset(token('0x0000000000000000000000000000000000000001', { name: null, version: null }), 'upsert');
        expect(other.created).toBe(true);
        expect(other.asset.id).toBeGreaterThan(1);
        expect(await h.store.findAsset('BASE-SEPOLIA', USDC.toUpperCase().replace('0X', '0x'))).toEqual(replaced.asset);
        expect(await h.store.findAsset('base', USDC)).toBeUndefined();
        expect((await h.store.listAssets(false)).map((a) => a.id)).toEqual([1, other.asset.id]);
        expect((await h.store.listAssets(true)).map((a) => a.id)).toEqual([other.asset.id]);
        const racing = await Promise.all(Array.from({ length: 8 }, () => h.store.putAsset(token('0x0000000000000000000000000000000000000002'), 'insert')));
        expect(racing.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(racing.map((r) => r.asset.id)).size).toBe(1);
        const again = await h.reopen();
        expect((await again.findAsset('base-sepolia', USDC))?.active).toBe(false);
        expect(await again.healthy()).toBe(true);
      }),
    );
  });
}
