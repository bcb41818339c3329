/**
 * Turning "the backend says it is paid" into a settled payment, exactly once, and watching pending
 * invoices until they settle or expire. Settlement writes the payment and its `paid` event in one
 * step (the store decides who wins), then announces both: the event to webhooks, the payment on the
 * bus for the MQTT dispatcher. Backends that push (a BTCPay webhook, LND's invoice stream, the dev
 * node's settle call) report directly; the others are polled. The dev node is never polled: it marks
 * an invoice paid only once its settlement is durable, so a lookup could tell nothing new (a settle
 * call cut short by a restart is simply made again); its invoices are looked up only to expire them.
 */
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { EventBus } from '../events.js';
import type { EventLog } from '../machines/event-log.js';
import type { MachinesStore } from '../machines/store.js';
import type { Metrics } from '../metrics.js';
import { BackendHealth } from './backend-health.js';
import { provenPreimage } from './backends/invoice-check.js';
import type { LightningStore } from './store.js';
import type { PaymentRecord, X402PaymentFacts } from './types.js';
import type { Wallets } from './wallets.js';

export interface SettlementOptions {
  store: LightningStore;
  machines: MachinesStore;
  events: EventLog;
  bus: EventBus;
  wallets: Wallets;
  log: Logger;
  /** Counts settlements by rail. */
  metrics?: Metrics;
  /** How often pending invoices are looked up at their backend. */
  pollMs: number;
  /** How many lookups run at once. */
  concurrency?: number;
}

/**
 * What became of the transfer of an x402 payment recorded before it was sent: `settled` (with the
 * transaction that made it), `failed` (nothing was charged), or `waiting` (sent, no receipt yet).
 */
export type X402Transfer =
  | { state: 'settled'; transaction: string }
  | { state: 'failed' }
  /** `unsent`: the facilitator has not taken it (yet): nothing was sent. */
  | { state: 'waiting'; transaction?: string; unsent?: boolean };

export interface SettleOutcome {
  payment: PaymentRecord;
  /** False when it was already settled (a repeated report). */
  newly: boolean;
}

/** After its expiry, how long a payment whose backend cannot be reached stays pending before it is given up. */
const UNREACHABLE_GRACE_MS = 10 * 60_000;
/** Yield to the event loop after this many payments in one pass. */
const BATCH = 200;

export class Settlement {
  private readonly options: SettlementOptions;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly lastLookup = new Map<string, number>();
  private readonly health: BackendHealth;
  private x402Transfer: ((payment: PaymentRecord) => Promise<X402Transfer>) | undefined;

  constructor(options: SettlementOptions) {
    this.options = options;
    this.health = new BackendHealth(options.log);
  }

  start(): void {
    this.options.wallets.onSettled((hash, preimage) => {
      this.pushed(hash, preimage).catch((err: unknown) => this.options.log.error({ err, paymentHash: hash }, 'pushed settlement failed'));
    });
    const poll = () => {
      this.polling ??= this.poll().finally(() => {
        this.polling = undefined;
      });
    };
    poll();
    this.timer = setInterval(poll, this.options.pollMs);
    this.timer.unref();
  }

  /**
   * Where the poll learns what became of the transfers of pending x402 payments: the facilitator's
   * settlement ledger, through the x402 purchase route (bridge/x402/agents/purchase.ts).
   */
  watchX402Transfers(lookup: (payment: PaymentRecord) => Promise<X402Transfer>): void {
    this.x402Transfer = lookup;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    await this.options.wallets.stop();
  }

