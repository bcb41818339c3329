/**
 * The dispatcher: the one place that speaks the MQTT contract for the bridge. It turns each "payment
 * settled" into a QoS 1 message on the asset's `payment` topic and keeps the payment in the outbox
 * until the machine acknowledges it, by reporting it (an `action` carrying its `payment_id`) or, on a
 * persistent session, by its PUBACK; a machine that subscribes later, or after a restart, is sent
 * every recent payment it has not acknowledged. It stores `action` messages as events (before the
 * machine's PUBACK, so a report is never lost), answers `license/request`,
 * follows `status` for the online state, turns `trigger` into a manual `action/set`, and keeps
 * `paywire/bridge/state` retained. A bad message is stored as an `error` event, never a crash.
 * Every message (wills too) counts against its login's rate limit, except reports of payments still
 * in the outbox; over it a message is refused (the broker closes the connection). A retained message
 * is refused unless its asset is a live asset of the account, and a deleted asset's retained topics
 * are cleared: only real assets hold retained messages.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ClientIdentity } from '../../broker/acl.js';
import type { Broker, MessageFlags } from '../../broker/broker.js';
import { MessageRefused, Refusals, type RefusalReason } from '../../broker/refusals.js';
import {
  actionMessage,
  assetTopic,
  BRIDGE_STATE_TOPIC,
  licenseRequestMessage,
  MAX_DEVICE_PAYLOAD_BYTES,
  parseAssetTopic,
  statusMessage,
  TOPIC_SPECS,
  topicMatches,
  type ActionSetMessage,
  type AssetTopic,
  type LicenseMessage,
  type LicenseRequestMessage,
  type PaymentMessage,
  type TopicPayloads,
} from '../../broker/topics.js';
import { AppError } from '../errors.js';
import type { EventBus } from '../events.js';
import { escapeUnshowable, jsonTextProblem, textProblem } from '../http/text.js';
import { describeIssues } from '../http/validate.js';
import { RateLimiter } from '../http/rate-limit.js';
import { newId } from '../ids.js';
import type { LightningStore } from '../lightning/store.js';
import type { PaymentRecord } from '../lightning/types.js';
import type { EventLog } from '../machines/event-log.js';
import type { MachinesStore } from '../machines/store.js';
import type { AssetRecord } from '../machines/types.js';
import type { Metrics } from '../metrics.js';
import type { DeviceStates } from './state.js';

/** Answers a device's license check; until the license server exists, nobody does. */
export type LicenseAnswerer = (userId: string, assetId: string, request: LicenseRequestMessage) => Promise<LicenseMessage>;

export interface DispatcherOptions {
  broker: Broker;
  bus: EventBus;
  payments: LightningStore;
  events: EventLog;
  machines: MachinesStore;
  states: DeviceStates;
  log: Logger;
  /** Messages per minute each credential may send (0 = unlimited). */
  messagesPerMinute: number;
  /** How far back undelivered payments are sent again to a machine that subscribes. */
  replayWindowMs: number;
  license?: LicenseAnswerer;
  /** Where refused messages are counted, and each payment timed from its settlement to its publish (the bridge's metrics). */
  metrics?: Metrics;
}

/** Topics whose retained messages come from devices and the bridge's answers; `stats` is the Home Assistant component's. */
const RETAINED_ASSET_TOPICS = ['status', 'license'] as const;

/** At most this many payments are sent again to one subscription. */
const MAX_REPLAY = 1_000;
/** At most this many `error` events per asset per minute from bad messages: a broken device cannot flood the log. */
const ERROR_EVENTS_PER_MINUTE = 10;

export class Dispatcher {
  private readonly o: DispatcherOptions;
  private readonly messageLimiter: RateLimiter;
  private readonly errorLimiter = new RateLimiter(ERROR_EVENTS_PER_MINUTE, 60_000);
  private readonly refusals: Refusals;

  constructor(options: DispatcherOptions) {
    this.o = options;
    this.messageLimiter = new RateLimiter(options.messagesPerMinute, 60_000);
    this.refusals = new Refusals(options.log, options.metrics);
  }

