/**
 * The dispatcher: the one place that speaks the MQTT contract for the bridge. It routes what the
 * broker reports: settled payments, subscriptions and acknowledgements to the payments outbox
 * (`outbox.ts`), and each machine's message to its topic's handler (`handlers/`: `action`,
 * `license/request`, `status`, `trigger`); it keeps `paywire/bridge/state` retained. A bad message is
 * stored as an `error` event, never a crash.
 * The limits are all here: every message (wills too) counts against its login's rate limit, except
 * reports of payments still in the outbox, and so does each replay a subscription asks for; over it a
 * message is refused (the broker closes the connection). A retained message is refused unless its
 * asset is a live asset of the account, and a deleted asset's retained topics are cleared: only real
 * assets hold retained messages.
 */
import type { Logger } from 'pino';
import type { ClientIdentity } from '../../broker/acl.js';
import type { Broker, MessageFlags } from '../../broker/broker.js';
import { MessageRefused, Refusals, type RefusalReason } from '../../broker/refusals.js';
import {
  assetTopic,
  BRIDGE_STATE_TOPIC,
  MAX_DEVICE_PAYLOAD_BYTES,
  parseAssetTopic,
  TOPIC_SPECS,
  type ActionSetMessage,
  type AssetTopic,
} from '../../broker/topics.js';
import { AppError } from '../errors.js';
import type { EventBus } from '../events.js';
import { escapeUnshowable } from '../http/text.js';
import { RateLimiter } from '../http/rate-limit.js';
import type { LightningStore } from '../lightning/store.js';
import type { EventLog } from '../machines/event-log.js';
import type { MachinesStore } from '../machines/store.js';
import type { AssetRecord } from '../machines/types.js';
import type { Metrics } from '../metrics.js';
import { actionHandler } from './handlers/action.js';
import { licenseRequestHandler, type LicenseAnswerer } from './handlers/license-request.js';
import type { TopicHandler } from './handlers/message.js';
import { statusHandler } from './handlers/status.js';
import { sendTrigger, triggerHandler } from './handlers/trigger.js';
import { PaymentOutbox } from './outbox.js';
import type { DeviceStates } from './state.js';

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

/** At most this many `error` events per asset per minute from bad messages: a broken device cannot flood the log. */
const ERROR_EVENTS_PER_MINUTE = 10;

export class Dispatcher {
  private readonly options: DispatcherOptions;
  private readonly messageLimiter: RateLimiter;
  private readonly errorLimiter = new RateLimiter(ERROR_EVENTS_PER_MINUTE, 60_000);
  private readonly refusals: Refusals;
  private readonly outbox: PaymentOutbox;
  private readonly handlers: Partial<Record<AssetTopic, TopicHandler>>;

  constructor(options: DispatcherOptions) {
    this.options = options;
    this.messageLimiter = new RateLimiter(options.messagesPerMinute, 60_000);
    this.refusals = new Refusals(options.log, options.metrics);
    const { broker, log } = options;
    this.outbox = new PaymentOutbox({ broker, payments: options.payments, replayWindowMs: options.replayWindowMs, metrics: options.metrics });
    this.handlers = {
      status: statusHandler({ states: options.states }),
      action: actionHandler({ events: options.events, outbox: this.outbox }),
      'license/request': licenseRequestHandler({ broker, license: options.license }),
      trigger: triggerHandler({ broker, log }),
    };
  }

  async start(): Promise<void> {
    const { broker, bus } = this.options;
    broker.attach({
      accept: (identity, topic, payload, _clientId, message) => this.accept(identity, topic, payload, message),
      subscribed: (identity, filters, clientId) => void this.replay(identity, filters, clientId).catch((err: unknown) => this.failed(err, 'subscribe')),
      acked: (identity, topic, payload) => void this.outbox.acked(identity, topic, payload).catch((err: unknown) => this.failed(err, topic)),
      connected: (identity) => {
        if (identity.assetId !== undefined) void this.options.states.connection(identity.userId, identity.assetId, true);
      },
      disconnected: (identity) => {
        if (identity.assetId !== undefined) void this.options.states.connection(identity.userId, identity.assetId, false);
      },
    });
    bus.on('payment.settled', this, ({ payment }) => this.outbox.publish(payment));
    bus.on('credential.revoked', this, ({ credentialId }) => broker.drop(credentialId));
    bus.on('asset.changed', this, ({ asset, deleted }) =>
      deleted ? this.clearRetained(asset).catch((err: unknown) => this.failed(err, 'asset deleted')) : undefined,
    );
    await broker.publish(BRIDGE_STATE_TOPIC, 'online', { qos: 1, retain: true });
  }

