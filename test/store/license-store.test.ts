/**
 * The LicenseStore contract on both engines: products (unique slug), licenses (one per invoice),
 * expiring ranges, and seats: TOFU and caps, heartbeats (touch only when stale), release, reclaiming
 * an idle seat, and two (and twenty) machines racing for the last seat: exactly one wins.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlugTakenError, type LicenseStore } from '../../bridge/license/store.js';
import type { LicenseRecord, ProductRecord } from '../../bridge/license/types.js';
import { Journal } from '../../bridge/store/journal/engine.js';
import { JournalLicenseStore } from '../../bridge/store/journal/license-store.js';
import { openPostgres } from '../../bridge/store/postgres/engine.js';
import { importJournal } from '../../bridge/store/postgres/import-journal.js';
import { useTestDatabase } from '../helpers/pg.js';

interface Harness {
  store: LicenseStore;
  reopen(): Promise<LicenseStore>;
  close(): Promise<void>;
}
interface Engine {
  name: string;
  open(): Promise<Harness>;
}

const journalEngine: Engine = {
  name: 'journal',
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'paywire-license-store-'));
    let journal: Journal;
    const openOne = async () => {
      journal = new Journal({ dir, fsync: false });
      const store = new JournalLicenseStore(journal);
      await journal.open();
      return store;
    };
    const h: Harness = {
      store: await openOne(),
      async reopen() {
        await journal.compact();
        await journal.close();
        return (h.store = await openOne());
      },
      async close() {
        await journal.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
    return h;
  },
};

function postgresEngine(): Engine {
  const db = useTestDatabase();
  return {
    name: 'PostgreSQL',
    async open() {
      const url = await db().schemaUrl();
      let pg = await openPostgres({ url, poolSize: 8 });
      const h: Harness = {
        store: pg.license,
        async reopen() {
          await pg.close();
          pg = await openPostgres({ url, poolSize: 8 });
          return (h.store = pg.license);
        },
        close: () => pg.close(),
      };
      return h;
    },
  };
}

const T0 = '2026-01-01T00:00:00.000Z';
const ALL = { limit: 1_000 };
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
let n = 0;
const uuid = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;

const product = (slug: string, extra: Partial<ProductRecord> = {}): ProductRecord => ({
  product_id: uuid(),
  slug,
  name: slug,
  description: null,
  price_sats: 1000,
  metadata: { a: [1, 2] },
  active: true,
  created: T0,
  updated: T0,
  ...extra,
});

const license = (productId: string, extra: Partial<LicenseRecord> = {}): LicenseRecord => ({
  license_id: uuid(),
  product_id: productId,
  version: 1,
  issued_at: T0,
  expires_at: null,
  trial: false,
  fingerprint_hash: null,
  entitlements: [],
  max_machines: 1,
  note: null,
  status: 'active',
  status_reason: null,
  status_changed_at: null,
  invoice_id: null,
  created: T0,
  ...extra,
});

const claim = (s: LicenseStore, licenseId: string, fingerprint: string, now: number, maxMachines: number, staleBefore?: number) =>
  s.claimSeat({
    licenseId,
    fingerprint,
    now: at(now),
    maxMachines,
    staleBefore: staleBefore === undefined ? undefined : at(staleBefore),
    touchBefore: at(now - 60),
  });

function contract(engine: Engine): void {
  describe(`LicenseStore contract: ${engine.name}`, () => {
    it('stores products exactly, refuses a taken slug, lists active ones oldest first', async () => {
      const h = await engine.open();
      const s = h.store;
      const a = product('alpha', { description: 'd' });
      const b = product('beta');
      await s.createProduct(a);
      await s.createProduct(b);
      await expect(s.createProduct(product('alpha'))).rejects.toBeInstanceOf(SlugTakenError);
      expect(await s.getProduct(a.product_id)).toEqual(a);
      expect(await s.getProductBySlug('beta')).toEqual(b);
      expect(await s.getProductBySlug('gamma')).toBeUndefined();
      await s.updateProduct({ ...b, active: false, updated: at(5) });
      expect((await s.listProducts({ activeOnly: false })).map((p) => p.slug)).toEqual(['alpha', 'beta']);
      expect((await s.listProducts({ activeOnly: true })).map((p) => p.slug)).toEqual(['alpha']);
      await h.close();
    });

    it('stores licenses exactly, one per invoice, lists per product, finds expiring ones in a range', async () => {
      const h = await engine.open();
      const s = h.store;
      const p = product('p');
      await s.createProduct(p);
      expect(await s.hasLicenses()).toBe(false);
      const l1 = license(p.product_id, { version: 2, expires_at: at(100), trial: true, entitlements: ['pro'], fingerprint_hash: 'ab'.repeat(32), note: 'n' });
      expect(await s.insertLicense(l1)).toEqual(l1);
      expect(await s.hasLicenses()).toBe(true);
      expect(await s.getLicense(l1.license_id)).toEqual(l1);
      const paid = license(p.product_id, { invoice_id: 'inv-1', max_machines: 3 });
      expect(await s.insertLicense(paid)).toEqual(paid);
      // A second license for the same invoice is not stored: the first is the answer.
      expect(await s.insertLicense(license(p.product_id, { invoice_id: 'inv-1' }))).toEqual(paid);
      expect(await s.getLicenseByInvoice('inv-1')).toEqual(paid);
      expect(await s.getLicenseByInvoice('inv-2')).toBeUndefined();
      const l3 = license(p.product_id, { expires_at: at(200) });
      await s.insertLicense(l3);
      expect((await s.listLicenses(p.product_id, ALL)).items.map((l) => l.license_id)).toEqual([l1.license_id, paid.license_id, l3.license_id]);
      expect(await s.listLicenses(uuid(), ALL)).toEqual({ items: [], next: null });
      // Pages of 2: the cursor carries on where the last page ended, null at the end.
      const first = await s.listLicenses(p.product_id, { limit: 2 });
      expect(first.items.map((l) => l.license_id)).toEqual([l1.license_id, paid.license_id]);
      expect(first.next).not.toBeNull();
      const second = await s.listLicenses(p.product_id, { limit: 2, after: first.next as number });
      expect(second).toEqual({ items: [l3], next: null });
      expect((await s.listLicenses(p.product_id, { limit: 3 })).next).toBeNull();
      expect((await s.listExpiring(at(0), at(100))).map((l) => l.license_id)).toEqual([l1.license_id]);
      expect((await s.listExpiring(at(100), at(300))).map((l) => l.license_id)).toEqual([l3.license_id]);
      expect(await s.listExpiring(at(300), at(400))).toEqual([]);
      const revoked = { ...l1, status: 'revoked' as const, status_reason: 'chargeback', status_changed_at: at(9) };
      await s.updateLicense(revoked);
      expect(await s.getLicense(l1.license_id)).toEqual(revoked);
      await h.close();
    });

    it('seats: trust-on-first-use, a cap, heartbeats only when stale, release, reclaiming an idle seat', async () => {
      const h = await engine.open();
      const s = h.store;
      const p = product('seats');
      await s.createProduct(p);
      const one = license(p.product_id);
      const two = license(p.product_id, { max_machines: 2 });
      await s.insertLicense(one);
      await s.insertLicense(two);
      expect(await s.getForValidate(one.license_id, 'a')).toEqual({ license: one, seat: undefined });
      expect(await s.getForValidate(uuid(), 'a')).toBeUndefined();
      expect(await claim(s, one.license_id, 'a', 0, 1)).toEqual({ outcome: 'bound' });
      expect(await s.getForValidate(one.license_id, 'a')).toEqual({
        license: one,
        seat: { license_id: one.license_id, fingerprint: 'a', activated_at: at(0), last_seen: at(0) },
      });
      expect(await s.getForValidate(one.license_id, undefined)).toEqual({ license: one, seat: undefined });
      expect(await s.getForValidate(one.license_id, 'b')).toEqual({ license: one, seat: undefined });
      expect(await claim(s, one.license_id, 'a', 10, 1)).toEqual({ outcome: 'known' });
      expect(await claim(s, one.license_id, 'b', 10, 1)).toEqual({ outcome: 'full' });
      // Seen at 0; a claim at 10 (touch only before -50) leaves last_seen alone, at 100 refreshes it.
      expect((await s.listMachines(one.license_id)).map((m) => m.last_seen)).toEqual([at(0)]);
      await claim(s, one.license_id, 'a', 100, 1);
      expect(await s.listMachines(one.license_id)).toEqual([{ license_id: one.license_id, fingerprint: 'a', activated_at: at(0), last_seen: at(100) }]);
      // Idle since 100: not stale before 50, stale before 150 (b takes a's seat).
      expect(await claim(s, one.license_id, 'b', 200, 1, 50)).toEqual({ outcome: 'full' });
      expect(await claim(s, one.license_id, 'b', 200, 1, 150)).toEqual({ outcome: 'bound', reclaimed: 'a' });
      expect((await s.listMachines(one.license_id)).map((m) => m.fingerprint)).toEqual(['b']);

      expect(await claim(s, two.license_id, 'x', 0, 2)).toEqual({ outcome: 'bound' });
      expect(await claim(s, two.license_id, 'y', 1, 2)).toEqual({ outcome: 'bound' });
      expect(await claim(s, two.license_id, 'z', 2, 2)).toEqual({ outcome: 'full' });
      expect(await s.releaseSeat(two.license_id, 'x')).toBe(true);
      expect(await s.releaseSeat(two.license_id, 'x')).toBe(false);
      expect(await claim(s, two.license_id, 'z', 3, 2)).toEqual({ outcome: 'bound' });
      expect((await s.listMachines(two.license_id)).map((m) => m.fingerprint)).toEqual(['y', 'z']);
      await h.close();
    });

    it('two machines racing for the last seat: exactly one wins (and 20 racing for 3 seats: exactly 3)', async () => {
      const h = await engine.open();
      const s = h.store;
      const p = product('race');
      await s.createProduct(p);
      for (let round = 0; round < 10; round++) {
        const lic = license(p.product_id, { max_machines: 2 });
        await s.insertLicense(lic);
        await claim(s, lic.license_id, 'holder', 0, 2);
        const results = await Promise.all([claim(s, lic.license_id, 'left', 1, 2), claim(s, lic.license_id, 'right', 1, 2)]);
        expect(results.filter((r) => r.outcome === 'bound')).toHaveLength(1);
        expect(results.filter((r) => r.outcome === 'full')).toHaveLength(1);
        expect(await s.listMachines(lic.license_id)).toHaveLength(2);
      }
      const lic = license(p.product_id, { max_machines: 3 });
      await s.insertLicense(lic);
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => claim(s, lic.license_id, `m${i}`, 1, 3)));
      expect(many.filter((r) => r.outcome === 'bound')).toHaveLength(3);
      expect(await s.listMachines(lic.license_id)).toHaveLength(3);
      await h.close();
    });

    it('keeps everything across a reopen', async () => {
      const h = await engine.open();
      const p = product('kept');
      await h.store.createProduct(p);
      const lic = license(p.product_id, { invoice_id: 'inv-kept', expires_at: at(50), max_machines: 2 });
      await h.store.insertLicense(lic);
      await claim(h.store, lic.license_id, 'a', 0, 2);
      const s = await h.reopen();
      expect(await s.getProductBySlug('kept')).toEqual(p);
      expect(await s.getLicenseByInvoice('inv-kept')).toEqual(lic);
      expect((await s.listLicenses(p.product_id, ALL)).items.map((l) => l.license_id)).toEqual([lic.license_id]);
      expect((await s.listExpiring(at(0), at(60))).map((l) => l.license_id)).toEqual([lic.license_id]);
      expect((await s.listMachines(lic.license_id)).map((m) => m.fingerprint)).toEqual(['a']);
      await expect(s.createProduct(product('kept'))).rejects.toBeInstanceOf(SlugTakenError);
      expect(await claim(s, lic.license_id, 'b', 1, 2)).toEqual({ outcome: 'bound' });
      expect(await claim(s, lic.license_id, 'c', 1, 2)).toEqual({ outcome: 'full' });
      await h.close();
    });
  });
}

contract(journalEngine);
describe('on PostgreSQL', () => contract(postgresEngine()));

describe('paywire migrate --from-journal copies the license store', () => {
  const db = useTestDatabase();

  it('products, licenses and seats read back the same on PostgreSQL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paywire-license-import-'));
    const journal = new Journal({ dir, fsync: false });
    const s = new JournalLicenseStore(journal);
    await journal.open();
    const p = product('moved', { active: false, description: 'd' });
    await s.createProduct(p);
    const lic = license(p.product_id, { version: 2, expires_at: at(500), entitlements: ['pro'], invoice_id: 'inv-moved', max_machines: 2 });
    await s.insertLicense(lic);
    await claim(s, lic.license_id, 'box', 3, 2);
    const machines = await s.listMachines(lic.license_id);
    await journal.close();
    const url = await db().schemaUrl();
    const counts = await importJournal({ dataDir: dir, url });
    expect(counts).toMatchObject({ license_products: 1, licenses: 1, license_machines: 1 });
    const pg = await openPostgres({ url, poolSize: 2 });
    try {
      expect(await pg.license.getProductBySlug('moved')).toEqual(p);
      expect(await pg.license.getLicenseByInvoice('inv-moved')).toEqual(lic);
      expect(await pg.license.listMachines(lic.license_id)).toEqual(machines);
      // The copied product's slug is still taken, and new rows go after the copied ones.
      await expect(pg.license.createProduct(product('moved'))).rejects.toBeInstanceOf(SlugTakenError);
      const later = license(p.product_id);
      await pg.license.insertLicense(later);
      expect((await pg.license.listLicenses(p.product_id, ALL)).items.map((l) => l.license_id)).toEqual([lic.license_id, later.license_id]);
    } finally {
      await pg.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