  async start(): Promise<void> {
    const { broker, bus } = this.o;
    broker.attach({
      accept: (identity, topic, payload, _clientId, message) => this.accept(identity, topic, payload, message),
      subscribed: (identity, filters, clientId) => void this.replay(identity, filters, clientId).catch((err: unknown) => this.failed(err, 'subscribe')),
      acked: (identity, topic, payload) => void this.onAck(identity, topic, payload).catch((err: unknown) => this.failed(err, topic)),
      connected: (identity) => {
        if (identity.assetId !== undefined) void this.o.states.connection(identity.userId, identity.assetId, true);
      },
      disconnected: (identity) => {
        if (identity.assetId !== undefined) void this.o.states.connection(identity.userId, identity.assetId, false);
      },
    });
    bus.on('payment.settled', this, ({ payment }) => this.publishPayment(payment));
    bus.on('credential.revoked', this, ({ credentialId }) => broker.drop(credentialId));
    bus.on('asset.changed', this, ({ asset, deleted }) => (deleted ? this.clearRetained(asset).catch((err: unknown) => this.failed(err, 'asset deleted')) : undefined));
    await broker.publish(BRIDGE_STATE_TOPIC, 'online', { qos: 1, retain: true });
  }

  async stop(): Promise<void> {
    this.o.bus.off(this);
    // From here on the broker refuses client messages: nothing is acknowledged that is not stored.
    this.o.broker.attach({});
    await this.o.broker.publish(BRIDGE_STATE_TOPIC, 'offline', { qos: 1, retain: true }).catch(() => undefined);
  }

  /** The manual trigger (`POST /api/v1/assets/{id}/trigger`, or a `trigger` message): run without a payment. */
  async trigger(userId: string, assetId: string, durationMs: number, reason: string): Promise<ActionSetMessage> {
    const message: ActionSetMessage = { trigger_id: newId(), duration_ms: durationMs, reason };
    await this.send(userId, assetId, 'action/set', message);
    this.o.log.info({ userId, assetId, triggerId: message.trigger_id, durationMs, reason }, 'trigger sent');
    return message;
  }

  /** [MQTT-3.3.1-10] a zero-byte retained message removes the retained one: a deleted asset's topics keep nothing. */
  private async clearRetained(asset: AssetRecord): Promise<void> {
    for (const topic of RETAINED_ASSET_TOPICS) {
      await this.o.broker.publish(assetTopic(asset.user_id, asset.asset_id, topic), Buffer.alloc(0), { qos: TOPIC_SPECS[topic].qos, retain: true });
    }
  }

  /** Called by the bus as the settlement is announced: the time to publish is the settle→publish latency. */
  private async publishPayment(payment: PaymentRecord): Promise<void> {
    const started = performance.now();
    await this.send(payment.user_id, payment.asset_id, 'payment', paymentMessage(payment));
    this.o.metrics?.paymentPublished((performance.now() - started) / 1000);
  }

  private send<T extends AssetTopic>(userId: string, assetId: string, topic: T, payload: TopicPayloads[T]): Promise<void> {
    const spec = TOPIC_SPECS[topic];
    return this.o.broker.publish(assetTopic(userId, assetId, topic), JSON.stringify(payload), { qos: spec.qos, retain: spec.retain });
  }

