/**
 * The Lightning rail's store interface: payment links, payments, account wallets and the dev node's
 * invoices. `settlePayment` is the one place a payment becomes settled: it writes the payment and its
 * `paid` event (with the event's webhook deliveries) in one atomic step, exactly once.
 */
import type { DeliveryRecord, EventRecord } from '../machines/types.js';
import type { PageResult, SeqPage } from '../machines/store.js';
import type { DevInvoiceRecord, PaymentLinkRecord, PaymentRecord, PaymentStatus, WalletRecord } from './types.js';

/** `name_taken`: another link has its name; `asset_linked`: another link already serves its asset. Nothing is written then. */
export type PutLinkResult = 'stored' | 'name_taken' | 'asset_linked';

export type SettleResult = { settled: PaymentRecord; event: EventRecord } | { already: PaymentRecord } | { missing: true };

export interface LightningStore {
  getLink(linkId: string): Promise<PaymentLinkRecord | undefined>;
  getLinkByAsset(assetId: string): Promise<PaymentLinkRecord | undefined>;
  /** By the local part of its Lightning address. */
  getLinkByName(name: string): Promise<PaymentLinkRecord | undefined>;
  /** The link `<username>@host` pays: the account's primary link. */
  getPrimaryLink(userId: string): Promise<PaymentLinkRecord | undefined>;
  /** The account's links, oldest first. */
  listLinks(userId: string): Promise<PaymentLinkRecord[]>;
  /** Create or update a link: one link per asset, one link per name. */
  putLink(link: PaymentLinkRecord): Promise<PutLinkResult>;

  /** The store assigns `seq`. Payment hashes are unique. */
  createPayment(payment: Omit<PaymentRecord, 'seq'>): Promise<PaymentRecord>;
  getPayment(paymentId: string): Promise<PaymentRecord | undefined>;
  getPaymentByHash(paymentHash: string): Promise<PaymentRecord | undefined>;
  listPayments(assetId: string, page: SeqPage, status?: PaymentStatus): Promise<PageResult<PaymentRecord>>;
  /** Every payment still pending, oldest first. */
  pendingPayments(): Promise<PaymentRecord[]>;
  /** Mark a pending payment expired; false when it is not pending. */
  expirePayment(paymentHash: string): Promise<boolean>;
  /**
   * Settle a payment exactly once: when it is not settled yet, write it settled together with its
   * `paid` event and that event's deliveries (the store assigns their `seq`s); otherwise write nothing.
   */
  settlePayment(
    paymentHash: string,
    settledAt: string,
    preimage: string | null,
    event: Omit<EventRecord, 'seq'>,
    deliveries: Omit<DeliveryRecord, 'seq'>[],
    /**
     * Called once, as soon as this call's settlement is visible to readers and before the promise
     * resolves (the journal: before its sync; a database: after its commit).
     */
    onVisible?: (settled: PaymentRecord, event: EventRecord) => void,
    /** Written with the settlement: a refund owed because the asset is gone; an x402 payment's final facts. */
    marks?: Pick<PaymentRecord, 'refund_due' | 'x402'>,
  ): Promise<SettleResult>;

  /**
   * Settled payments of the account (or of one asset) that no device has acknowledged yet, oldest
   * first; never one with a refund due (no machine is to run for it).
   */
  undeliveredPayments(userId: string, assetId?: string): Promise<PaymentRecord[]>;
  /** How many payments `undeliveredPayments` holds over every account (for the metrics; optional for an engine). */
  outboxDepth?(): Promise<number>;
  /** Record the first device acknowledgement of a payment; false when it was already recorded. */
  markDelivered(paymentId: string, at: string): Promise<boolean>;

  /** Resolves when every write made so far is durable (a database: at once, as each write resolves after its commit). */
  durable(): Promise<void>;

  getWallet(userId: string): Promise<WalletRecord | undefined>;
  putWallet(wallet: WalletRecord): Promise<void>;
  deleteWallet(userId: string): Promise<void>;
  /** Wallets of the BTCPay store `storeId` (for its public webhook: a lookup, not a scan). */
  btcpayWallets(storeId: string): Promise<WalletRecord[]>;

  putDevInvoice(invoice: DevInvoiceRecord): Promise<void>;
  getDevInvoice(paymentHash: string): Promise<DevInvoiceRecord | undefined>;
}
