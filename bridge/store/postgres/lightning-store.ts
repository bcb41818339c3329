/**
 * The Lightning store on PostgreSQL. `settlePayment` is one statement: the UPDATE that settles the
 * payment only while it is not settled (a concurrent settler waits on the row lock, then finds it
 * settled and writes nothing), the `paid` event and its deliveries inserted only if that UPDATE
 * found the row. One link per asset and per name are unique constraints, reported as
 * `asset_linked` / `name_taken`. `onVisible` runs after COMMIT.
 */
import pg from 'pg';
import type { LightningStore, PutLinkResult, SettleResult } from '../../lightning/store.js';
import type { DevInvoiceRecord, PaymentLinkRecord, PaymentRecord, PaymentStatus, WalletRecord } from '../../lightning/types.js';
import type { PageResult, SeqPage } from '../../machines/store.js';
import type { DeliveryRecord, EventRecord } from '../../machines/types.js';
import { DELIVERY, DEV_INVOICE, EVENT, LINK, PAYMENT, PAYMENT_ROW, WALLET } from './columns.js';
import type { Database, Statement } from './database.js';
import { pagedStatement, toPage } from './paging.js';
import { columnList, fromRow, insert, placeholders, select, toParams, upsert, type Columns } from './rows.js';

const DELIVERY_COLS = columnList(DELIVERY);

const S = {
  getLink: select('links_get', 'SELECT * FROM payment_links WHERE link_id = $1'),
  linkByAsset: select('links_by_asset', 'SELECT * FROM payment_links WHERE asset_id = $1'),
  linkByName: select('links_by_name', 'SELECT * FROM payment_links WHERE name = $1'),
  primaryLink: select('links_primary', 'SELECT * FROM payment_links WHERE user_id = $1 ORDER BY "primary" DESC, pos LIMIT 1'),
  listLinks: select('links_list', 'SELECT * FROM payment_links WHERE user_id = $1 ORDER BY pos'),
  putLink: upsert('links_put', 'payment_links', LINK, 'link_id'),
  createPayment: insert('payments_create', 'payments', PAYMENT, 'seq'),
  getPayment: select('payments_get', 'SELECT * FROM payments WHERE payment_id = $1'),
  paymentByHash: select('payments_by_hash', 'SELECT * FROM payments WHERE payment_hash = $1'),
  pendingPayments: select('payments_pending', "SELECT * FROM payments WHERE status = 'pending' ORDER BY seq"),
  expirePayment: select('payments_expire', "UPDATE payments SET status = 'expired' WHERE payment_hash = $1 AND status = 'pending' RETURNING 1"),
  settlePayment: {
    name: 'payments_settle',
    text: `WITH p AS (
        UPDATE payments SET status = 'settled', settled_at = $2::timestamptz, preimage = $3::text, event_id = $4::text,
          refund_due = $${5 + Object.keys(EVENT).length}::boolean, x402 = COALESCE($${6 + Object.keys(EVENT).length}::jsonb, x402)
        WHERE payment_hash = $1::text AND status <> 'settled' RETURNING *
      ), e AS (
        INSERT INTO events (${columnList(EVENT)}) SELECT ${placeholders(EVENT, 4)}
        WHERE EXISTS (SELECT 1 FROM p) RETURNING seq
      ), d AS (
        INSERT INTO webhook_deliveries (${DELIVERY_COLS})
        SELECT ${DELIVERY_COLS} FROM jsonb_populate_recordset(NULL::webhook_deliveries, $${4 + Object.keys(EVENT).length}::jsonb)
        WHERE EXISTS (SELECT 1 FROM p)
      )
      SELECT p.*, e.seq AS event_seq FROM p CROSS JOIN e`,
  },
  undeliveredByUser: select(
    'payments_undelivered_user',
    "SELECT * FROM payments WHERE user_id = $1 AND status = 'settled' AND device_acked_at IS NULL AND refund_due IS NOT TRUE AND asset_id IS NOT NULL ORDER BY seq",
  ),
  undeliveredByAsset: select(
    'payments_undelivered_asset',
    "SELECT * FROM payments WHERE asset_id = $2 AND user_id = $1 AND status = 'settled' AND device_acked_at IS NULL AND refund_due IS NOT TRUE ORDER BY seq",
  ),
  outboxDepth: select(
    'payments_outbox_depth',
    "SELECT count(*) AS n FROM payments WHERE status = 'settled' AND device_acked_at IS NULL AND refund_due IS NOT TRUE AND asset_id IS NOT NULL",
  ),
  markDelivered: select(
    'payments_mark_delivered',
    "UPDATE payments SET device_acked_at = $2 WHERE payment_id = $1 AND status = 'settled' AND device_acked_at IS NULL RETURNING 1",
  ),
  getWallet: select('wallets_get', 'SELECT * FROM wallets WHERE user_id = $1'),
  putWallet: upsert('wallets_put', 'wallets', WALLET, 'user_id'),
  deleteWallet: select('wallets_delete', 'DELETE FROM wallets WHERE user_id = $1'),
  btcpayWallets: select('wallets_btcpay', "SELECT * FROM wallets WHERE backend = 'btcpay' AND settings ->> 'store_id' = $1"),
  putDevInvoice: upsert('dev_invoices_put', 'dev_invoices', DEV_INVOICE, 'payment_hash'),
  getDevInvoice: select('dev_invoices_get', 'SELECT * FROM dev_invoices WHERE payment_hash = $1'),
} satisfies Record<string, Statement>;

export class PostgresLightningStore implements LightningStore {
  private readonly db: Database;
  private readonly paymentPages = new Map<string, Statement>();

  constructor(db: Database) {
    this.db = db;
  }