  /**
   * Record that an invoice was paid. Repeated and concurrent reports settle it once; every caller
   * returns only once the settlement is durable. A preimage, when given, must prove the payment.
   */
  async settle(paymentHash: string, preimage: string | null, facts?: X402PaymentFacts): Promise<SettleOutcome> {
    const { store, events, bus } = this.options;
    const payment = await store.getPaymentByHash(paymentHash);
    if (!payment) throw new AppError(404, 'payment_not_found', `No payment with hash ${paymentHash}`);
    if (payment.status === 'settled') {
      await store.durable();
      return { payment, newly: false };
    }
    const proof = preimage === null ? null : provenPreimage(preimage, paymentHash);
    if (preimage !== null && proof === null) throw new AppError(400, 'invalid_body', `That preimage does not hash to ${paymentHash}`);
    // An invoice handed out before its asset was deleted can still be paid: a wallet holds it, and a
    // real backend takes the money whatever the bridge thinks. Record the truth: settled, no machine
    // told to run (the asset is gone), and a refund owed, flagged on the payment and its `paid` event.
    // A purchase that runs no machine (a license) has no asset to have lost.
    const asset = payment.asset_id === null ? undefined : await this.options.machines.getAsset(payment.asset_id);
    const refundDue = payment.asset_id !== null && (!asset || asset.deleted_at !== null);
    const { event, deliveries } = await events.build(
      payment.user_id,
      {
        type: 'paid',
        asset_id: payment.asset_id,
        external_id: `${payment.rail}:${payment.payment_hash}`,
        data: {
          payment_id: payment.payment_id,
          amount_sats: payment.amount_sats,
          duration_ms: payment.duration_ms,
          rail: payment.rail,
          payment_hash: payment.payment_hash,
          comment: payment.comment,
          ...((facts ?? payment.x402) ? { x402: facts ?? payment.x402 } : {}),
          ...(payment.purchase ? { purchase: payment.purchase } : {}),
          ...(refundDue ? { refund_due: true, refund_reason: 'asset_deleted' } : {}),
        },
      },
      payment.rail === 'x402' ? 'x402' : payment.purchase ? 'license' : 'lightning',
    );
    // The machine hears of the payment as soon as it is settled in memory, a disk sync earlier than
    // the answer: MQTT delivery is at least once and de-duplicated by payment_id, and a settlement
    // cut off by a crash before its sync is found again at the backend and sent again.
    const result = await store.settlePayment(
      paymentHash,
      event.created,
      proof,
      event,
      deliveries,
      (settled, stored) => {
        if (!refundDue) bus.emit('payment.settled', { payment: settled, event: stored });
      },
      { ...(refundDue ? { refund_due: true } : {}), ...(facts ? { x402: facts } : {}) },
    );
    if ('missing' in result) throw new AppError(404, 'payment_not_found', `No payment with hash ${paymentHash}`);
    if ('already' in result) return { payment: result.already, newly: false };
    if (refundDue) {
      this.options.log.warn(
        { paymentId: payment.payment_id, assetId: payment.asset_id },
        'an invoice of a deleted asset was paid: recorded with refund_due, no machine told',
      );
    }
    const settled = result.settled;
    this.options.metrics?.paymentSettled(settled.rail);
    this.options.log.info(
      {
        paymentId: settled.payment_id,
        rail: settled.rail,
        assetId: settled.asset_id,
        amountSats: settled.amount_sats,
        userId: settled.user_id,
        backend: settled.backend,
      },
      'payment settled',
    );
    // Webhooks go out only for what is on disk.
    events.announce(result.event, deliveries);
    this.lastLookup.delete(paymentHash);
    return { payment: result.settled, newly: true };
  }

  /**
   * An x402 payment for a machine, recorded (pending) before its transfer is sent, keyed by its
   * authorization (`x402PaymentKey`): a crash while the transfer is on its way then loses nothing. The
   * poll settles it once the facilitator's ledger holds the transfer settled (see `watchX402Transfers`),
   * and expires it when the transfer failed. Resolves with the record (`created`), or the one already under
   * the key.
   */
  async recordX402Pending(input: {
    userId: string;
    assetId: string;
    durationMs: number;
    key: string;
    facts: X402PaymentFacts;
  }): Promise<{ payment: PaymentRecord; created: boolean }> {
    const { store } = this.options;
    const earlier = await store.getPaymentByHash(input.key);
    if (earlier) return { payment: earlier, created: false };
    const now = new Date().toISOString();
    try {
      const payment = await store.createPayment({
        payment_id: newId(),
        user_id: input.userId,
        asset_id: input.assetId,
        link_id: '',
        amount_sats: 0,
        duration_ms: input.durationMs,
        payment_hash: input.key,
        pr: '',
        status: 'pending',
        rail: 'x402',
        backend: 'evm',
        backend_ref: input.facts.transaction,
        wallet_version: '',
        comment: null,
        preimage: null,
        expires_at: now,
        created: now,
        settled_at: null,
        event_id: null,
        device_acked_at: null,
        x402: input.facts,
      });
      return { payment, created: true };
    } catch (err) {
      // A concurrent call with the same key made it first.
      const made = await store.getPaymentByHash(input.key);
      if (!made) throw err;
      return { payment: made, created: false };
    }
  }

  /**
   * Ask the backend about one pending payment now (LUD-21 verify calls this so a payer sees the
   * answer without waiting for the poll). At most once per `minIntervalMs` per payment.
   */
  async refresh(payment: PaymentRecord, minIntervalMs = 1000): Promise<PaymentRecord> {
    if (payment.status !== 'pending' || payment.backend === 'dev' || payment.backend === 'evm') return payment;
    const last = this.lastLookup.get(payment.payment_hash) ?? 0;
    if (Date.now() - last < minIntervalMs) return payment;
    return (await this.check(payment)) ?? payment;
  }

  /**
   * A settlement a backend pushed (LND's stream). Only a preimage that hashes to one of our payments
   * counts: a node shared with other apps reports their invoices too, and no wallet can settle another
   * account's payment without that payment's preimage.
   */
  private async pushed(paymentHash: string, preimage: string | null): Promise<void> {
    if (preimage === null || provenPreimage(preimage, paymentHash) === null) return;
    if (!(await this.options.store.getPaymentByHash(paymentHash))) {
      this.options.log.debug({ paymentHash }, 'pushed settlement of an invoice that is not ours');
      return;
    }
    await this.settle(paymentHash, preimage);
  }