  /**
   * A client subscribed: send every recent payment of its account that its filters cover and no
   * device acknowledged (payments older than the replay window stay in the payments list only).
   */
  private async replay(identity: ClientIdentity, filters: string[], clientId: string): Promise<void> {
    // Only filters that can cover a payment topic cost a look at the outbox (most subscriptions are
    // to other topics, or to the bridge state). A read-only client never acknowledges, so it is not
    // the machine a replay is for.
    if (identity.scope !== 'full' || !filters.some((f) => f.endsWith('/payment') || f.endsWith('/#') || f.endsWith('/+'))) return;
    // Each replay costs a scan of the outbox: it counts as a message against the login's rate limit,
    // so a client subscribing in a loop cannot keep the bridge busy (it gets its replay once it slows down).
    if (!this.messageLimiter.take(identity.credentialId).allowed) {
      this.o.log.debug({ credentialId: identity.credentialId }, 'replay skipped: over the rate limit');
      return;
    }
    const since = new Date(Date.now() - this.o.replayWindowMs).toISOString();
    const covers = (p: PaymentRecord) => filters.some((f) => topicMatches(f, assetTopic(p.user_id, p.asset_id, 'payment')));
    let sent = 0;
    for (const payment of await this.o.payments.undeliveredPayments(identity.userId, identity.assetId)) {
      if (sent >= MAX_REPLAY) break;
      // ISO 8601 UTC timestamps compare as strings.
      if ((payment.settled_at ?? payment.created) < since) continue;
      if (covers(payment)) {
        // To the subscriber only: others of the account already had their chance.
        await this.o.broker.publishTo(clientId, assetTopic(payment.user_id, payment.asset_id, 'payment'), JSON.stringify(paymentMessage(payment)), {
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
  private async onAck(identity: ClientIdentity, topic: string, payload: Buffer): Promise<void> {
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
  private async isPaymentReport(topic: AssetTopic, userId: string, assetId: string, payload: Buffer): Promise<boolean> {
    if (topic !== 'action' || payload.length > MAX_DEVICE_PAYLOAD_BYTES) return false;
    const paymentId = paymentIdOf(payload);
    if (paymentId === undefined) return false;
    const payment = await this.o.payments.getPayment(paymentId);
    return payment !== undefined && payment.user_id === userId && payment.asset_id === assetId && payment.device_acked_at === null;
  }

  /** The payment reached its machine: it leaves the outbox and is never sent again. */
  private async delivered(userId: string, assetId: string, paymentId: string): Promise<void> {
    const payment = await this.o.payments.getPayment(paymentId);
    if (payment && payment.user_id === userId && payment.asset_id === assetId) {
      await this.o.payments.markDelivered(paymentId, new Date().toISOString());
    }
  }

  /**
   * Take a machine's message before it is acknowledged. What the machine got wrong is recorded and
   * the message accepted; only a failure to store (a reason to send it again) refuses it.
   */
  private async accept(identity: ClientIdentity, topic: string, payload: Buffer, message: MessageFlags): Promise<void> {
    try {
      await this.onMessage(identity, topic, payload, message);
    } catch (err) {
      if (err instanceof AppError && err.status < 500) {
        this.o.log.debug({ topic, err: err.message }, 'message not taken');
        return;
      }
      throw err;
    }
  }

  private async onMessage(identity: ClientIdentity, topic: string, payload: Buffer, message: MessageFlags): Promise<void> {
    const parsed = parseAssetTopic(topic);
    if (!parsed) return;
    const { userId, assetId } = parsed;
    // Every message counts, whatever its topic or asset, wills too.
    const within = (await this.isPaymentReport(parsed.topic, userId, assetId, payload)) || this.messageLimiter.take(identity.credentialId).allowed;
    // Refused, not dropped: the broker closes the connection without a PUBACK, so nothing the
    // machine was told was received is lost; it sends again when it reconnects. A will cannot be sent
    // again: a will's status (the machine's last word on its own topic) is taken, and not stored.
    if (!within && !(message.will && parsed.topic === 'status')) this.refuse('rate_limited', identity, topic, message);
    const asset = await this.o.machines.getAsset(assetId);
    // The ACL already confines clients to their account; an asset that is not (or no longer) theirs is ignored.
    if (!asset || asset.user_id !== userId || asset.deleted_at !== null) {
      // [MQTT-3.3.1-5] Aedes would keep a retained message for every future subscriber: only real assets hold one.
      if (message.retain) this.refuse('retained_unknown_asset', identity, topic, message);
      this.o.log.debug({ topic }, 'message for an unknown asset ignored');
      return;
    }
    this.o.states.heard(userId, assetId);
    if (payload.length > MAX_DEVICE_PAYLOAD_BYTES) {
      await this.badMessage(userId, assetId, topic, `payload of ${payload.length} bytes is over the ${MAX_DEVICE_PAYLOAD_BYTES}-byte limit`, payload);
      return;
    }
    switch (parsed.topic) {
      case 'status': {
        const text = payload.toString('utf8').trim().replace(/^"(.*)"$/, '$1');
        const status = statusMessage.safeParse(text.toLowerCase());
        if (!status.success) return this.badMessage(userId, assetId, topic, 'status must be "online" or "offline"', payload);
        await this.o.states.status(userId, assetId, status.data === 'online', within);
        return;
      }
      case 'action': {
        const message = this.json(payload, actionMessage);
        if ('problem' in message) return this.badMessage(userId, assetId, topic, message.problem, payload);
        const { type, external_id, payment_id, data } = message.value;
        // What a machine reports reaches dashboards and webhooks as the HTTP API's events do: the same text rules.
        const idProblem = external_id === undefined ? undefined : textProblem(external_id, 'line');
        if (idProblem !== undefined) return this.badMessage(userId, assetId, topic, `external_id: ${idProblem}`, payload);
        const dataProblem = data === undefined ? undefined : jsonTextProblem(data);
        if (dataProblem !== undefined) return this.badMessage(userId, assetId, topic, `data${dataProblem.path.map((p) => `.${p}`).join('')}: ${dataProblem.problem}`, payload);
        await this.o.events.append(
          userId,
          { type, asset_id: assetId, external_id: external_id ?? null, data: payment_id === undefined ? (data ?? null) : { ...data, payment_id } },
          'mqtt',
        );
        // Reporting a payment is how a machine acknowledges it (works for clean sessions too).
        if (payment_id !== undefined) await this.delivered(userId, assetId, payment_id);
        return;
      }
      case 'license/request': {
        const message = this.json(payload, licenseRequestMessage);
        if ('problem' in message) return this.badMessage(userId, assetId, topic, message.problem, payload);
        const answer = this.o.license
          ? await this.o.license(userId, assetId, message.value)
          : { request_id: message.value.request_id, ok: false as const, reason: 'not_available', message: 'This bridge has no license server yet' };
        await this.send(userId, assetId, 'license', answer);
        return;
      }
      case 'trigger':
        await this.trigger(userId, assetId, asset.duration_ms, 'mqtt trigger');
        return;
      default:
        return;
    }
  }

  private json<S extends z.ZodType>(payload: Buffer, schema: S): { value: z.output<S> } | { problem: string } {
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch {
      return { problem: 'payload is not JSON' };
    }
    const result = schema.safeParse(value);
    if (result.success) return { value: result.data };
    return { problem: describeIssues(result.error.issues).map((p) => `${p.field}: ${p.problem}`).join('; ') };
  }

  /** A message the contract does not allow: an `error` event for the asset, rate limited. */
  private async badMessage(userId: string, assetId: string, topic: string, problem: string, payload: Buffer): Promise<void> {
    if (!this.errorLimiter.take(assetId).allowed) return;
    // The excerpt quotes what the machine sent with the characters no display may get escaped, cut to
    // 256 characters without splitting a surrogate pair.
    let excerpt = escapeUnshowable(payload.toString('utf8', 0, Math.min(payload.length, 256)));
    if (excerpt.length > 256) excerpt = excerpt.slice(0, /[\ud800-\udbff]/.test(excerpt.charAt(255)) ? 255 : 256);
    await this.o.events.append(
      userId,
      { type: 'error', asset_id: assetId, data: { source: 'mqtt', topic, problem, payload: excerpt } },
      'mqtt',
    );
  }

  /** Refuse a message: counted, logged (rate limited), and the broker closes the sender's connection. */
  private refuse(reason: RefusalReason, identity: ClientIdentity, topic: string, message: MessageFlags): never {
    this.refusals.refuse(reason, { userId: identity.userId, credentialId: identity.credentialId, topic, will: message.will });
    throw new MessageRefused(reason);
  }

  private failed(err: unknown, topic: string): void {
    this.o.log.error({ err, topic }, 'mqtt dispatch failed');
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

function paymentMessage(payment: PaymentRecord): PaymentMessage {
  return {
    payment_id: payment.payment_id,
    asset_id: payment.asset_id,
    amount_sats: payment.amount_sats,
    rail: payment.rail,
    duration_ms: payment.duration_ms,
    paid_at: payment.settled_at ?? payment.created,
  };
}
