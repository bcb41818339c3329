/**
 * The license server's service: products, issuing, the validate hot path, seats (trust-on-first-use,
 * multi-seat caps, deactivation, heartbeats and reclaiming a dead machine's seat) and license standing
 * (revoke, suspend, reinstate, expiry), with `onChanged` for whoever re-publishes answers (MQTT).
 * HTTP routes and MQTT handlers both call it; it never imports Koa.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { FLAG_FINGERPRINT, FLAG_TRIAL, ZERO_HASH, type LicensePayload, type LicenseSigner } from './keys.js';
import type { LicenseMetrics } from './metrics.js';
import { SlugTakenError, type LicensePage, type LicenseStore } from './store.js';
import type { IssueRequest, LicenseChange, LicenseRecord, MachineRecord, ProductRecord, ValidateAnswer, ValidateInput, ValidateReason } from './types.js';

export interface LicenseServiceOptions {
  store: LicenseStore;
  signer: LicenseSigner;
  log: Logger;
  /** A seat whose machine has not validated for this long may be taken by another (0 = never). */
  seatReclaimSeconds: number;
  /** How often expiries are looked for (they are announced within this time). */
  expiryCheckMs?: number;
  now?: () => number;
  /** Counts validations by result (HTTP and MQTT alike). */
  metrics?: LicenseMetrics | undefined;
}

export interface NewProduct {
  slug: string;
  name: string;
  description?: string | null | undefined;
  price_sats: number;
  metadata?: Record<string, unknown> | undefined;
}

export type LicenseListener = (change: LicenseChange) => void | Promise<void>;

/** Verified keys remembered (the signature check is the hot path's one expensive step). */
const VERIFIED_CACHE = 10_000;
/** A known machine's last_seen is written at most this often (heartbeats cost no write per validation). */
const MAX_TOUCH_MS = 60_000;

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const isoSeconds = (seconds: number): string => new Date(seconds * 1000).toISOString();

export class LicenseService {
  private readonly store: LicenseStore;
  private readonly signer: LicenseSigner;
  private readonly log: Logger;
  private readonly reclaimMs: number;
  private readonly touchMs: number;
  private readonly expiryCheckMs: number;
  private readonly now: () => number;
  private readonly metrics: LicenseMetrics | undefined;
  private readonly listeners = new Set<LicenseListener>();
  private readonly verified = new Map<string, LicensePayload>();
  private readonly productSlugs = new Map<string, string>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryFrom = 0;
  private expiryRunning: Promise<void> | undefined;

  constructor(options: LicenseServiceOptions) {
    this.store = options.store;
    this.signer = options.signer;
    this.log = options.log;
    this.reclaimMs = options.seatReclaimSeconds * 1000;
    this.touchMs = this.reclaimMs > 0 ? Math.min(MAX_TOUCH_MS, Math.floor(this.reclaimMs / 4)) : MAX_TOUCH_MS;
    this.expiryCheckMs = options.expiryCheckMs ?? 1_000;
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics;
  }

  get publicKeyPem(): string {
    return this.signer.publicKeyPem;
  }

  // ------------------------------------------------------------------ products

  async createProduct(input: NewProduct): Promise<ProductRecord> {
    const at = new Date(this.now()).toISOString();
    const product: ProductRecord = {
      product_id: randomUUID(),
      slug: input.slug,
      name: input.name,
      description: input.description ?? null,
      price_sats: input.price_sats,
      metadata: input.metadata ?? {},
      active: true,
      created: at,
      updated: at,
    };
    try {
      await this.store.createProduct(product);
    } catch (err) {
      if (err instanceof SlugTakenError) throw new AppError(409, 'name_taken', `product '${input.slug}' already exists`);
      throw err;
    }
    return product;
  }

  async setProductActive(productId: string, active: boolean): Promise<ProductRecord> {
    const product = await this.store.getProduct(productId);
    if (!product) throw new AppError(404, 'not_found', `product '${productId}'`);
    if (product.active === active) return product;
    const next = { ...product, active, updated: new Date(this.now()).toISOString() };
    await this.store.updateProduct(next);
    return next;
  }