  /**
   * One pass over pending payments: look up those due at polling backends, expire the stale. It never
   * rejects: nobody awaits a pass but stop(), and a store that failed fails the next pass too.
   */
  private async poll(): Promise<void> {
    const { store, log } = this.options;
    try {
      const pending = await store.pendingPayments();
      const now = Date.now();
      const due: PaymentRecord[] = [];
      for (const [i, payment] of pending.entries()) {
        // The dev node pushes every settlement through its settle call: it needs a look only when an
        // invoice runs out.
        if (payment.backend !== 'dev' || Date.parse(payment.expires_at) <= now) due.push(payment);
        // (An x402 payment waits for its transfer: check looks it up in the facilitator's ledger.)
        if (i % BATCH === BATCH - 1) await new Promise((resolve) => setImmediate(resolve));
      }
      const limit = this.options.concurrency ?? 8;
      let next = 0;
      const worker = async () => {
        while (next < due.length) {
          const payment = due[next++] as PaymentRecord;
          await this.check(payment)
            .catch((err: unknown) => this.unreachable(payment, err))
            // Giving it up is a store write, which fails when the store does.
            .catch((err: unknown) => log.error({ err, paymentId: payment.payment_id }, 'pending payment check failed'));
        }
      };
      await Promise.all(Array.from({ length: Math.min(limit, due.length) }, worker));
    } catch (err) {
      log.error({ err }, 'payment poll failed');
    }
  }

  /** Look a pending payment up at the wallet that made it: settle it, expire it, or leave it. */
  private async check(payment: PaymentRecord): Promise<PaymentRecord | undefined> {
    const { machines, wallets } = this.options;
    this.lastLookup.set(payment.payment_hash, Date.now());
    if (payment.backend === 'evm') return this.checkX402(payment);
    const account = await machines.getAccount(payment.user_id);
    if (!account) return undefined;
    const expired = Date.parse(payment.expires_at) <= Date.now();
    // An invoice can only be looked up where it was made; after a wallet change it just runs out.
    if (payment.wallet_version !== undefined && payment.wallet_version !== (await wallets.versionFor(account.user_id))) {
      return expired ? this.expire(payment) : undefined;
    }
    const backend = await wallets.backendFor(account);
    if (backend.kind !== payment.backend) return expired ? this.expire(payment) : undefined;
    const wallet = payment.wallet_version ?? 'server';
    let state;
    try {
      state = await backend.lookupInvoice(payment.payment_hash, payment.backend_ref);
    } catch (err) {
      this.health.failed(backend.kind, wallet, err);
      throw err;
    }
    this.health.answered(backend.kind, wallet);
    if (state.settled) return (await this.settle(payment.payment_hash, state.preimage)).payment;
    if (state.dead || expired) return this.expire(payment);
    return undefined;
  }

  /**
   * An x402 payment recorded before its transfer was sent: settled when the facilitator's ledger holds the
   * transfer settled, expired when it failed (nothing was charged), left alone while it waits. One recorded
   * before nonces were kept was written only once its transfer was on chain: a crash cut off its settlement.
   */
  private async checkX402(payment: PaymentRecord): Promise<PaymentRecord | undefined> {
    const facts = payment.x402;
    if (facts && facts.nonce === undefined && facts.transaction !== '') return (await this.settle(payment.payment_hash, null)).payment;
    if (!facts || !this.x402Transfer) return undefined;
    const transfer = await this.x402Transfer(payment);
    if (transfer.state === 'settled') return (await this.settle(payment.payment_hash, null, { ...facts, transaction: transfer.transaction })).payment;
    if (transfer.state === 'failed') return this.expire(payment);
    return undefined;
  }

  private async expire(payment: PaymentRecord): Promise<PaymentRecord | undefined> {
    if (await this.options.store.expirePayment(payment.payment_hash)) this.lastLookup.delete(payment.payment_hash);
    return this.options.store.getPaymentByHash(payment.payment_hash);
  }

  /** A lookup failed. Once the invoice is long past its expiry, nobody can pay it: give it up. */
  private async unreachable(payment: PaymentRecord, err: unknown): Promise<void> {
    // Once per outage at warn (BackendHealth); each failed lookup only at debug.
    this.options.log.debug({ err: (err as Error).message, paymentId: payment.payment_id }, 'invoice lookup failed');
    // An x402 transfer may have moved the money: only its ledger row may give it up.
    if (payment.backend !== 'evm' && Date.parse(payment.expires_at) + UNREACHABLE_GRACE_MS <= Date.now()) {
      this.options.log.warn({ paymentId: payment.payment_id }, 'giving up on an invoice whose backend cannot be reached long after its expiry');
      await this.expire(payment);
    }
  }
}
