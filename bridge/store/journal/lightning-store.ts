/**
 * The Lightning store on the embedded journal. Settling a payment commits the payment, its `paid`
 * event and the event's deliveries as one journal record: the check ("not settled yet") and the
 * write happen in one synchronous step, so concurrent settlements cannot both win.
 */
import type { PageResult, SeqPage } from '../../machines/store.js';
import type { DeliveryRecord, EventRecord } from '../../machines/types.js';
import type { LightningStore, PutLinkResult, SettleResult } from '../../lightning/store.js';
import type { DevInvoiceRecord, PaymentLinkRecord, PaymentRecord, PaymentStatus, WalletRecord } from '../../lightning/types.js';
import type { Journal } from './engine.js';
import type { JournalMachinesStore } from './machines-store.js';
import { lowerBound, pageNewestFirst } from './paging.js';

const LINKS = 'payment_links';
const PAYMENTS = 'payments';
const WALLETS = 'wallets';
const DEV_INVOICES = 'dev_invoices';

export class JournalLightningStore implements LightningStore {
  private readonly journal: Journal;
  private readonly machines: JournalMachinesStore;
  private readonly linkByAsset = new Map<string, string>();
  private readonly linkByName = new Map<string, string>();
  private readonly linksByUser = new Map<string, string[]>();
  private readonly paymentByHash = new Map<string, string>();
  private readonly paymentsByAsset = new Map<string, PaymentRecord[]>();
  private readonly pending = new Set<string>();
  /** The MQTT outbox: settled payments no device acknowledged, by account and by asset. */
  private readonly undelivered = new Map<string, Set<string>>();
  private readonly undeliveredByAsset = new Map<string, Set<string>>();
  /** Accounts whose wallet is a BTCPay store, by store id: the public webhook looks its store up here. */
  private readonly walletsByBtcpayStore = new Map<string, Set<string>>();
  private paymentSeq = 0;

  /** Registers its indexes on the journal; call before `journal.open()`. */
  constructor(journal: Journal, machines: JournalMachinesStore) {
    this.journal = journal;
    this.machines = machines;
    journal.onApply((c, id, next, prev) => this.index(c, id, next, prev));
  }

  private index(c: string, id: string, next: unknown, prev: unknown): void {
    if (c === LINKS) {
      const p = prev as PaymentLinkRecord | undefined;
      const n = next as PaymentLinkRecord;
      if (p && p.name !== n.name) this.linkByName.delete(p.name);
      this.linkByName.set(n.name, id);
      this.linkByAsset.set(n.asset_id, id);
      const list = this.linksByUser.get(n.user_id) ?? [];
      if (!list.includes(id)) list.push(id);
      this.linksByUser.set(n.user_id, list);
    } else if (c === PAYMENTS) {
      const n = next as PaymentRecord;
      // A purchase that runs no machine (a license) has no asset to list it under.
      if (n.asset_id !== null) {
        let list = this.paymentsByAsset.get(n.asset_id);
        if (!list) {
          list = [];
          this.paymentsByAsset.set(n.asset_id, list);
        }
        if (prev === undefined) list.push(n);
        else list[lowerBound(list, n.seq)] = n;
      }
      this.paymentByHash.set(n.payment_hash, id);
      if (n.status === 'pending') this.pending.add(id);
      else this.pending.delete(id);
      // The MQTT outbox: settled, not acknowledged, and meant for a machine (not refund-due).
      if (n.asset_id === null) return;
      const waiting = n.status === 'settled' && !n.device_acked_at && n.refund_due !== true;
      for (const [map, key] of [
        [this.undelivered, n.user_id],
        [this.undeliveredByAsset, n.asset_id],
      ] as const) {
        let set = map.get(key);
        if (waiting) {
          if (!set) {
            set = new Set();
            map.set(key, set);
          }
          set.add(id);
        } else {
          set?.delete(id);
          if (set?.size === 0) map.delete(key);
        }
      }
      this.paymentSeq = Math.max(this.paymentSeq, n.seq);
    } else if (c === WALLETS) {
      const before = btcpayStore(prev as WalletRecord | undefined);
      const after = btcpayStore(next as WalletRecord | undefined);
      if (before === after) return;
      if (before !== undefined) {
        const set = this.walletsByBtcpayStore.get(before);
        set?.delete(id);
        if (set?.size === 0) this.walletsByBtcpayStore.delete(before);
      }
      if (after !== undefined) {
        let set = this.walletsByBtcpayStore.get(after);
        if (!set) {
          set = new Set();
          this.walletsByBtcpayStore.set(after, set);
        }
        set.add(id);
      }
    }
  }

