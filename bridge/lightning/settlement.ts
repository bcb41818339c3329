/**
 * Turning "the backend says it is paid" into a settled payment, exactly once, and watching pending
 * invoices until they settle or expire. Settlement writes the payment and its `paid` event in one
 * step (the store decides who wins), then announces both: the event to webhooks, the payment on the
 * bus for the MQTT dispatcher. Backends that push (a BTCPay webhook, LND's invoice stream, the dev
 * node) call `settle` directly; the others are polled.
 */
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { EventLog } from '../machines/event-log.js';
import type { MachinesStore } from '../machines/store.js';
import type { LightningStore } from './store.js';
import type { PaymentRecord } from './types.js';
import type { Wallets } from './wallets.js';

export interface SettlementOptions {
  store: LightningStore;
  machines: MachinesStore;
  events: EventLog;
  bus: EventBus;
  wallets: Wallets;
  log: Logger;
  /** How often pending invoices are looked up at their backend. */
  pollMs: number;
  /** How many lookups run at once. */
  concurrency?: number;
}

export interface SettleOutcome {
  payment: PaymentRecord;
  /** False when it was already settled (a repeated report). */
  newly: boolean;
}

export class Settlement {
  private readonly options: SettlementOptions;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly lastLookup = new Map<string, number>();

  constructor(options: SettlementOptions) {
    this.options = options;
  }

  start(): void {
    this.options.wallets.onSettled((hash, preimage) => {
      this.settle(hash, preimage).catch((err: unknown) => this.options.log.error({ err, paymentHash: hash }, 'pushed settlement failed'));
    });
    this.timer = setInterval(() => {
      this.polling ??= this.poll().finally(() => {
        this.polling = undefined;
      });
    }, this.options.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    await this.options.wallets.stop();
  }

  /** Record that an invoice was paid. Repeated and concurrent reports settle it once. */
  async settle(paymentHash: string, preimage: string | null): Promise<SettleOutcome> {
    const { store, events, bus } = this.options;
    const payment = await store.getPaymentByHash(paymentHash);
    if (!payment) throw new AppError(404, 'payment_not_found', `No payment with hash ${paymentHash}`);
    if (payment.status === 'settled') return { payment, newly: false };
    const { event, deliveries } = await events.build(
      payment.user_id,
      {
        type: 'paid',
        asset_id: payment.asset_id,
        external_id: `lightning:${payment.payment_hash}`,
        data: {
          payment_id: payment.payment_id,
          amount_sats: payment.amount_sats,
          duration_ms: payment.duration_ms,
          rail: payment.rail,
          payment_hash: payment.payment_hash,
          comment: payment.comment,
        },
      },
      'lightning',
    );
    const result = await store.settlePayment(paymentHash, event.created, preimage, event, deliveries);
    if ('missing' in result) throw new AppError(404, 'payment_not_found', `No payment with hash ${paymentHash}`);
    if ('already' in result) return { payment: result.already, newly: false };
    events.announce(result.event, deliveries);
    bus.emit('payment.settled', { payment: result.settled, event: result.event });
    this.lastLookup.delete(paymentHash);
    return { payment: result.settled, newly: true };
  }

  /**
   * Ask the backend about one pending payment now (LUD-21 verify calls this so a payer sees the
   * answer without waiting for the poll). At most once per `minIntervalMs` per payment.
   */
  async refresh(payment: PaymentRecord, minIntervalMs = 1000): Promise<PaymentRecord> {
    if (payment.status !== 'pending') return payment;
    const last = this.lastLookup.get(payment.payment_hash) ?? 0;
    if (Date.now() - last < minIntervalMs) return payment;
    return (await this.check(payment)) ?? payment;
  }

  /** One pass over every pending payment. */
  private async poll(): Promise<void> {
    const pending = await this.options.store.pendingPayments();
    const limit = this.options.concurrency ?? 8;
    let next = 0;
    const worker = async () => {
      while (next < pending.length) {
        const payment = pending[next++] as PaymentRecord;
        await this.check(payment).catch((err: unknown) =>
          this.options.log.warn({ err: (err as Error).message, paymentId: payment.payment_id }, 'invoice lookup failed'),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, pending.length) }, worker));
  }

  /** Look a pending payment up at its backend: settle it, expire it, or leave it. */
  private async check(payment: PaymentRecord): Promise<PaymentRecord | undefined> {
    const { machines, wallets, store } = this.options;
    this.lastLookup.set(payment.payment_hash, Date.now());
    const account = await machines.getAccount(payment.user_id);
    if (!account) return undefined;
    const backend = await wallets.backendFor(account);
    // An invoice can only be looked up where it was made; after a wallet change it just runs out.
    if (backend.kind !== payment.backend) {
      if (Date.parse(payment.expires_at) <= Date.now()) await store.expirePayment(payment.payment_hash);
      return undefined;
    }
    const state = await backend.lookupInvoice(payment.payment_hash, payment.backend_ref);
    if (state.settled) return (await this.settle(payment.payment_hash, state.preimage)).payment;
    const expired = Date.parse(payment.expires_at) <= Date.now();
    if (state.dead || expired) {
      if (await store.expirePayment(payment.payment_hash)) this.lastLookup.delete(payment.payment_hash);
      return store.getPaymentByHash(payment.payment_hash);
    }
    return undefined;
  }
}
