/**
 * The license store on PostgreSQL (migrations/004_license.sql). Taking a seat locks the license row
 * (`SELECT … FOR UPDATE`) for the count-and-insert, so two machines racing for the last seat are served
 * one after the other: exactly one wins. A known machine's heartbeat is one primary-key read, and a
 * write only when its last_seen is older than the touch interval.
 */
import type { LicensePage, LicenseStore, SeatRequest } from '../../license/store.js';
import { SlugTakenError } from '../../license/store.js';
import type { LicenseRecord, MachineRecord, ProductRecord, SeatClaim } from '../../license/types.js';
import type { Columns } from './rows.js';
import type { Database } from './database.js';
import { fromRow, insert, select, toParams, upsert } from './rows.js';
import pg from 'pg';

/** Columns of migrations/004_license.sql, named as the records' fields (also used by import-journal.ts). */
export const LICENSE_PRODUCT: Columns = {
  product_id: 'text',
  slug: 'text',
  name: 'text',
  description: 'text',
  price_sats: 'num',
  metadata: 'json',
  active: 'bool',
  created: 'time',
  updated: 'time',
};

export const LICENSE: Columns = {
  license_id: 'text',
  product_id: 'text',
  version: 'num',
  issued_at: 'time',
  expires_at: 'time',
  trial: 'bool',
  fingerprint_hash: 'text',
  entitlements: 'json',
  max_machines: 'num',
  note: 'text',
  status: 'text',
  status_reason: 'text',
  status_changed_at: 'time',
  invoice_id: 'text',
  created: 'time',
};

export const LICENSE_MACHINE: Columns = { license_id: 'text', fingerprint: 'text', activated_at: 'time', last_seen: 'time' };

const S = {
  createProduct: insert('lic_products_insert', 'license_products', LICENSE_PRODUCT),
  updateProduct: upsert('lic_products_put', 'license_products', LICENSE_PRODUCT, 'product_id'),
  getProduct: select('lic_products_get', 'SELECT * FROM license_products WHERE product_id = $1'),
  getProductBySlug: select('lic_products_by_slug', 'SELECT * FROM license_products WHERE slug = $1'),
  listProducts: select('lic_products_list', 'SELECT * FROM license_products WHERE active OR NOT $1::boolean ORDER BY pos'),
  insertLicense: {
    ...insert('lic_licenses_insert', 'licenses', LICENSE),
    text: `${insert('x', 'licenses', LICENSE).text} ON CONFLICT (invoice_id) DO NOTHING RETURNING license_id`,
  },
  updateLicense: upsert('lic_licenses_put', 'licenses', LICENSE, 'license_id'),
  getLicense: select('lic_licenses_get', 'SELECT * FROM licenses WHERE license_id = $1'),
  getForValidate: select(
    'lic_licenses_for_validate',
    'SELECT l.*, m.activated_at AS seat_activated_at, m.last_seen AS seat_last_seen FROM licenses l LEFT JOIN license_machines m ON m.license_id = l.license_id AND m.fingerprint = $2 WHERE l.license_id = $1',
  ),
  lockLicense: select('lic_licenses_lock', 'SELECT license_id FROM licenses WHERE license_id = $1 FOR UPDATE'),
  getLicenseByInvoice: select('lic_licenses_by_invoice', 'SELECT * FROM licenses WHERE invoice_id = $1'),
  listLicenses: select('lic_licenses_list', 'SELECT * FROM licenses WHERE product_id = $1 AND pos > $2 ORDER BY pos LIMIT $3'),
  listExpiring: select('lic_licenses_expiring', 'SELECT * FROM licenses WHERE expires_at > $1 AND expires_at <= $2 ORDER BY expires_at'),
  hasLicenses: select('lic_licenses_any', 'SELECT EXISTS (SELECT 1 FROM licenses) AS any'),
  getMachine: select('lic_machines_get', 'SELECT * FROM license_machines WHERE license_id = $1 AND fingerprint = $2'),
  touchMachine: select('lic_machines_touch', 'UPDATE license_machines SET last_seen = $3 WHERE license_id = $1 AND fingerprint = $2 AND last_seen < $3'),
  listMachines: select('lic_machines_list', 'SELECT * FROM license_machines WHERE license_id = $1 ORDER BY activated_at, fingerprint'),
  insertMachine: insert('lic_machines_insert', 'license_machines', LICENSE_MACHINE),
  deleteMachine: select('lic_machines_delete', 'DELETE FROM license_machines WHERE license_id = $1 AND fingerprint = $2 RETURNING fingerprint'),
};

export class PostgresLicenseStore implements LicenseStore {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  async createProduct(product: ProductRecord): Promise<void> {
    try {
      await this.db.rows(S.createProduct, toParams(product, LICENSE_PRODUCT));
    } catch (err) {
      if (err instanceof pg.DatabaseError && err.code === '23505') throw new SlugTakenError(product.slug);
      throw err;
    }
  }

  async updateProduct(product: ProductRecord): Promise<void> {
    await this.db.rows(S.updateProduct, toParams(product, LICENSE_PRODUCT));
  }

  async getProduct(productId: string): Promise<ProductRecord | undefined> {
    const row = (await this.db.rows(S.getProduct, [productId]))[0];
    return row && fromRow<ProductRecord>(row, LICENSE_PRODUCT);
  }

