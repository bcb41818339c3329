/**
 * The behaviour every MachinesStore engine must have: machines-store.test.ts runs it on the journal
 * and on PostgreSQL. Records come back exactly as written; uniqueness holds under concurrency.
 */
import { describe, expect, it } from 'vitest';
import type { MachinesStore } from '../../bridge/machines/store.js';
import type { AccountRecord, ApiKeyRecord, AssetRecord, DeliveryRecord, EventRecord } from '../../bridge/machines/types.js';

export interface StoreHarness {
  store: MachinesStore;
  /** Close and open the same data again (tests persistence). */
  reopen(): Promise<MachinesStore>;
  close(): Promise<void>;
}

const T0 = '2026-01-01T00:00:00.000Z';

export const account = (id: string, username = id): AccountRecord => ({
  user_id: id,
  username,
  display_name: username,
  lightning_address: null,
  role: 'machine',
  created: T0,
  updated: T0,
});

export const key = (id: string, userId: string, hash = `hash-${id}`): ApiKeyRecord => ({
  key_id: id,
  user_id: userId,
  hash,
  prefix: 'lib_00000000',
  scope: 'full',
  label: null,
  created: T0,
  revoked_at: null,
});

const asset = (id: string, userId: string): AssetRecord => ({
  asset_id: id,
  user_id: userId,
  name: id,
  price_sats: 100,
  duration_ms: 1000,
  pricing: 'fixed',
  min_sats: null,
  max_sats: null,
  refuse_when_offline: false,
  metadata: {},
  x402: null,
  created: T0,
  updated: T0,
  deleted_at: null,
});

const event = (id: string, userId: string, extra: Partial<EventRecord> = {}): Omit<EventRecord, 'seq'> => ({
  event_id: id,
  user_id: userId,
  type: 'action',
  asset_id: null,
  external_id: null,
  data: null,
  source: 'api',
  created: T0,
  ...extra,
});

const delivery = (id: string, userId: string, eventId: string): Omit<DeliveryRecord, 'seq'> => ({
  delivery_id: id,
  user_id: userId,
  event_id: eventId,
  event_type: 'action',
  status: 'pending',
  attempts: [],
  next_attempt_at: T0,
  created: T0,
  updated: T0,
});