  listProducts(activeOnly: boolean): Promise<ProductRecord[]> {
    return this.store.listProducts({ activeOnly });
  }

  /** An active product by slug (deactivated ones are hidden from the public), or 404. */
  async activeProduct(slug: string): Promise<ProductRecord> {
    const product = await this.store.getProductBySlug(slug);
    if (!product || !product.active) throw new AppError(404, 'not_found', `product '${slug}'`);
    return product;
  }

  /** Any product by slug (admins issue for deactivated ones too), or 404. */
  async productBySlug(slug: string): Promise<ProductRecord> {
    const product = await this.store.getProductBySlug(slug);
    if (!product) throw new AppError(404, 'not_found', `product '${slug}'`);
    return product;
  }

  async product(productId: string): Promise<ProductRecord> {
    const product = await this.store.getProduct(productId);
    if (!product) throw new AppError(404, 'not_found', `product '${productId}'`);
    return product;
  }

  // ------------------------------------------------------------------ issuing

  /**
   * Issue a license for a product and return it with its key. Key format v1 for a plain license,
   * v2 when it carries an expiry, the trial flag or entitlements (keysat key format v2). With an
   * `invoice_id` that already has a license, that license is returned and nothing is issued.
   */
  async issue(request: IssueRequest): Promise<{ license: LicenseRecord; key: string }> {
    if (request.invoice_id) {
      const existing = await this.store.getLicenseByInvoice(request.invoice_id);
      if (existing) return { license: existing, key: this.keyOf(existing) };
    }
    const product = await this.product(request.product_id);
    const issuedSeconds = Math.floor(this.now() / 1000);
    const expiresSeconds = request.expires_at ? Math.floor(Date.parse(request.expires_at) / 1000) : 0;
    const entitlements = request.entitlements ?? [];
    const trial = request.trial ?? false;
    const license: LicenseRecord = {
      license_id: randomUUID(),
      product_id: product.product_id,
      version: expiresSeconds > 0 || trial || entitlements.length > 0 ? 2 : 1,
      issued_at: isoSeconds(issuedSeconds),
      expires_at: expiresSeconds > 0 ? isoSeconds(expiresSeconds) : null,
      trial,
      fingerprint_hash: request.fingerprint ? sha256Hex(request.fingerprint) : null,
      entitlements,
      max_machines: request.max_machines ?? 1,
      note: request.note ?? null,
      status: 'active',
      status_reason: null,
      status_changed_at: null,
      invoice_id: request.invoice_id ?? null,
      created: new Date(this.now()).toISOString(),
    };
    const key = this.keyOf(license);
    const stored = await this.store.insertLicense(license);
    return { license: stored, key: stored === license ? key : this.keyOf(stored) };
  }

  /** The license's key, made again from its record (Ed25519 is deterministic, so it is the key issued). */
  keyOf(license: LicenseRecord): string {
    return this.signer.issue(payloadOf(license));
  }

  async license(licenseId: string): Promise<LicenseRecord> {
    const license = await this.store.getLicense(licenseId);
    if (!license) throw new AppError(404, 'not_found', `license '${licenseId}'`);
    return license;
  }

  listLicenses(productId: string, page: LicensePage): Promise<{ items: LicenseRecord[]; next: number | null }> {
    return this.store.listLicenses(productId, page);
  }

  machines(licenseId: string): Promise<MachineRecord[]> {
    return this.store.listMachines(licenseId);
  }

  // ------------------------------------------------------------------ standing

  /** Revoke; an unknown or already revoked license is 404 (the documented second revoke). */
  revoke(licenseId: string, reason: string | null): Promise<LicenseRecord> {
    return this.change(licenseId, ['active', 'suspended'], 'revoked', reason, 'revoked');
  }

  /** Suspend an active license (validations answer `suspended` until reinstated). */
  suspend(licenseId: string, reason: string | null): Promise<LicenseRecord> {
    return this.change(licenseId, ['active'], 'suspended', reason, 'suspended');
  }