  async getLink(linkId: string): Promise<PaymentLinkRecord | undefined> {
    return this.journal.get<PaymentLinkRecord>(LINKS, linkId);
  }

  async getLinkByAsset(assetId: string): Promise<PaymentLinkRecord | undefined> {
    const id = this.linkByAsset.get(assetId);
    return id === undefined ? undefined : this.journal.get<PaymentLinkRecord>(LINKS, id);
  }

  async getLinkByName(name: string): Promise<PaymentLinkRecord | undefined> {
    const id = this.linkByName.get(name);
    return id === undefined ? undefined : this.journal.get<PaymentLinkRecord>(LINKS, id);
  }

  async getPrimaryLink(userId: string): Promise<PaymentLinkRecord | undefined> {
    const links = await this.listLinks(userId);
    return links.find((l) => l.primary) ?? links[0];
  }

  async listLinks(userId: string): Promise<PaymentLinkRecord[]> {
    return (this.linksByUser.get(userId) ?? []).map((id) => this.journal.get<PaymentLinkRecord>(LINKS, id) as PaymentLinkRecord);
  }

  async putLink(link: PaymentLinkRecord): Promise<PutLinkResult> {
    const holder = this.linkByName.get(link.name);
    if (holder !== undefined && holder !== link.link_id) return 'name_taken';
    const linked = this.linkByAsset.get(link.asset_id);
    if (linked !== undefined && linked !== link.link_id) return 'asset_linked';
    await this.journal.commit([{ c: LINKS, id: link.link_id, doc: link }]);
    return 'stored';
  }

  async createPayment(payment: Omit<PaymentRecord, 'seq'>): Promise<PaymentRecord> {
    // One payment per hash: a second would be settled by the first one's preimage.
    if (this.paymentByHash.has(payment.payment_hash)) throw new Error(`a payment with hash ${payment.payment_hash} exists`);
    const stored: PaymentRecord = { ...payment, seq: this.paymentSeq + 1 };
    await this.journal.commit([{ c: PAYMENTS, id: stored.payment_id, doc: stored }]);
    return stored;
  }

  async getPayment(paymentId: string): Promise<PaymentRecord | undefined> {
    return this.journal.get<PaymentRecord>(PAYMENTS, paymentId);
  }

  async getPaymentByHash(paymentHash: string): Promise<PaymentRecord | undefined> {
    const id = this.paymentByHash.get(paymentHash);
    return id === undefined ? undefined : this.journal.get<PaymentRecord>(PAYMENTS, id);
  }

  async listPayments(assetId: string, page: SeqPage, status?: PaymentStatus): Promise<PageResult<PaymentRecord>> {
    return pageNewestFirst(this.paymentsByAsset.get(assetId) ?? [], page, (p) => status === undefined || p.status === status);
  }

  async pendingPayments(): Promise<PaymentRecord[]> {
    return [...this.pending].map((id) => this.journal.get<PaymentRecord>(PAYMENTS, id) as PaymentRecord);
  }

  async expirePayment(paymentHash: string): Promise<boolean> {
    const payment = await this.getPaymentByHash(paymentHash);
    if (!payment || payment.status !== 'pending') return false;
    await this.journal.commit([{ c: PAYMENTS, id: payment.payment_id, doc: { ...payment, status: 'expired' } }]);
    return true;
  }

