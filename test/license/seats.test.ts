/**
 * Seats over HTTP against a real bridge, on both engines (POSTGRES_E2E): trust-on-first-use and
 * multi-seat caps under concurrency (machines racing for the last seat: exactly one wins),
 * deactivation freeing a seat for a reinstalled machine, heartbeats keeping a seat and a dead machine's
 * seat reclaimed after LICENSE_SEAT_RECLAIM_SECONDS, and the onChanged hook (revoke, suspend,
 * reinstate, expiry) with the fingerprints bound to the license.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LicenseChange } from '../../bridge/license/types.js';
import { startLicenseBridge, type LicenseBridge } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('seats under concurrency', () => {
  let t: LicenseBridge;
  beforeAll(async () => {
    t = await startLicenseBridge();
    await t.product('race');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('trust-on-first-use: of 10 machines validating a fresh license at once, exactly one is bound', async () => {
    for (let round = 0; round < 5; round++) {
      const lic = await t.issue('race');
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => t.validate({ key: lic.license_key, fingerprint: `m${round}-${i}` })));
      expect(answers.filter((a) => a.ok)).toHaveLength(1);
      expect(answers.filter((a) => !a.ok).map((a) => a.reason)).toEqual(Array(9).fill('fingerprint_mismatch'));
      const winner = answers.findIndex((a) => a.ok);
      expect((await t.validate({ key: lic.license_key, fingerprint: `m${round}-${winner}` })).ok).toBe(true);
      const view = await t.admin('GET', `/v1/admin/licenses/${lic.license_id}`);
      expect(view.body.machines.map((m: any) => m.fingerprint)).toEqual([`m${round}-${winner}`]);
    }
  });

  it('two machines racing for the last of 3 seats: exactly one wins', async () => {
    for (let round = 0; round < 5; round++) {
      const lic = await t.issue('race', { max_machines: 3 });
      await t.validate({ key: lic.license_key, fingerprint: 'a' });
      await t.validate({ key: lic.license_key, fingerprint: 'b' });
      const [left, right] = await Promise.all([
        t.validate({ key: lic.license_key, fingerprint: 'left' }),
        t.validate({ key: lic.license_key, fingerprint: 'right' }),
      ]);
      expect([left.ok, right.ok].filter(Boolean)).toHaveLength(1);
      expect([left, right].find((a) => !a.ok)).toEqual({ ok: false, reason: 'too_many_machines' });
      expect((await t.admin('GET', `/v1/admin/licenses/${lic.license_id}`)).body.machines).toHaveLength(3);
    }
  });

  it('deactivation frees the seat for a reinstalled machine', async () => {
    const lic = await t.issue('race');
    expect((await t.validate({ key: lic.license_key, fingerprint: 'old-install' })).ok).toBe(true);
    expect(await t.validate({ key: lic.license_key, fingerprint: 'new-install' })).toEqual({ ok: false, reason: 'fingerprint_mismatch' });
    const res = await t.request('POST', '/license/v1/deactivate', { body: { key: lic.license_key, fingerprint: 'old-install' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, license_id: lic.license_id, released: true });
    expect((await t.request('POST', '/license/v1/deactivate', { body: { key: lic.license_key, fingerprint: 'old-install' } })).body.released).toBe(false);
    expect((await t.validate({ key: lic.license_key, fingerprint: 'new-install' })).ok).toBe(true);
    expect((await t.request('POST', '/license/v1/deactivate', { body: { key: 'LIC1-X-Y', fingerprint: 'a' } })).body).toEqual({
      ok: false,
      reason: 'bad_format',
    });
    expect((await t.request('POST', '/license/v1/deactivate', { body: { key: lic.license_key } })).body).toEqual({ ok: false, reason: 'bad_format' });
  });
});

describe('heartbeats and reclaiming a dead machine’s seat', () => {
  let t: LicenseBridge;
  beforeAll(async () => {
    t = await startLicenseBridge({ LICENSE_SEAT_RECLAIM_SECONDS: 2 });
    await t.product('beat');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a machine that keeps validating keeps its seat; one that stops loses it after the reclaim time', async () => {
    const lic = await t.issue('beat', { max_machines: 2 });
    expect((await t.validate({ key: lic.license_key, fingerprint: 'alive' })).ok).toBe(true);
    expect((await t.validate({ key: lic.license_key, fingerprint: 'dead' })).ok).toBe(true);
    expect(await t.validate({ key: lic.license_key, fingerprint: 'newcomer' })).toEqual({ ok: false, reason: 'too_many_machines' });
    // 'alive' heartbeats every 0.6 s for 2.6 s; 'dead' is silent.
    for (let i = 0; i < 5; i++) {
      await sleep(600);
      expect((await t.validate({ key: lic.license_key, fingerprint: 'alive' })).ok).toBe(true);
    }
    expect((await t.validate({ key: lic.license_key, fingerprint: 'newcomer' })).ok).toBe(true);
    const machines = (await t.admin('GET', `/v1/admin/licenses/${lic.license_id}`)).body.machines.map((m: any) => m.fingerprint).sort();
    expect(machines).toEqual(['alive', 'newcomer']);
    expect(await t.validate({ key: lic.license_key, fingerprint: 'dead' })).toEqual({ ok: false, reason: 'too_many_machines' });
  });
});

describe('onChanged: revoke, suspend, reinstate and expiry, with the bound fingerprints', () => {
  let t: LicenseBridge;
  const changes: LicenseChange[] = [];
  beforeAll(async () => {
    t = await startLicenseBridge();
    t.bridge.license.onChanged((c) => void changes.push(c));
    await t.product('hook');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('fires after each change, naming the machines', async () => {
    const lic = await t.issue('hook', { max_machines: 2 });
    await t.validate({ key: lic.license_key, fingerprint: 'dev-1' });
    await t.validate({ key: lic.license_key, fingerprint: 'dev-2' });
    await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/suspend`, {});
    await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/reinstate`, {});
    await t.admin('POST', `/v1/admin/licenses/${lic.license_id}/revoke`, { reason: 'refund' });
    const mine = changes.filter((c) => c.license_id === lic.license_id);
    expect(mine.map((c) => c.change)).toEqual(['suspended', 'reinstated', 'revoked']);
    for (const c of mine)
      expect({ ...c, fingerprints: [...c.fingerprints].sort() }).toEqual({
        license_id: lic.license_id,
        product_id: lic.product_id,
        change: c.change,
        fingerprints: ['dev-1', 'dev-2'],
      });
  });

  it('announces an expiry within about a second of it', async () => {
    const lic = await t.issue('hook', { expires_at: new Date(Date.now() + 1_200).toISOString() });
    await t.validate({ key: lic.license_key, fingerprint: 'dev-3' });
    const expiresAt = Date.parse(lic.expires_at);
    let seen: number | undefined;
    while (Date.now() < expiresAt + 4_000 && seen === undefined) {
      await sleep(50);
      if (changes.some((c) => c.license_id === lic.license_id && c.change === 'expired')) seen = Date.now();
    }
    expect(seen).toBeDefined();
    expect((seen as number) - expiresAt).toBeLessThan(1_500);
    expect(changes.find((c) => c.license_id === lic.license_id)).toMatchObject({ change: 'expired', fingerprints: ['dev-3'] });
    expect(await t.validate({ key: lic.license_key, fingerprint: 'dev-3' })).toEqual({ ok: false, reason: 'expired' });
  });
});