  /** Reinstate a suspended license. */
  reinstate(licenseId: string): Promise<LicenseRecord> {
    return this.change(licenseId, ['suspended'], 'active', null, 'reinstated');
  }

  private async change(
    licenseId: string,
    from: LicenseRecord['status'][],
    to: LicenseRecord['status'],
    reason: string | null,
    change: LicenseChange['change'],
  ): Promise<LicenseRecord> {
    const license = await this.store.getLicense(licenseId);
    if (!license || !from.includes(license.status)) {
      const what = license ? `license '${licenseId}' is ${license.status}` : `license '${licenseId}'`;
      throw new AppError(404, 'not_found', what);
    }
    const next: LicenseRecord = { ...license, status: to, status_reason: reason, status_changed_at: new Date(this.now()).toISOString() };
    await this.store.updateLicense(next);
    this.log.info({ license_id: licenseId, change }, 'license standing changed');
    await this.announce(next, change);
    return next;
  }

  /** Listen for revoke, suspend, reinstate and expiry; returns the unsubscribe. */
  onChanged(listener: LicenseListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async announce(license: LicenseRecord, change: LicenseChange['change']): Promise<void> {
    if (this.listeners.size === 0) return;
    const fingerprints = (await this.store.listMachines(license.license_id)).map((m) => m.fingerprint);
    const event: LicenseChange = { license_id: license.license_id, product_id: license.product_id, change, fingerprints };
    for (const listener of this.listeners) {
      try {
        await listener(event);
      } catch (err) {
        this.log.error({ err, license_id: license.license_id }, 'a license change listener failed');
      }
    }
  }

  /** Start announcing expiries (every `expiryCheckMs`). */
  start(): void {
    if (this.expiryTimer) return;
    this.expiryFrom = this.now();
    this.expiryTimer = setInterval(() => {
      this.expiryRunning ??= this.announceExpiries()
        .catch((err: unknown) => this.log.error({ err }, 'looking for expired licenses failed'))
        .finally(() => (this.expiryRunning = undefined));
    }, this.expiryCheckMs);
    this.expiryTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.expiryTimer);
    this.expiryTimer = undefined;
    await this.expiryRunning;
  }

  private async announceExpiries(): Promise<void> {
    const to = this.now();
    if (to <= this.expiryFrom) return;
    const expiring = await this.store.listExpiring(new Date(this.expiryFrom).toISOString(), new Date(to).toISOString());
    this.expiryFrom = to;
    for (const license of expiring) if (license.status === 'active') await this.announce(license, 'expired');
  }

  // ------------------------------------------------------------------ validate (the hot path)

  /** `POST /v1/validate`'s answer (and MQTT's): never throws for a bad key, only when the store fails. */
  async validate(input: ValidateInput): Promise<ValidateAnswer> {
    const answer = await this.check(input);
    this.metrics?.validations.inc({ result: answer.ok ? 'ok' : answer.reason });
    return answer;
  }

  /** A validate request that does not parse (HTTP body, MQTT payload) is `bad_format`, counted like the rest. */
  badFormat(): ValidateAnswer {
    this.metrics?.validations.inc({ result: 'bad_format' });
    return { ok: false, reason: 'bad_format' };
  }

