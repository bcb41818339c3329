/**
 * The behaviour every MachinesStore engine must have. The lowdb journal engine runs it in
 * machines-store.test.ts; a PostgreSQL engine would run the same suite.
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
          event(`e${i}`, 'u1', { type: i % 2 ? 'paid' : 'action', asset_id: i % 5 ? null : 'a1', created: `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z` }),
          [],
        );
      }
      await h.store.appendEvent(event('other', 'u2'), []);
      const page1 = await h.store.listEvents('u1', {}, { limit: 10 });
      expect(page1.items.map((e) => e.event_id)).toEqual(Array.from({ length: 10 }, (_, i) => `e${24 - i}`));
      const page3 = await h.store.listEvents('u1', {}, { limit: 10, before: (await h.store.listEvents('u1', {}, { limit: 10, before: page1.next as number })).next as number });
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
      expect('stored' in next && next.stored.seq).toBe(2);
      await h.close();
    });
  });
}