export function describeMachinesStore(name: string, make: () => Promise<StoreHarness>): void {
  describe(`MachinesStore contract: ${name}`, () => {
    it('creates accounts with their first key and finds keys by hash', async () => {
      const h = await make();
      await h.store.createAccount(account('u1', 'alice'), key('k1', 'u1', 'h1'));
      expect(await h.store.getAccount('u1')).toMatchObject({ username: 'alice' });
      expect(await h.store.usernameTaken('alice')).toBe(true);
      expect(await h.store.usernameTaken('bob')).toBe(false);
      expect((await h.store.getAccountByUsername('alice'))?.user_id).toBe('u1');
      expect(await h.store.getAccountByUsername('bob')).toBeUndefined();
      expect((await h.store.findKeyByHash('h1'))?.key_id).toBe('k1');
      expect(await h.store.findKeyByHash('nope')).toBeUndefined();
      await h.close();
    });

    it('rotates a key in one step and revokes keys', async () => {
      const h = await make();
      await h.store.createAccount(account('u1'), key('k1', 'u1', 'h1'));
      await h.store.rotateKey('k1', key('k2', 'u1', 'h2'), T0);
      expect((await h.store.findKeyByHash('h1'))?.revoked_at).toBe(T0);
      expect((await h.store.findKeyByHash('h2'))?.revoked_at).toBeNull();
      await h.store.addKey(key('k3', 'u1', 'h3'));
      await h.store.revokeKey('k3', T0);
      expect((await h.store.getKey('k3'))?.revoked_at).toBe(T0);
      expect((await h.store.listKeys('u1')).map((k) => k.key_id).sort()).toEqual(['k1', 'k2', 'k3']);
      await h.close();
    });

    it('lists an account’s live assets only', async () => {
      const h = await make();
      await h.store.putAsset(asset('a1', 'u1'));
      await h.store.putAsset(asset('a2', 'u1'));
      await h.store.putAsset(asset('b1', 'u2'));
      await h.store.putAsset({ ...asset('a1', 'u1'), deleted_at: T0 });
      expect((await h.store.listAssets('u1')).map((a) => a.asset_id)).toEqual(['a2']);
      expect((await h.store.listAllAssets()).map((a) => a.asset_id).sort()).toEqual(['a2', 'b1']);
      expect((await h.store.getAsset('a1'))?.deleted_at).toBe(T0);
      await h.close();
    });

    it('appends events with increasing seq and refuses a repeated external_id per account', async () => {
      const h = await make();
      const first = await h.store.appendEvent(event('e1', 'u1', { external_id: 'x' }), []);
      const second = await h.store.appendEvent(event('e2', 'u1'), []);
      const other = await h.store.appendEvent(event('e3', 'u2', { external_id: 'x' }), []);
      const dup = await h.store.appendEvent(event('e4', 'u1', { external_id: 'x' }), []);
      expect('stored' in first && 'stored' in second && 'stored' in other).toBe(true);
      if (!('stored' in first) || !('stored' in second)) return;
      expect(second.stored.seq).toBeGreaterThan(first.stored.seq);
      expect(dup).toEqual({ duplicate: first.stored });
      expect(await h.store.getEvent('e4')).toBeUndefined();
      await h.close();
    });

    it('pages events newest first with filters', async () => {
      const h = await make();
      for (let i = 0; i < 25; i++) {
        await h.store.appendEvent(
          event(`e${i}`, 'u1', {
            type: i % 2 ? 'paid' : 'action',
            asset_id: i % 5 ? null : 'a1',
            created: `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`,
          }),
          [],
        );
      }
      await h.store.appendEvent(event('other', 'u2'), []);
      const page1 = await h.store.listEvents('u1', {}, { limit: 10 });
      expect(page1.items.map((e) => e.event_id)).toEqual(Array.from({ length: 10 }, (_, i) => `e${24 - i}`));
      const page3 = await h.store.listEvents(
        'u1',
        {},
        { limit: 10, before: (await h.store.listEvents('u1', {}, { limit: 10, before: page1.next as number })).next as number },
      );
      expect(page3.items.map((e) => e.event_id)).toEqual(['e4', 'e3', 'e2', 'e1', 'e0']);
      expect(page3.next).toBeNull();
      expect((await h.store.listEvents('u1', { type: 'paid' }, { limit: 100 })).items).toHaveLength(12);
      expect((await h.store.listEvents('u1', { asset_id: 'a1' }, { limit: 100 })).items.map((e) => e.event_id)).toEqual(['e20', 'e15', 'e10', 'e5', 'e0']);
      expect((await h.store.listEvents('u1', { since: '2026-01-01T00:00:20.000Z' }, { limit: 100 })).items).toHaveLength(5);
      expect((await h.store.listEvents('u1', { type: 'paid', asset_id: 'a1' }, { limit: 100 })).items.map((e) => e.event_id)).toEqual(['e15', 'e5']);
      await h.close();
    });

    it('writes an event and its deliveries together, and tracks pending deliveries', async () => {
      const h = await make();
      await h.store.appendEvent(event('e1', 'u1'), [delivery('d1', 'u1', 'e1')]);
      await h.store.appendEvent(event('e2', 'u2'), [delivery('d2', 'u2', 'e2')]);
      expect((await h.store.pendingDeliveries()).map((d) => d.delivery_id).sort()).toEqual(['d1', 'd2']);
      const d1 = (await h.store.getDelivery('d1')) as DeliveryRecord;
      await h.store.putDelivery({ ...d1, status: 'delivered', next_attempt_at: null });
      expect((await h.store.pendingDeliveries()).map((d) => d.delivery_id)).toEqual(['d2']);
      expect((await h.store.listDeliveries('u1', { limit: 10 })).items.map((d) => d.status)).toEqual(['delivered']);
      expect((await h.store.listDeliveries('u1', { limit: 10 }, 'pending')).items).toEqual([]);
      await h.close();
    });

    it('cancels pending deliveries when the webhook goes', async () => {
      const h = await make();
      await h.store.putWebhook({ user_id: 'u1', url: 'https://example.com', events: [], disabled_at: null, created: T0, updated: T0 });
      await h.store.appendEvent(event('e1', 'u1'), [delivery('d1', 'u1', 'e1')]);
      await h.store.appendEvent(event('e2', 'u2'), [delivery('d2', 'u2', 'e2')]);
      await h.store.deleteWebhook('u1', T0);
      expect(await h.store.getWebhook('u1')).toBeUndefined();
      expect((await h.store.getDelivery('d1'))?.status).toBe('cancelled');
      expect((await h.store.getDelivery('d2'))?.status).toBe('pending');
      await h.store.cancelPendingDeliveries('u2', T0);
      expect(await h.store.pendingDeliveries()).toEqual([]);
      await h.close();
    });

    it('keeps everything across a reopen', async () => {
      const h = await make();
      await h.store.createAccount(account('u1', 'alice'), key('k1', 'u1', 'h1'));
      await h.store.putAsset(asset('a1', 'u1'));
      await h.store.appendEvent(event('e1', 'u1', { external_id: 'x' }), [delivery('d1', 'u1', 'e1')]);
      await h.store.putWebhook({ user_id: 'u1', url: 'https://example.com', events: ['paid'], disabled_at: null, created: T0, updated: T0 });
      const store = await h.reopen();
      expect(await store.usernameTaken('alice')).toBe(true);
      expect((await store.findKeyByHash('h1'))?.key_id).toBe('k1');
      expect((await store.listAssets('u1')).map((a) => a.asset_id)).toEqual(['a1']);
      expect('duplicate' in (await store.appendEvent(event('e2', 'u1', { external_id: 'x' }), []))).toBe(true);
      expect((await store.pendingDeliveries()).map((d) => d.delivery_id)).toEqual(['d1']);
      expect((await store.getWebhook('u1'))?.events).toEqual(['paid']);
      const next = await store.appendEvent(event('e3', 'u1'), []);
      // seq orders events and backs cursors: it grows, with gaps allowed (a database's sequence skips).
      expect('stored' in next && next.stored.seq).toBeGreaterThan(1);
      await h.close();
    });

    it('gives every record back exactly as written', async () => {
      const h = await make();
      const a = { ...account('u1', 'alice'), lightning_address: 'alice@example.com' };
      const k = { ...key('k1', 'u1', 'h1'), label: 'ci', scope: 'read' as const };
      await h.store.createAccount(a, k);
      expect(await h.store.getAccount('u1')).toEqual(a);
      expect(await h.store.getAccountByUsername('alice')).toEqual(a);
      expect(await h.store.getKey('k1')).toEqual(k);
      const variable: AssetRecord = {
        ...asset('a1', 'u1'),
        pricing: 'variable',
        min_sats: 10,
        max_sats: 5_000_000_000,
        refuse_when_offline: true,
        metadata: { location: 'hall', nested: { list: [1, 'two', null], ok: true } },
        x402: {
          pay_to: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
          prices: [{ network: 'base-sepolia', asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e', amount: '1000' }],
        },
      };
      await h.store.putAsset(variable);
      expect(await h.store.getAsset('a1')).toEqual(variable);
      await h.store.putAsset({ ...variable, x402: null });
      expect((await h.store.getAsset('a1'))?.x402).toBeNull();
      await h.store.putAsset(variable);
      const e = event('e1', 'u1', {
        type: 'paid',
        asset_id: 'a1',
        external_id: 'x-1',
        data: { amount_sats: 21, tags: ['a'], deep: { n: null } },
        source: 'mqtt',
      });
      const stored = await h.store.appendEvent(e, [delivery('d1', 'u1', 'e1')]);
      if (!('stored' in stored)) throw new Error('not stored');
      expect(stored.stored).toEqual({ ...e, seq: stored.stored.seq });
      expect(await h.store.getEvent('e1')).toEqual(stored.stored);
      const d1 = (await h.store.getDelivery('d1')) as DeliveryRecord;
      expect(d1).toEqual({ ...delivery('d1', 'u1', 'e1'), seq: d1.seq });
      const attempted: DeliveryRecord = {
        ...d1,
        status: 'failed',
        attempts: [
          { at: T0, status_code: 503, error: null, duration_ms: 12 },
          { at: T0, status_code: null, error: 'timeout', duration_ms: 10_000 },
        ],
        next_attempt_at: null,
        updated: '2026-01-02T03:04:05.678Z',
      };
      await h.store.putDelivery(attempted);
      expect(await h.store.getDelivery('d1')).toEqual(attempted);
      const hook = { user_id: 'u1', url: 'https://example.com/hook', events: ['paid' as const, 'error' as const], disabled_at: T0, created: T0, updated: T0 };
      await h.store.putWebhook(hook);
      expect(await h.store.getWebhook('u1')).toEqual(hook);
      expect(await h.store.getAccount('nobody')).toBeUndefined();
      expect(await h.store.getKey('nokey')).toBeUndefined();
      expect(await h.store.getAsset('noasset')).toBeUndefined();
      expect(await h.store.getEvent('noevent')).toBeUndefined();
      expect(await h.store.getDelivery('nodelivery')).toBeUndefined();
      expect(await h.store.getWebhook('nobody')).toBeUndefined();
      await h.close();
    });

    it('refuses a taken username and writes nothing', async () => {
      const h = await make();
      expect(await h.store.createAccount(account('u1', 'alice'), key('k1', 'u1', 'h1'))).toBe(true);
      expect(await h.store.createAccount(account('u2', 'alice'), key('k2', 'u2', 'h2'))).toBe(false);
      expect(await h.store.getAccount('u2')).toBeUndefined();
      expect(await h.store.findKeyByHash('h2')).toBeUndefined();
      expect((await h.store.getAccountByUsername('alice'))?.user_id).toBe('u1');
      await h.close();
    });

    it('lets one of 20 concurrent signups for one username have it', async () => {
      const h = await make();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => h.store.createAccount(account(`u${i}`, 'rush'), key(`k${i}`, `u${i}`, `h${i}`))));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect((await h.store.getAccountByUsername('rush'))?.user_id).toBe(`u${winner}`);
      for (let i = 0; i < 20; i++) expect(await h.store.findKeyByHash(`h${i}`)).toEqual(i === winner ? key(`k${i}`, `u${i}`, `h${i}`) : undefined);
      await h.close();
    });

    it('stores one of 20 concurrent appends with one external_id; the rest get that event', async () => {
      const h = await make();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => h.store.appendEvent(event(`e${i}`, 'u1', { external_id: 'once' }), [delivery(`d${i}`, 'u1', `e${i}`)])),
      );
      const stored = results.filter((r): r is { stored: EventRecord } => 'stored' in r);
      expect(stored).toHaveLength(1);
      const first = (stored[0] as { stored: EventRecord }).stored;
      for (const r of results) expect('stored' in r ? r.stored : r.duplicate).toEqual(first);
      expect((await h.store.listEvents('u1', {}, { limit: 100 })).items).toEqual([first]);
      // Only the stored event's delivery was written.
      expect((await h.store.pendingDeliveries()).map((d) => d.event_id)).toEqual([first.event_id]);
      await h.close();
    });

    it('adds keys, refuses to rotate a missing key, keeps the first revocation', async () => {
      const h = await make();
      await h.store.createAccount(account('u1'), key('k1', 'u1', 'h1'));
      await h.store.addKey(key('k2', 'u1', 'h2'));
      await expect(h.store.rotateKey('missing', key('k3', 'u1', 'h3'), T0)).rejects.toThrow();
      expect(await h.store.getKey('k3')).toBeUndefined();
      await h.store.revokeKey('k2', T0);
      await h.store.revokeKey('k2', '2027-01-01T00:00:00.000Z');
      expect((await h.store.getKey('k2'))?.revoked_at).toBe(T0);
      await h.store.revokeKey('missing', T0);
      expect((await h.store.listKeys('u1')).map((k) => k.key_id)).toEqual(['k1', 'k2']);
      expect(await h.store.listKeys('nobody')).toEqual([]);
      await h.close();
    });

    it('lists assets oldest first and keeps their place across updates', async () => {
      const h = await make();
      for (const id of ['a1', 'a2', 'a3']) await h.store.putAsset(asset(id, 'u1'));
      await h.store.putAsset({ ...asset('a1', 'u1'), name: 'renamed', updated: '2026-02-01T00:00:00.000Z' });
      expect((await h.store.listAssets('u1')).map((a) => [a.asset_id, a.name])).toEqual([
        ['a1', 'renamed'],
        ['a2', 'a2'],
        ['a3', 'a3'],
      ]);
      expect(await h.store.listAssets('nobody')).toEqual([]);
      await h.close();
    });

    it('pages deliveries newest first, by status', async () => {
      const h = await make();
      for (let i = 0; i < 7; i++) await h.store.appendEvent(event(`e${i}`, 'u1'), [delivery(`d${i}`, 'u1', `e${i}`)]);
      await h.store.appendEvent(event('x', 'u2'), [delivery('dx', 'u2', 'x')]);
      for (const i of [1, 3, 5]) {
        const d = (await h.store.getDelivery(`d${i}`)) as DeliveryRecord;
        await h.store.putDelivery({ ...d, status: 'delivered', next_attempt_at: null });
      }
      const p1 = await h.store.listDeliveries('u1', { limit: 3 });
      expect(p1.items.map((d) => d.delivery_id)).toEqual(['d6', 'd5', 'd4']);
      const p2 = await h.store.listDeliveries('u1', { limit: 3, before: p1.next as number });
      expect(p2.items.map((d) => d.delivery_id)).toEqual(['d3', 'd2', 'd1']);
      const p3 = await h.store.listDeliveries('u1', { limit: 3, before: p2.next as number });
      expect([p3.items.map((d) => d.delivery_id), p3.next]).toEqual([['d0'], null]);
      const pending = await h.store.listDeliveries('u1', { limit: 2 }, 'pending');
      expect(pending.items.map((d) => d.delivery_id)).toEqual(['d6', 'd4']);
      expect((await h.store.listDeliveries('u1', { limit: 2, before: pending.next as number }, 'pending')).items.map((d) => d.delivery_id)).toEqual([
        'd2',
        'd0',
      ]);
      expect((await h.store.listDeliveries('u1', { limit: 10 }, 'delivered')).items.map((d) => d.delivery_id)).toEqual(['d5', 'd3', 'd1']);
      expect((await h.store.pendingDeliveries()).map((d) => d.delivery_id)).toEqual(['d0', 'd2', 'd4', 'd6', 'dx']);
      await h.close();
    });
  });
}
