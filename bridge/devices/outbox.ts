/**
 * The payments outbox. Each "payment settled" becomes a QoS 1 message on the asset's `payment` topic,
 * and the payment stays in the outbox until the machine acknowledges it: by reporting it (an `action`
 * carrying its `payment_id`) or, on a persistent session, by its PUBACK. A machine that subscribes
 * later, or after a restart, is sent every recent payment it has not acknowledged. Rate limits are the
 * dispatcher's: it asks `coversPayments` before charging a subscription for a replay.
 */
import type { ClientIdentity } from '../../broker/acl.js';
import type { Broker } from '../../broker/broker.js';
import { assetTopic, MAX_DEVICE_PAYLOAD_BYTES, parseAssetTopic, topicMatches, type AssetTopic, type PaymentMessage } from '../../broker/topics.js';
import type { LightningStore } from '../lightning/store.js';
import { runsMachine, type MachinePayment, type PaymentRecord } from '../lightning/types.js';
import type { Metrics } from '../metrics.js';
import { sendToAsset } from './publish.js';

export interface OutboxOptions {
  broker: Broker;
  payments: LightningStore;
  /** How far back undelivered payments are sent again to a machine that subscribes. */
  replayWindowMs: number;
  /** Where each payment is timed from its settlement to its publish (the bridge's metrics). */
  metrics?: Metrics | undefined;
}

/** At most this many payments are sent again to one subscription. */
const MAX_REPLAY = 1_000;

export class PaymentOutbox {
  private readonly options: OutboxOptions;

  constructor(options: OutboxOptions) {
    this.options = options;
  }

  /** Called by the bus as the settlement is announced: the time to publish is the settle→publish latency. */
  async publish(payment: PaymentRecord): Promise<void> {
    // A purchase that runs no machine (a license) has no device to tell.
    if (!runsMachine(payment)) return;
    const started = performance.now();
    await sendToAsset(this.options.broker, payment.user_id, payment.asset_id, 'payment', paymentMessage(payment));
    this.options.metrics?.paymentPublished((performance.now() - started) / 1000);
  }

  /**
   * Whether a subscription may be owed a replay. Only filters that can cover a payment topic cost a
   * look at the outbox (most subscriptions are to other topics, or to the bridge state). A read-only
   * client never acknowledges, so it is not the machine a replay is for.
   */
  coversPayments(identity: ClientIdentity, filters: string[]): boolean {
    return identity.scope === 'full' && filters.some((f) => f.endsWith('/payment') || f.endsWith('/#') || f.endsWith('/+'));
  }

  /**
   * A client subscribed: send every recent payment of its account that its filters cover and no
   * device acknowledged (payments older than the replay window stay in the payments list only).
   */
  async replay(identity: ClientIdentity, filters: string[], clientId: string): Promise<void> {
    const since = new Date(Date.now() - this.options.replayWindowMs).toISOString();
    const covers = (p: MachinePayment) => filters.some((f) => topicMatches(f, assetTopic(p.user_id, p.asset_id, 'payment')));
    let sent = 0;
    for (const payment of await this.options.payments.undeliveredPayments(identity.userId, identity.assetId)) {
      if (sent >= MAX_REPLAY) break;
      // ISO 8601 UTC timestamps compare as strings.
      if ((payment.settled_at ?? payment.created) < since || !runsMachine(payment)) continue;
      if (covers(payment)) {
        // To the subscriber only: others of the account already had their chance.
        await this.options.broker.publishTo(clientId, assetTopic(payment.user_id, payment.asset_id, 'payment'), JSON.stringify(paymentMessage(payment)), {
          qos: 1,
          retain: false,
        });
        sent += 1;
      }
    }
  }

  /**
   * A persistent-session client acknowledged (PUBACK) a payment message. Only a client that could
   * be the machine counts: a read-only key (a dashboard watching) never acknowledges for it.
   */
  async acked(identity: ClientIdentity, topic: string, payload: Buffer): Promise<void> {
    const parsed = parseAssetTopic(topic);
    if (!parsed || parsed.topic !== 'payment' || parsed.userId !== identity.userId || identity.scope !== 'full') return;
    if (identity.assetId !== undefined && identity.assetId !== parsed.assetId) return;
    const paymentId = paymentIdOf(payload);
    if (paymentId !== undefined) await this.delivered(identity.userId, parsed.assetId, paymentId);
  }

  /**
   * A report of a payment still in the outbox: a machine catching up after a long time away may send
   * many at once, and they are bounded by the payments themselves, so the rate limit does not apply.
   */
  async isPaymentReport(topic: AssetTopic, userId: string, assetId: string, payload: Buffer): Promise<boolean> {
    if (topic !== 'action' || payload.length > MAX_DEVICE_PAYLOAD_BYTES) return false;
    const paymentId = paymentIdOf(payload);
    if (paymentId === undefined) return false;
    const payment = await this.options.payments.getPayment(paymentId);
    return payment !== undefined && payment.user_id === userId && payment.asset_id === assetId && payment.device_acked_at === null;
  }

  /** The payment reached its machine: it leaves the outbox and is never sent again. */
  async delivered(userId: string, assetId: string, paymentId: string): Promise<void> {
    const payment = await this.options.payments.getPayment(paymentId);
    if (payment && payment.user_id === userId && payment.asset_id === assetId) {
      await this.options.payments.markDelivered(paymentId, new Date().toISOString());
    }
  }
}

/** The `payment_id` of a JSON payload that has one. */
function paymentIdOf(payload: Buffer): string | undefined {
  try {
    const id = (JSON.parse(payload.toString('utf8')) as { payment_id?: unknown } | null)?.payment_id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function paymentMessage(payment: MachinePayment): PaymentMessage {
  return {
    payment_id: payment.payment_id,
    asset_id: payment.asset_id,
    amount_sats: payment.amount_sats,
    rail: payment.rail,
    duration_ms: payment.duration_ms,
    paid_at: payment.settled_at ?? payment.created,
  };
}