  async settlePayment(
    paymentHash: string,
    settledAt: string,
    preimage: string | null,
    event: Omit<EventRecord, 'seq'>,
    deliveries: Omit<DeliveryRecord, 'seq'>[],
    onVisible?: (settled: PaymentRecord, event: EventRecord) => void,
    marks: Pick<PaymentRecord, 'refund_due' | 'x402'> = {},
  ): Promise<SettleResult> {
    const id = this.paymentByHash.get(paymentHash);
    const payment = id === undefined ? undefined : this.journal.get<PaymentRecord>(PAYMENTS, id);
    if (!payment) return { missing: true };
    if (payment.status === 'settled') {
      await this.journal.sync();
      return { already: payment };
    }
    const staged = this.machines.stageEvent(event, deliveries);
    if ('duplicate' in staged) throw new Error(`payment ${payment.payment_id} is not settled but its event ${staged.duplicate.event_id} exists`);
    const settled: PaymentRecord = { ...payment, ...marks, status: 'settled', settled_at: settledAt, preimage, event_id: staged.stored.event_id };
    const durable = this.journal.commit([{ c: PAYMENTS, id: payment.payment_id, doc: settled }, ...staged.mutations]);
    // Applied (visible) now, unless the journal refused the commit outright (it has failed): then
    // nothing happened and nobody may hear of it. Durable when `durable` resolves.
    if (this.journal.get(PAYMENTS, payment.payment_id) === settled) onVisible?.(settled, staged.stored);
    await durable;
    return { settled, event: staged.stored };
  }

  async undeliveredPayments(userId: string, assetId?: string): Promise<PaymentRecord[]> {
    const ids = assetId === undefined ? this.undelivered.get(userId) : this.undeliveredByAsset.get(assetId);
    const out: PaymentRecord[] = [];
    for (const id of ids ?? []) {
      const payment = this.journal.get<PaymentRecord>(PAYMENTS, id) as PaymentRecord;
      if (payment.user_id === userId) out.push(payment);
    }
    return out;
  }

  async outboxDepth(): Promise<number> {
    let depth = 0;
    for (const ids of this.undelivered.values()) depth += ids.size;
    return depth;
  }

  async markDelivered(paymentId: string, at: string): Promise<boolean> {
    const payment = this.journal.get<PaymentRecord>(PAYMENTS, paymentId);
    if (!payment || payment.status !== 'settled' || payment.device_acked_at) return false;
    await this.journal.commit([{ c: PAYMENTS, id: paymentId, doc: { ...payment, device_acked_at: at } }]);
    return true;
  }

  durable(): Promise<void> {
    return this.journal.sync();
  }

  async getWallet(userId: string): Promise<WalletRecord | undefined> {
    return this.journal.get<WalletRecord>(WALLETS, userId);
  }

  async putWallet(wallet: WalletRecord): Promise<void> {
    await this.journal.commit([{ c: WALLETS, id: wallet.user_id, doc: wallet }]);
  }

  async deleteWallet(userId: string): Promise<void> {
    if (this.journal.get(WALLETS, userId) === undefined) return;
    await this.journal.commit([{ c: WALLETS, id: userId, delete: true }]);
  }

  async btcpayWallets(storeId: string): Promise<WalletRecord[]> {
    return [...(this.walletsByBtcpayStore.get(storeId) ?? [])].map((id) => this.journal.get<WalletRecord>(WALLETS, id) as WalletRecord);
  }

  async putDevInvoice(invoice: DevInvoiceRecord): Promise<void> {
    await this.journal.commit([{ c: DEV_INVOICES, id: invoice.payment_hash, doc: invoice }]);
  }

  async getDevInvoice(paymentHash: string): Promise<DevInvoiceRecord | undefined> {
    return this.journal.get<DevInvoiceRecord>(DEV_INVOICES, paymentHash);
  }
}

/** The BTCPay store a wallet record points at, if it is a BTCPay wallet. */
function btcpayStore(wallet: WalletRecord | undefined): string | undefined {
  return wallet?.backend === 'btcpay' ? wallet.settings['store_id'] : undefined;
}