  async stop(): Promise<void> {
    this.options.bus.off(this);
    // From here on the broker refuses client messages: nothing is acknowledged that is not stored.
    this.options.broker.attach({});
    await this.options.broker.publish(BRIDGE_STATE_TOPIC, 'offline', { qos: 1, retain: true }).catch(() => undefined);
  }

  /** The manual trigger (`POST /api/v1/assets/{id}/trigger`, or a `trigger` message): run without a payment. */
  trigger(userId: string, assetId: string, durationMs: number, reason: string): Promise<ActionSetMessage> {
    return sendTrigger(this.options.broker, this.options.log, userId, assetId, durationMs, reason);
  }

  /** [MQTT-3.3.1-10] a zero-byte retained message removes the retained one: a deleted asset's topics keep nothing. */
  private async clearRetained(asset: AssetRecord): Promise<void> {
    for (const topic of RETAINED_ASSET_TOPICS) {
      await this.options.broker.publish(assetTopic(asset.user_id, asset.asset_id, topic), Buffer.alloc(0), { qos: TOPIC_SPECS[topic].qos, retain: true });
    }
  }

  /** A client subscribed: the outbox sends what it is owed, once the replay is within the login's rate limit. */
  private async replay(identity: ClientIdentity, filters: string[], clientId: string): Promise<void> {
    if (!this.outbox.coversPayments(identity, filters)) return;
    // Each replay costs a scan of the outbox: it counts as a message against the login's rate limit,
    // so a client subscribing in a loop cannot keep the bridge busy (it gets its replay once it slows down).
    if (!this.messageLimiter.take(identity.credentialId).allowed) {
      this.options.log.debug({ credentialId: identity.credentialId }, 'replay skipped: over the rate limit');
      return;
    }
    await this.outbox.replay(identity, filters, clientId);
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
        this.options.log.debug({ topic, err: err.message }, 'message not taken');
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
    const within = (await this.outbox.isPaymentReport(parsed.topic, userId, assetId, payload)) || this.messageLimiter.take(identity.credentialId).allowed;
    // Refused, not dropped: the broker closes the connection without a PUBACK, so nothing the
    // machine was told was received is lost; it sends again when it reconnects. A will cannot be sent
    // again: a will's status (the machine's last word on its own topic) is taken, and not stored.
    if (!within && !(message.will && parsed.topic === 'status')) this.refuse('rate_limited', identity, topic, message);
    const asset = await this.options.machines.getAsset(assetId);
    // The ACL already confines clients to their account; an asset that is not (or no longer) theirs is ignored.
    if (!asset || asset.user_id !== userId || asset.deleted_at !== null) {
      // [MQTT-3.3.1-5] Aedes would keep a retained message for every future subscriber: only real assets hold one.
      if (message.retain) this.refuse('retained_unknown_asset', identity, topic, message);
      this.options.log.debug({ topic }, 'message for an unknown asset ignored');
      return;
    }
    this.options.states.heard(userId, assetId);
    const bad = (problem: string) => this.badMessage(userId, assetId, topic, problem, payload);
    if (payload.length > MAX_DEVICE_PAYLOAD_BYTES) {
      await bad(`payload of ${payload.length} bytes is over the ${MAX_DEVICE_PAYLOAD_BYTES}-byte limit`);
      return;
    }
    await this.handlers[parsed.topic]?.({ userId, assetId, asset, topic, payload, within, bad });
  }

  /** A message the contract does not allow: an `error` event for the asset, rate limited. */
  private async badMessage(userId: string, assetId: string, topic: string, problem: string, payload: Buffer): Promise<void> {
    if (!this.errorLimiter.take(assetId).allowed) return;
    // The excerpt quotes what the machine sent with the characters no display may get escaped, cut to
    // 256 characters without splitting a surrogate pair.
    let excerpt = escapeUnshowable(payload.toString('utf8', 0, Math.min(payload.length, 256)));
    if (excerpt.length > 256) excerpt = excerpt.slice(0, /[\ud800-\udbff]/.test(excerpt.charAt(255)) ? 255 : 256);
    await this.options.events.append(userId, { type: 'error', asset_id: assetId, data: { source: 'mqtt', topic, problem, payload: excerpt } }, 'mqtt');
  }

  /** Refuse a message: counted, logged (rate limited), and the broker closes the sender's connection. */
  private refuse(reason: RefusalReason, identity: ClientIdentity, topic: string, message: MessageFlags): never {
    this.refusals.refuse(reason, { userId: identity.userId, credentialId: identity.credentialId, topic, will: message.will });
    throw new MessageRefused(reason);
  }

  private failed(err: unknown, topic: string): void {
    this.options.log.error({ err, topic }, 'mqtt dispatch failed');
  }
}
