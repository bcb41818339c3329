/**
 * The license store's seam: products, licenses and the machines holding their seats, on either
 * engine (`store/journal/license-store.ts`, `store/postgres/license-store.ts`), both held to
 * `test/store/license-store.test.ts`. Every lookup on the validate path is by primary key.
 */
import type { LicenseRecord, MachineRecord, ProductRecord, SeatClaim } from './types.js';

/** A product slug another product already has. */
export class SlugTakenError extends Error {
  constructor(slug: string) {
    super(`a product with slug '${slug}' already exists`);
    this.name = 'SlugTakenError';
  }
}

export interface LicensePage {
  limit: number;
  /** Where the previous page ended (its `next`). */
  after?: number | undefined;
}

export interface SeatRequest {
  licenseId: string;
  fingerprint: string;
  /** ISO time of the request. */
  now: string;
  /** Seats the license has. */
  maxMachines: number;
  /** A seat last seen before this ISO time may be taken over when the license is full (undefined: never). */
  staleBefore?: string | undefined;
  /** A known machine's last_seen is refreshed only when older than this ISO time (fewer writes on the hot path). */
  touchBefore: string;
}

export interface LicenseStore {
  /** Add a product; SlugTakenError when its slug is taken. */
  createProduct(product: ProductRecord): Promise<void>;
  /** Replace a product (activation); the slug never changes. */
  updateProduct(product: ProductRecord): Promise<void>;
  getProduct(productId: string): Promise<ProductRecord | undefined>;
  getProductBySlug(slug: string): Promise<ProductRecord | undefined>;
  /** Oldest first; `activeOnly` for the public list. */
  listProducts(options: { activeOnly: boolean }): Promise<ProductRecord[]>;

  /**
   * Add a license. With an `invoice_id` that already has one, nothing is written and that one is
   * returned (one license per invoice); otherwise the record given.
   */
  insertLicense(license: LicenseRecord): Promise<LicenseRecord>;
  /** Replace a license (status changes). */
  updateLicense(license: LicenseRecord): Promise<void>;
  getLicense(licenseId: string): Promise<LicenseRecord | undefined>;
  /** The validate path's one read: a license and, when a fingerprint is given, the seat it holds (one round trip on PostgreSQL). */
  getForValidate(licenseId: string, fingerprint: string | undefined): Promise<{ license: LicenseRecord; seat: MachineRecord | undefined } | undefined>;
  getLicenseByInvoice(invoiceId: string): Promise<LicenseRecord | undefined>;
  /** A product's licenses, oldest first, a page at a time (`next`: the opaque position to pass as `after`, null at the end). */
  listLicenses(productId: string, page: LicensePage): Promise<{ items: LicenseRecord[]; next: number | null }>;
  /** Licenses whose expires_at is in (from, to], for the expiry notices. */
  listExpiring(from: string, to: string): Promise<LicenseRecord[]>;
  /** Whether any license exists (the signing key must then not be replaced). */
  hasLicenses(): Promise<boolean>;

  /** Take (or refresh) a seat, atomically: two machines racing for the last seat, exactly one wins. */
  claimSeat(request: SeatRequest): Promise<SeatClaim>;
  /** Free a machine's seat; false when it held none. */
  releaseSeat(licenseId: string, fingerprint: string): Promise<boolean>;
  /** The machines holding a license's seats, oldest first. */
  listMachines(licenseId: string): Promise<MachineRecord[]>;
}
