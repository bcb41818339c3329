/**
 * The license store on the embedded journal. Indexes (slug → product, invoice → license, licenses per
 * product, machines per license, licenses with an expiry) are rebuilt from the apply hook on start.
 * Each check and its write happen in one synchronous step, so a slug, an invoice or the last seat
 * cannot be taken twice by concurrent calls.
 */
import type { LicensePage, LicenseStore, SeatRequest } from '../../license/store.js';
import { SlugTakenError } from '../../license/store.js';
import type { LicenseRecord, MachineRecord, ProductRecord, SeatClaim } from '../../license/types.js';
import type { Journal } from './engine.js';

const PRODUCTS = 'license_products';
const LICENSES = 'licenses';
const MACHINES = 'license_machines';

const machineId = (licenseId: string, fingerprint: string): string => `${licenseId}\u0000${fingerprint}`;

export class JournalLicenseStore implements LicenseStore {
  private readonly journal: Journal;
  private readonly bySlug = new Map<string, string>();
  private readonly byInvoice = new Map<string, string>();
  private readonly byProduct = new Map<string, string[]>();
  private readonly machinesOf = new Map<string, Set<string>>();
  private readonly expiring = new Set<string>();

  /** Registers its indexes on the journal; call before `journal.open()`. */
  constructor(journal: Journal) {
    this.journal = journal;
    journal.onApply((c, id, next, prev) => {
      if (c === PRODUCTS && next) this.bySlug.set((next as ProductRecord).slug, id);
      else if (c === LICENSES && next) {
        const n = next as LicenseRecord;
        if (!prev) {
          const list = this.byProduct.get(n.product_id) ?? [];
          list.push(id);
          this.byProduct.set(n.product_id, list);
        }
        if (n.invoice_id !== null) this.byInvoice.set(n.invoice_id, id);
        if (n.expires_at !== null) this.expiring.add(id);
      } else if (c === MACHINES) {
        const m = (next ?? prev) as MachineRecord;
        let set = this.machinesOf.get(m.license_id);
        if (!set) this.machinesOf.set(m.license_id, (set = new Set()));
        if (next) set.add(m.fingerprint);
        else set.delete(m.fingerprint);
      }
    });
  }

  async createProduct(product: ProductRecord): Promise<void> {
    if (this.bySlug.has(product.slug)) throw new SlugTakenError(product.slug);
    await this.journal.commit([{ c: PRODUCTS, id: product.product_id, doc: product }]);
  }

  async updateProduct(product: ProductRecord): Promise<void> {
    await this.journal.commit([{ c: PRODUCTS, id: product.product_id, doc: product }]);
  }

  async getProduct(productId: string): Promise<ProductRecord | undefined> {
    return this.journal.get<ProductRecord>(PRODUCTS, productId);
  }

  async getProductBySlug(slug: string): Promise<ProductRecord | undefined> {
    const id = this.bySlug.get(slug);
    return id === undefined ? undefined : this.journal.get<ProductRecord>(PRODUCTS, id);
  }

  async listProducts(options: { activeOnly: boolean }): Promise<ProductRecord[]> {
    return [...this.journal.values<ProductRecord>(PRODUCTS)].filter((p) => !options.activeOnly || p.active);
  }

  async insertLicense(license: LicenseRecord): Promise<LicenseRecord> {
    if (license.invoice_id !== null) {
      const existing = this.byInvoice.get(license.invoice_id);
      if (existing !== undefined) return this.journal.get<LicenseRecord>(LICENSES, existing) as LicenseRecord;
    }
    await this.journal.commit([{ c: LICENSES, id: license.license_id, doc: license }]);
    return license;
  }

  async updateLicense(license: LicenseRecord): Promise<void> {
    await this.journal.commit([{ c: LICENSES, id: license.license_id, doc: license }]);
  }

  async getLicense(licenseId: string): Promise<LicenseRecord | undefined> {
    return this.journal.get<LicenseRecord>(LICENSES, licenseId);
  }