  async getProductBySlug(slug: string): Promise<ProductRecord | undefined> {
    const row = (await this.db.rows(S.getProductBySlug, [slug]))[0];
    return row && fromRow<ProductRecord>(row, LICENSE_PRODUCT);
  }

  async listProducts(options: { activeOnly: boolean }): Promise<ProductRecord[]> {
    return (await this.db.rows(S.listProducts, [options.activeOnly])).map((r) => fromRow<ProductRecord>(r, LICENSE_PRODUCT));
  }

  async insertLicense(license: LicenseRecord): Promise<LicenseRecord> {
    const inserted = await this.db.rows(S.insertLicense, toParams(license, LICENSE));
    if (inserted.length > 0 || license.invoice_id === null) return license;
    // Another license already holds this invoice: that one is the invoice's license.
    return (await this.getLicenseByInvoice(license.invoice_id)) as LicenseRecord;
  }

  async updateLicense(license: LicenseRecord): Promise<void> {
    await this.db.rows(S.updateLicense, toParams(license, LICENSE));
  }

  async getLicense(licenseId: string): Promise<LicenseRecord | undefined> {
    const row = (await this.db.rows(S.getLicense, [licenseId]))[0];
    return row && fromRow<LicenseRecord>(row, LICENSE);
  }

  async getForValidate(licenseId: string, fingerprint: string | undefined): Promise<{ license: LicenseRecord; seat: MachineRecord | undefined } | undefined> {
    const row = (await this.db.rows(S.getForValidate, [licenseId, fingerprint ?? null]))[0];
    if (!row) return undefined;
    const license = fromRow<LicenseRecord>(row, LICENSE);
    const seen = row['seat_last_seen'];
    if (fingerprint === undefined || seen === null || seen === undefined) return { license, seat: undefined };
    const seat = fromRow<MachineRecord>({ license_id: licenseId, fingerprint, activated_at: row['seat_activated_at'], last_seen: seen }, LICENSE_MACHINE);
    return { license, seat };
  }

  async getLicenseByInvoice(invoiceId: string): Promise<LicenseRecord | undefined> {
    const row = (await this.db.rows(S.getLicenseByInvoice, [invoiceId]))[0];
    return row && fromRow<LicenseRecord>(row, LICENSE);
  }

  async listLicenses(productId: string, page: LicensePage): Promise<{ items: LicenseRecord[]; next: number | null }> {
    // One row more than asked says whether another page follows; positions are the rows' pos.
    const rows = await this.db.rows(S.listLicenses, [productId, page.after ?? 0, page.limit + 1]);
    const more = rows.length > page.limit;
    const kept = rows.slice(0, page.limit);
    return { items: kept.map((r) => fromRow<LicenseRecord>(r, LICENSE)), next: more ? Number(kept[kept.length - 1]?.['pos']) : null };
  }

  async listExpiring(from: string, to: string): Promise<LicenseRecord[]> {
    return (await this.db.rows(S.listExpiring, [from, to])).map((r) => fromRow<LicenseRecord>(r, LICENSE));
  }

  async hasLicenses(): Promise<boolean> {
    return (await this.db.rows<{ any: boolean }>(S.hasLicenses, []))[0]?.any === true;
  }

  async claimSeat(r: SeatRequest): Promise<SeatClaim> {
    const known = (await this.db.rows(S.getMachine, [r.licenseId, r.fingerprint]))[0];
    if (known) {
      const seen = fromRow<MachineRecord>(known, LICENSE_MACHINE).last_seen;
      if (seen < r.touchBefore) await this.db.rows(S.touchMachine, [r.licenseId, r.fingerprint, r.now]);
      return { outcome: 'known' };
    }
    return this.db.transaction(async (q) => {
      // The license row is the seat lock: concurrent claims for one license take turns here.
      await q.rows(S.lockLicense, [r.licenseId]);
      const held = (await q.rows(S.listMachines, [r.licenseId])).map((row) => fromRow<MachineRecord>(row, LICENSE_MACHINE));
      if (held.some((m) => m.fingerprint === r.fingerprint)) return { outcome: 'known' as const };
      const fresh: MachineRecord = { license_id: r.licenseId, fingerprint: r.fingerprint, activated_at: r.now, last_seen: r.now };
      if (held.length < r.maxMachines) {
        await q.rows(S.insertMachine, toParams(fresh, LICENSE_MACHINE));
        return { outcome: 'bound' as const };
      }
      const staleBefore = r.staleBefore;
      const stalest =
        staleBefore === undefined ? undefined : held.filter((m) => m.last_seen < staleBefore).sort((a, b) => (a.last_seen < b.last_seen ? -1 : 1))[0];
      if (!stalest) return { outcome: 'full' as const };
      await q.rows(S.deleteMachine, [r.licenseId, stalest.fingerprint]);
      await q.rows(S.insertMachine, toParams(fresh, LICENSE_MACHINE));
      return { outcome: 'bound' as const, reclaimed: stalest.fingerprint };
    });
  }

  async releaseSeat(licenseId: string, fingerprint: string): Promise<boolean> {
    return (await this.db.rows(S.deleteMachine, [licenseId, fingerprint])).length > 0;
  }

  async listMachines(licenseId: string): Promise<MachineRecord[]> {
    return (await this.db.rows(S.listMachines, [licenseId])).map((r) => fromRow<MachineRecord>(r, LICENSE_MACHINE));
  }
}
