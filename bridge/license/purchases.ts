/**
 * License purchases (keysat `POST /v1/purchase`, `GET /v1/purchase/:invoice_id`): an invoice made on
 * the vendor account's Lightning backend (a BTCPay hosted checkout when that account uses BTCPay),
 * recorded as a pending payment that names the purchase, and settled by the same settlement as asset
 * payments: one payment record, one `payment.settled` bus event, one `paid` event for the vendor's
 * account (its webhooks see license sales). The license is issued when the payment settles,
 * idempotently per invoice (license-core keeps one license per `invoice_id`): by a `payment.settled`
 * listener, by whoever polls a settled purchase whose license is not there yet, and on start for every
 * settled purchase without one (found through the vendor's recent `paid` events, written in one step
 * with the settlement), so a crash between settling and issuing loses nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { CreatedInvoice } from '../lightning/backends/backend.js';
import { metadataHash, payMetadata } from '../lightning/lnurl.js';
import type { Settlement } from '../lightning/settlement.js';
import type { LightningStore } from '../lightning/store.js';
import { pendingLightningPayment, type PaymentRecord } from '../lightning/types.js';
import type { Wallets } from '../lightning/wallets.js';
import type { MachinesStore } from '../machines/store.js';
import type { AccountRecord } from '../machines/types.js';
import type { PurchaseMetrics } from './purchase-metrics.js';
import type { LicenseService } from './service.js';
import type { LicenseRecord } from './types.js';

export interface PurchaseInput {
  product: string;
  buyer_email?: string | undefined;
  buyer_note?: string | undefined;
  redirect_url?: string | undefined;
  /** Called with the product before its invoice is made (the per-product rate limit); throws to refuse. */
  admit?: ((productId: string) => void) | undefined;
}

/** keysat `POST /v1/purchase` response; `payment_request` (the BOLT 11 invoice) is ours, for wallets. */
export interface PurchaseView {
  invoice_id: string;
  btcpay_invoice_id: string | null;
  checkout_url: string;
  amount_sats: number;
  poll_url: string;
  payment_request: string;
  expires_at: string;
}

/** keysat `GET /v1/purchase/:invoice_id` response; `expired` is ours (an unpaid invoice ran out). */
export interface PurchaseStatus {
  invoice_id: string;
  status: 'pending' | 'settled' | 'expired';
  product_id: string;
  amount_sats: number;
  license_key: string | null;
  license_id: string | null;
}

export interface PurchasesOptions {
  licenses: LicenseService;
  payments: LightningStore;
  machines: MachinesStore;
  wallets: Wallets;
  settlement: Settlement;
  bus: EventBus;
  /** Where a purchase is polled: `${base()}/v1/purchase/${id}` (PUBLIC_URL and the license prefix). */
  pollBase: () => string;
  /** Username or id of the account that sells licenses (LICENSE_VENDOR_ACCOUNT); undefined: purchases are off. */
  vendor: string | undefined;
  invoiceExpirySeconds: number;
  log: Logger;
  metrics?: PurchaseMetrics | undefined;
}

/** A payment that pays for a license. */
type LicensePayment = PaymentRecord & { purchase: { kind: 'license'; product_id: string; purchase_id: string } };

export function isLicensePayment(payment: PaymentRecord): payment is LicensePayment {
  return payment.purchase?.kind === 'license';
}

/** How far back the start looks for settled purchases without a license. */
const RECOVERY_WINDOW_MS = 7 * 86_400_000;

export class Purchases {
  private readonly options: PurchasesOptions;
  /** Issues in flight per invoice: concurrent reports of one settlement wait for the same issue. */
  private readonly issuing = new Map<string, Promise<{ license: LicenseRecord; key: string }>>();
  private recovering: Promise<void> | undefined;

  constructor(options: PurchasesOptions) {
    this.options = options;
  }