  async getForValidate(licenseId: string, fingerprint: string | undefined): Promise<{ license: LicenseRecord; seat: MachineRecord | undefined } | undefined> {
    const license = this.journal.get<LicenseRecord>(LICENSES, licenseId);
    if (!license) return undefined;
    return { license, seat: fingerprint === undefined ? undefined : this.journal.get<MachineRecord>(MACHINES, machineId(licenseId, fingerprint)) };
  }

  async getLicenseByInvoice(invoiceId: string): Promise<LicenseRecord | undefined> {
    const id = this.byInvoice.get(invoiceId);
    return id === undefined ? undefined : this.journal.get<LicenseRecord>(LICENSES, id);
  }

  async listLicenses(productId: string, page: LicensePage): Promise<{ items: LicenseRecord[]; next: number | null }> {
    // Positions are 1-based indexes in the product's list (append-only: licenses are never deleted).
    const ids = this.byProduct.get(productId) ?? [];
    const from = page.after ?? 0;
    const items = ids.slice(from, from + page.limit).map((id) => this.journal.get<LicenseRecord>(LICENSES, id) as LicenseRecord);
    return { items, next: from + items.length < ids.length ? from + items.length : null };
  }

  async listExpiring(from: string, to: string): Promise<LicenseRecord[]> {
    const lo = Date.parse(from);
    const hi = Date.parse(to);
    const out: LicenseRecord[] = [];
    for (const id of this.expiring) {
      const license = this.journal.get<LicenseRecord>(LICENSES, id) as LicenseRecord;
      const at = Date.parse(license.expires_at as string);
      if (at > lo && at <= hi) out.push(license);
    }
    return out;
  }

  async hasLicenses(): Promise<boolean> {
    return this.journal.size(LICENSES) > 0;
  }

  claimSeat(r: SeatRequest): Promise<SeatClaim> {
    // Check and write in one synchronous step: concurrent claims see each other's seats.
    const id = machineId(r.licenseId, r.fingerprint);
    const known = this.journal.get<MachineRecord>(MACHINES, id);
    if (known) {
      if (known.last_seen >= r.touchBefore) return Promise.resolve({ outcome: 'known' });
      return this.journal.commit([{ c: MACHINES, id, doc: { ...known, last_seen: r.now } }]).then(() => ({ outcome: 'known' as const }));
    }
    const held = this.machines(r.licenseId);
    const fresh: MachineRecord = { license_id: r.licenseId, fingerprint: r.fingerprint, activated_at: r.now, last_seen: r.now };
    if (held.length < r.maxMachines) return this.journal.commit([{ c: MACHINES, id, doc: fresh }]).then(() => ({ outcome: 'bound' as const }));
    const stalest = r.staleBefore === undefined ? undefined : held.filter((m) => m.last_seen < (r.staleBefore as string)).sort(byLastSeen)[0];
    if (!stalest) return Promise.resolve({ outcome: 'full' });
    return this.journal
      .commit([
        { c: MACHINES, id: machineId(r.licenseId, stalest.fingerprint), delete: true },
        { c: MACHINES, id, doc: fresh },
      ])
      .then(() => ({ outcome: 'bound' as const, reclaimed: stalest.fingerprint }));
  }

  async releaseSeat(licenseId: string, fingerprint: string): Promise<boolean> {
    const id = machineId(licenseId, fingerprint);
    if (!this.journal.get(MACHINES, id)) return false;
    await this.journal.commit([{ c: MACHINES, id, delete: true }]);
    return true;
  }

  async listMachines(licenseId: string): Promise<MachineRecord[]> {
    return this.machines(licenseId);
  }

  private machines(licenseId: string): MachineRecord[] {
    return [...(this.machinesOf.get(licenseId) ?? [])]
      .map((fp) => this.journal.get<MachineRecord>(MACHINES, machineId(licenseId, fp)) as MachineRecord)
      .sort((a, b) => (a.activated_at < b.activated_at ? -1 : a.activated_at > b.activated_at ? 1 : 0));
  }
}

const byLastSeen = (a: MachineRecord, b: MachineRecord): number => (a.last_seen < b.last_seen ? -1 : a.last_seen > b.last_seen ? 1 : 0);