  private async one<T>(statement: Statement, values: unknown[], columns: Columns): Promise<T | undefined> {
    const row = (await this.db.rows(statement, values))[0];
    return row === undefined ? undefined : fromRow<T>(row, columns);
  }

  private async all<T>(statement: Statement, values: unknown[], columns: Columns): Promise<T[]> {
    return (await this.db.rows(statement, values)).map((r) => fromRow<T>(r, columns));
  }

  getLink(linkId: string): Promise<PaymentLinkRecord | undefined> {
    return this.one(S.getLink, [linkId], LINK);
  }

  getLinkByAsset(assetId: string): Promise<PaymentLinkRecord | undefined> {
    return this.one(S.linkByAsset, [assetId], LINK);
  }

  getLinkByName(name: string): Promise<PaymentLinkRecord | undefined> {
    return this.one(S.linkByName, [name], LINK);
  }

  getPrimaryLink(userId: string): Promise<PaymentLinkRecord | undefined> {
    return this.one(S.primaryLink, [userId], LINK);
  }

  listLinks(userId: string): Promise<PaymentLinkRecord[]> {
    return this.all(S.listLinks, [userId], LINK);
  }

  async putLink(link: PaymentLinkRecord): Promise<PutLinkResult> {
    try {
      await this.db.rows(S.putLink, toParams(link, LINK));
      return 'stored';
    } catch (err) {
      if (err instanceof pg.DatabaseError && err.code === '23505') {
        if (err.constraint === 'payment_links_name_key') return 'name_taken';
        if (err.constraint === 'payment_links_asset_key') return 'asset_linked';
      }
      throw err;
    }
  }

  async createPayment(payment: Omit<PaymentRecord, 'seq'>): Promise<PaymentRecord> {
    const rows = await this.db.rows<{ seq: string }>(S.createPayment, toParams(payment, PAYMENT));
    return { ...payment, seq: Number((rows[0] as { seq: string }).seq) } as PaymentRecord;
  }

  getPayment(paymentId: string): Promise<PaymentRecord | undefined> {
    return this.one(S.getPayment, [paymentId], PAYMENT_ROW);
  }

  getPaymentByHash(paymentHash: string): Promise<PaymentRecord | undefined> {
    return this.one(S.paymentByHash, [paymentHash], PAYMENT_ROW);
  }

  async listPayments(assetId: string, page: SeqPage, status?: PaymentStatus): Promise<PageResult<PaymentRecord>> {
    const values: unknown[] = [assetId];
    if (status !== undefined) values.push(status);
    if (page.before !== undefined) values.push(page.before);
    values.push(page.limit + 1);
    const statement = pagedStatement(
      this.paymentPages,
      'payments',
      'asset_id',
      'payments_page',
      status === undefined ? [] : ['status ='],
      page.before !== undefined,
    );
    return toPage<PaymentRecord>(await this.db.rows(statement, values), PAYMENT_ROW, page.limit);
  }

  pendingPayments(): Promise<PaymentRecord[]> {
    return this.all(S.pendingPayments, [], PAYMENT_ROW);
  }

  async expirePayment(paymentHash: string): Promise<boolean> {
    return (await this.db.rows(S.expirePayment, [paymentHash])).length > 0;
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
    const rows = await this.db.rows(S.settlePayment, [
      paymentHash,
      settledAt,
      preimage,
      ...toParams(event, EVENT),
      JSON.stringify(deliveries),
      marks.refund_due === true ? true : null,
      marks.x402 ? JSON.stringify(marks.x402) : null,
    ]);
    const row = rows[0];
    if (!row) {
      const payment = await this.getPaymentByHash(paymentHash);
      return payment ? { already: payment } : { missing: true };
    }
    const settled = fromRow<PaymentRecord>(row, PAYMENT_ROW);
    const stored = { ...event, seq: Number(row['event_seq']) } as EventRecord;
    onVisible?.(settled, stored);
    return { settled, event: stored };
  }

  async undeliveredPayments(userId: string, assetId?: string): Promise<PaymentRecord[]> {
    return assetId === undefined ? this.all(S.undeliveredByUser, [userId], PAYMENT_ROW) : this.all(S.undeliveredByAsset, [userId, assetId], PAYMENT_ROW);
  }

  /** Settled payments no machine has acknowledged yet (the outbox), for the metrics. */
  async outboxDepth(): Promise<number> {
    return Number((await this.db.rows<{ n: string }>(S.outboxDepth, []))[0]?.n ?? 0);
  }

  async markDelivered(paymentId: string, at: string): Promise<boolean> {
    return (await this.db.rows(S.markDelivered, [paymentId, at])).length > 0;
  }

  /** Every write resolved only after its COMMIT: what is written is durable. */
  durable(): Promise<void> {
    return Promise.resolve();
  }

  getWallet(userId: string): Promise<WalletRecord | undefined> {
    return this.one(S.getWallet, [userId], WALLET);
  }

  async putWallet(wallet: WalletRecord): Promise<void> {
    await this.db.rows(S.putWallet, toParams(wallet, WALLET));
  }

  async deleteWallet(userId: string): Promise<void> {
    await this.db.rows(S.deleteWallet, [userId]);
  }

  btcpayWallets(storeId: string): Promise<WalletRecord[]> {
    return this.all(S.btcpayWallets, [storeId], WALLET);
  }

  async putDevInvoice(invoice: DevInvoiceRecord): Promise<void> {
    await this.db.rows(S.putDevInvoice, toParams(invoice, DEV_INVOICE));
  }

  getDevInvoice(paymentHash: string): Promise<DevInvoiceRecord | undefined> {
    return this.one(S.getDevInvoice, [paymentHash], DEV_INVOICE);
  }
}