  /** Listen for settled purchases, and issue what a crash left unissued. */
  start(): void {
    this.options.bus.on('payment.settled', this, ({ payment }) => {
      if (!isLicensePayment(payment)) return;
      // The bus announces before the settlement's sync: wait for it, so a license never outlives its payment.
      return this.options.payments
        .durable()
        .then(() => this.issueFor(payment))
        .then(
          () => undefined,
          (err: unknown) => {
            this.options.metrics?.purchases.inc({ event: 'issue_failed' });
            this.options.log.error({ err, paymentId: payment.payment_id }, 'issuing a purchased license failed; retried at the next poll or start');
          },
        );
    });
    this.recovering = this.recover().catch((err: unknown) => this.options.log.error({ err }, 'issuing licenses of settled purchases failed'));
  }

  async stop(): Promise<void> {
    this.options.bus.off(this);
    await this.recovering;
    await Promise.allSettled(this.issuing.values());
  }

  /** Start a purchase: an invoice for the product's price on the vendor's backend, recorded as pending. */
  async create(input: PurchaseInput): Promise<PurchaseView> {
    const product = await this.options.licenses.activeProduct(input.product);
    input.admit?.(product.product_id);
    const vendor = await this.vendor();
    if (product.price_sats < 1) throw new AppError(400, 'invalid_body', `product '${product.slug}' is not for sale (it has no price)`);
    const { wallets, invoiceExpirySeconds } = this.options;
    const backend = await wallets.backendFor(vendor);
    const walletVersion = await wallets.versionFor(vendor.user_id);
    const purchaseId = randomUUID();
    const description = `${product.name} license`;
    // A proxied Lightning address commits its invoices to its own metadata, within its own amounts.
    let metadata = payMetadata(description);
    if (!backend.createCheckout && backend.payParams) {
      const remote = await backend.payParams().catch((err: unknown) => {
        throw new AppError(503, 'backend_unavailable', 'The Lightning backend could not be reached; try again later', { cause: err });
      });
      const msat = product.price_sats * 1000;
      if (msat < remote.minSendable || msat > remote.maxSendable) {
        throw new AppError(503, 'backend_unavailable', `The vendor's Lightning wallet cannot receive ${product.price_sats} sats`);
      }
      metadata = remote.metadata;
    }
    let created: CreatedInvoice & { checkoutUrl?: string };
    try {
      created = backend.createCheckout
        ? await backend.createCheckout({
            amountSats: product.price_sats,
            description,
            expirySeconds: invoiceExpirySeconds,
            paymentId: purchaseId,
            redirectUrl: input.redirect_url,
          })
        : await backend.createInvoice({
            amountMsat: product.price_sats * 1000,
            descriptionHash: metadataHash(metadata),
            metadata,
            memo: `${description} (paywire ${purchaseId})`,
            expirySeconds: invoiceExpirySeconds,
            paymentId: purchaseId,
          });
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message, backend: backend.kind }, 'could not make a purchase invoice');
      throw new AppError(503, 'backend_unavailable', 'The Lightning backend could not make an invoice; try again later', { cause: err });
    }
    const payment = await this.options.payments.createPayment(
      pendingLightningPayment({
        paymentId: purchaseId,
        userId: vendor.user_id,
        assetId: null,
        linkId: '',
        purchase: { kind: 'license', product_id: product.product_id, purchase_id: purchaseId },
        amountSats: product.price_sats,
        durationMs: 0,
        backend: backend.kind,
        walletVersion,
        created,
        comment: buyerComment(input),
      }),
    );
    this.options.metrics?.purchases.inc({ event: 'started' });
    this.options.log.info({ purchaseId, productId: product.product_id, amountSats: product.price_sats, backend: backend.kind }, 'license purchase started');
    return {
      invoice_id: purchaseId,
      btcpay_invoice_id: created.ref?.startsWith('invoice:') ? created.ref.slice('invoice:'.length) : null,
      checkout_url: created.checkoutUrl ?? `lightning:${created.pr}`,
      amount_sats: payment.amount_sats,
      poll_url: `${this.options.pollBase()}/v1/purchase/${purchaseId}`,
      payment_request: created.pr,
      expires_at: created.expiresAt,
    };
  }

  /** Poll a purchase: pending until its payment settles, then its license (issued now if not yet). */
  async status(invoiceId: string): Promise<PurchaseStatus> {
    let payment = await this.options.payments.getPayment(invoiceId);
    if (!payment || !isLicensePayment(payment)) throw new AppError(404, 'not_found', `purchase '${invoiceId}'`);
    // A poller sees a settlement as soon as the backend knows it (at most one look-up a second).
    payment = await this.options.settlement.refresh(payment).catch(() => payment as PaymentRecord);
    const base = { invoice_id: invoiceId, product_id: payment.purchase?.product_id ?? '', amount_sats: payment.amount_sats };
    if (payment.status !== 'settled' || !isLicensePayment(payment)) {
      return { ...base, status: payment.status === 'expired' ? 'expired' : 'pending', license_key: null, license_id: null };
    }
    const { license, key } = await this.issueFor(payment);
    return { ...base, status: 'settled', license_key: key, license_id: license.license_id };
  }

  /** The purchase's license, issued once per invoice whoever asks and however often. */
  issueFor(payment: LicensePayment): Promise<{ license: LicenseRecord; key: string }> {
    const id = payment.payment_id;
    let running = this.issuing.get(id);
    if (!running) {
      running = this.issue(payment).finally(() => this.issuing.delete(id));
      this.issuing.set(id, running);
    }
    return running;
  }

  private async issue(payment: LicensePayment): Promise<{ license: LicenseRecord; key: string }> {
    const before = Date.now();
    // One license per invoice: the service hands back the existing one when there is one.
    const issued = await this.options.licenses.issue({
      product_id: payment.purchase.product_id,
      invoice_id: payment.payment_id,
      note: payment.comment === null ? 'purchase' : `purchase: ${payment.comment}`,
    });
    // Made by this call (created after it began), not handed back as the invoice's existing one.
    if (Date.parse(issued.license.created) >= before) {
      this.options.metrics?.purchases.inc({ event: 'issued' });
      this.options.log.info({ purchaseId: payment.payment_id, licenseId: issued.license.license_id }, 'purchased license issued');
    }
    return issued;
  }

  /**
   * Every recently settled purchase of the vendor gets its license if it has none (a crash came
   * between the settlement and the issue). The `paid` events are the index: each is written in one
   * step with its settlement.
   */
  private async recover(): Promise<void> {
    const vendor = await this.vendorAccount();
    if (!vendor) return;
    const since = new Date(Date.now() - RECOVERY_WINDOW_MS).toISOString();
    let before: number | undefined;
    let checked = 0;
    do {
      const page = await this.options.machines.listEvents(
        vendor.user_id,
        { type: 'paid', since },
        before === undefined ? { limit: 500 } : { limit: 500, before },
      );
      for (const event of page.items) {
        const purchase = (event.data as { purchase?: { kind?: unknown } }).purchase;
        const paymentId = (event.data as { payment_id?: unknown }).payment_id;
        if (purchase?.kind !== 'license' || typeof paymentId !== 'string') continue;
        const payment = await this.options.payments.getPayment(paymentId);
        if (payment && payment.status === 'settled' && isLicensePayment(payment)) {
          await this.issueFor(payment);
          checked++;
        }
      }
      before = page.next ?? undefined;
    } while (before !== undefined);
    if (checked > 0) this.options.log.debug({ checked }, 'checked the licenses of recent purchases');
  }

  private async vendorAccount(): Promise<AccountRecord | undefined> {
    const name = this.options.vendor;
    if (name === undefined) return undefined;
    return (await this.options.machines.getAccountByUsername(name.toLowerCase())) ?? (await this.options.machines.getAccount(name));
  }

  private async vendor(): Promise<AccountRecord> {
    const account = await this.vendorAccount();
    if (!account) throw new AppError(503, 'backend_unavailable', 'This license server takes no purchases: its operator has not set LICENSE_VENDOR_ACCOUNT');
    return account;
  }
}

/** What the buyer told us, kept with the payment (its comment) and on the license's note. */
function buyerComment(input: PurchaseInput): string | null {
  const parts = [input.buyer_email, input.buyer_note].filter((p): p is string => p !== undefined && p !== '');
  return parts.length === 0 ? null : parts.join(' — ');
}