  private async check(input: ValidateInput): Promise<ValidateAnswer> {
    const payload = this.verify(input.key);
    if (typeof payload === 'string') return { ok: false, reason: payload };
    const found = await this.store.getForValidate(payload.licenseUuid, input.fingerprint);
    if (!found || found.license.product_id !== payload.productUuid) return fail('not_found');
    const { license, seat } = found;
    if (license.status === 'revoked') return fail('revoked');
    if (license.status === 'suspended') return fail('suspended');
    const now = this.now();
    if (license.expires_at !== null && Date.parse(license.expires_at) <= now) return fail('expired');
    const slug = await this.slugOf(license.product_id);
    if (input.product_slug !== undefined && input.product_slug !== slug) return fail('product_mismatch');
    // keysat key format: a fingerprint-bound key names the one machine it runs on.
    if (license.fingerprint_hash !== null && (input.fingerprint === undefined || sha256Hex(input.fingerprint) !== license.fingerprint_hash)) {
      return fail('fingerprint_mismatch');
    }
    // A machine already holding a seat, seen recently: nothing to write (the common heartbeat).
    const touchBefore = new Date(now - this.touchMs).toISOString();
    if (input.fingerprint !== undefined && !(seat && seat.last_seen >= touchBefore)) {
      const claim = await this.store.claimSeat({
        licenseId: license.license_id,
        fingerprint: input.fingerprint,
        now: new Date(now).toISOString(),
        maxMachines: license.max_machines,
        staleBefore: this.reclaimMs > 0 ? new Date(now - this.reclaimMs).toISOString() : undefined,
        touchBefore,
      });
      // One seat: trust-on-first-use, a second machine is a fingerprint mismatch; more: the cap.
      if (claim.outcome === 'full') return fail(license.max_machines === 1 ? 'fingerprint_mismatch' : 'too_many_machines');
      if (claim.outcome === 'bound' && claim.reclaimed !== undefined) {
        this.log.info({ license_id: license.license_id }, 'a seat idle past the reclaim time was taken by another machine');
      }
    }
    return {
      ok: true,
      license_id: license.license_id,
      product_id: license.product_id,
      product_slug: slug,
      issued_at: license.issued_at,
      expires_at: license.expires_at,
      trial: license.trial,
      entitlements: license.entitlements,
      max_machines: license.max_machines,
    };
  }

  /**
   * Free the seat a machine holds (a reinstall, a machine retired). The key is the proof: anyone holding
   * it may free its seats, as anyone holding it may take them.
   */
  async deactivate(input: {
    key: string;
    fingerprint: string;
  }): Promise<{ ok: true; license_id: string; released: boolean } | { ok: false; reason: ValidateReason }> {
    const payload = this.verify(input.key);
    if (typeof payload === 'string') return { ok: false, reason: payload };
    const license = await this.store.getLicense(payload.licenseUuid);
    if (!license || license.product_id !== payload.productUuid) return fail('not_found');
    const released = await this.store.releaseSeat(license.license_id, input.fingerprint);
    return { ok: true, license_id: license.license_id, released };
  }

  /** The payload of a well-formed key with our signature, or why not (verified keys are remembered). */
  private verify(key: string): LicensePayload | 'bad_format' | 'bad_signature' {
    const text = key.trim();
    const known = this.verified.get(text);
    if (known) return known;
    const checked = this.signer.check(text);
    if ('problem' in checked) return checked.problem;
    if (this.verified.size >= VERIFIED_CACHE) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(text, checked.payload);
    return checked.payload;
  }

  /** A product's slug (slugs never change, products are never deleted: remembered once read). */
  private async slugOf(productId: string): Promise<string> {
    const known = this.productSlugs.get(productId);
    if (known !== undefined) return known;
    const product = await this.store.getProduct(productId);
    const slug = product?.slug ?? '';
    if (product) this.productSlugs.set(productId, slug);
    return slug;
  }
}

const fail = (reason: ValidateReason): { ok: false; reason: ValidateReason } => ({ ok: false, reason });

/** The key payload a license record stands for (keysat key format v1 or v2). */
export function payloadOf(license: LicenseRecord): LicensePayload {
  return {
    version: license.version,
    flags: (license.fingerprint_hash !== null ? FLAG_FINGERPRINT : 0) | (license.trial ? FLAG_TRIAL : 0),
    productUuid: license.product_id,
    licenseUuid: license.license_id,
    issuedAt: Math.floor(Date.parse(license.issued_at) / 1000),
    expiresAt: license.expires_at === null ? 0 : Math.floor(Date.parse(license.expires_at) / 1000),
    fingerprintHash: license.fingerprint_hash === null ? ZERO_HASH : Buffer.from(license.fingerprint_hash, 'hex'),
    entitlements: license.entitlements,
  };
}
