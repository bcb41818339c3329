/** The DevicesStore contract on both engines: credentials listed oldest first (revoked ones too), asset states. */
import { describe, expect, it } from 'vitest';
import type { AssetStateRecord, DeviceCredentialRecord } from '../../bridge/devices/types.js';
import { journalEngine, postgresEngine, type Engine } from './engines.js';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:05:00.000Z';

const credential = (id: string, assetId: string, extra: Partial<DeviceCredentialRecord> = {}): DeviceCredentialRecord => ({
  credential_id: id,
  user_id: 'u1',
  asset_id: assetId,
  hash: `hash-${id}`,
  label: null,
  created: T0,
  revoked_at: null,
  ...extra,
});

function describeDevicesStore(engine: Engine): void {
  describe(`DevicesStore contract: ${engine.name}`, () => {
    it('stores credentials exactly and lists an asset’s oldest first, revoked ones too', async () => {
      const h = await engine.open();
      const s = h.devices;
      await s.putCredential(credential('c1', 'a1', { label: 'relay' }));
      await s.putCredential(credential('c2', 'a1'));
      await s.putCredential(credential('c3', 'a2'));
      await s.putCredential(credential('c1', 'a1', { label: 'relay', revoked_at: T1 }));
      expect(await s.getCredential('c1')).toEqual(credential('c1', 'a1', { label: 'relay', revoked_at: T1 }));
      expect(await s.getCredential('nope')).toBeUndefined();
      expect((await s.listCredentials('a1')).map((c) => [c.credential_id, c.revoked_at])).toEqual([
        ['c1', T1],
        ['c2', null],
      ]);
      expect(await s.listCredentials('a9')).toEqual([]);
      await h.close();
    });

    it('stores and replaces asset states', async () => {
      const h = await engine.open();
      const state: AssetStateRecord = { asset_id: 'a1', user_id: 'u1', online: true, last_seen: T0 };
      await h.devices.putState(state);
      expect(await h.devices.getState('a1')).toEqual(state);
      await h.devices.putState({ ...state, online: false, last_seen: T1 });
      expect(await h.devices.getState('a1')).toEqual({ ...state, online: false, last_seen: T1 });
      expect(await h.devices.getState('a2')).toBeUndefined();
      await h.close();
    });

    it('keeps everything across a reopen', async () => {
      const h = await engine.open();
      await h.devices.putCredential(credential('c1', 'a1'));
      await h.devices.putCredential(credential('c2', 'a1'));
      await h.devices.putState({ asset_id: 'a1', user_id: 'u1', online: true, last_seen: T0 });
      const s = (await h.reopen()).devices;
      expect((await s.listCredentials('a1')).map((c) => c.credential_id)).toEqual(['c1', 'c2']);
      expect((await s.getState('a1'))?.online).toBe(true);
      await h.close();
    });
  });
}

describeDevicesStore(journalEngine());
describe('on PostgreSQL', () => describeDevicesStore(postgresEngine()));
