/**
 * Delivers queued webhooks. Each delivery is a durable record (written with its event), so nothing
 * is lost across restarts: `start()` picks up every pending one. An attempt is a signed POST through
 * the guarded outbound client (address policy, one deadline that holds); 2xx is success, 410 Gone
 * disables the account's webhook, anything else (other statuses, timeouts, refused connections,
 * redirects) is retried on the configured schedule, with jitter, until it runs out. The log says
 * only `refused`, `timeout` or the status. Due deliveries wait in one queue per account, accounts
 * take turns (least recently served first), and an account has at most `perAccount` in flight: one
 * account's dead endpoint cannot hold every slot.
 * A slow sweep also picks up pending deliveries nobody announced: a write whose answer a store outage
 * cut off (on PostgreSQL it may have committed) is delivered without waiting for a restart.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { EventBus } from '../events.js';
import { OutboundError, type Outbound } from '../http/outbound.js';
import type { MachinesStore } from '../machines/store.js';
import type { DeliveryAttempt, DeliveryRecord } from '../machines/types.js';
import { eventView } from '../machines/views.js';
import { StoreUnavailableError } from '../store/errors.js';
import type { WebhookSigner } from './signing.js';

export interface SenderOptions {
  timeoutMs: number;
  retryScheduleMs: number[];
  /** Deliveries in flight at once, all accounts together. */
  concurrency: number;
  /** Deliveries of one account in flight at once. */
  perAccount: number;
  userAgent?: string;
  outbound: Outbound;
  /** How often to look for pending deliveries that are not scheduled (default 30 s). */
  sweepMs?: number;
  /** Counts failed attempts (`paywire_webhook_failures_total{outcome}`). */
  metrics?: Metrics | undefined;
}

/** A delivery whose attempt could not be read or recorded (the store was unreachable) is tried again after this long. */
const STORE_RETRY_MS = 2_000;
const SWEEP_MS = 30_000;

export class WebhookSender {
  private readonly store: MachinesStore;
  private readonly bus: EventBus;
  private readonly signer: WebhookSigner;
  private readonly log: Logger;
  private readonly options: SenderOptions;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Due deliveries, by account. */
  private readonly queues = new Map<string, string[]>();
  private readonly queued = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly inFlightByAccount = new Map<string, number>();
  /** When each account with work was last served (a turn counter): the least recently served goes next. */
  private readonly lastServed = new Map<string, number>();
  private turn = 0;
  private stopping = new AbortController();
  private running = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(store: MachinesStore, bus: EventBus, signer: WebhookSigner, log: Logger, options: SenderOptions) {
    this.store = store;
    this.bus = bus;
    this.signer = signer;
    this.log = log;
    this.options = options;
  }

  async start(): Promise<void> {
    this.running = true;
    this.stopping = new AbortController();
    this.bus.on('webhook.delivery.queued', this, ({ deliveryId, userId }) => this.schedule(deliveryId, Date.now(), userId));
    for (const d of await this.store.pendingDeliveries()) {
      this.schedule(d.delivery_id, d.next_attempt_at === null ? Date.now() : Date.parse(d.next_attempt_at), d.user_id);
    }
    this.sweeper = setInterval(() => void this.sweep(), this.options.sweepMs ?? SWEEP_MS);
    this.sweeper.unref();
  }

  /** Schedule pending deliveries that are neither timed, queued nor in flight. */
  private async sweep(): Promise<void> {
    try {
      for (const d of await this.store.pendingDeliveries()) {
        const id = d.delivery_id;
        if (this.timers.has(id) || this.inFlight.has(id) || this.queued.has(id)) continue;
        this.schedule(id, d.next_attempt_at === null ? Date.now() : Date.parse(d.next_attempt_at), d.user_id);
      }
    } catch (err) {
      this.log.warn({ err }, 'looking for unscheduled webhook deliveries failed');
    }
  }

  /** Stop sending. Attempts cut short are not recorded: their deliveries stay pending for the next start. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.sweeper);
    this.bus.off(this);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queues.clear();
    this.queued.clear();
    this.lastServed.clear();
    this.stopping.abort();
    await Promise.allSettled(this.inFlight.values());
  }

  private schedule(deliveryId: string, at: number, userId?: string): void {
    if (!this.running || this.inFlight.has(deliveryId)) return;
    clearTimeout(this.timers.get(deliveryId));
    const delay = Math.max(0, at - Date.now());
    this.timers.set(
      deliveryId,
      setTimeout(() => {
        this.timers.delete(deliveryId);
        void this.enqueue(deliveryId, userId);
      }, delay),
    );
  }

  /** Put a due delivery in its account's queue (the account is looked up when not known). */
  private async enqueue(deliveryId: string, known?: string): Promise<void> {
    let userId = known;
    if (userId === undefined) {
      let delivery;
      try {
        delivery = await this.store.getDelivery(deliveryId);
      } catch (err) {
        // The store is away for now: look again later rather than lose the delivery until a restart.
        this.log.warn({ err, deliveryId }, 'could not look a webhook delivery up; trying again');
        this.schedule(deliveryId, Date.now() + STORE_RETRY_MS);
        return;
      }
      if (!delivery || delivery.status !== 'pending') return;
      userId = delivery.user_id;
    }
    if (!this.running || this.inFlight.has(deliveryId) || this.queued.has(deliveryId)) return;
    this.queued.add(deliveryId);
    const queue = this.queues.get(userId);
    if (queue) queue.push(deliveryId);
    else this.queues.set(userId, [deliveryId]);
    this.pump();
  }

  /**
   * The next delivery to send: from the account served least recently (one that was not served
   * since it last ran out of work comes first), skipping accounts at their in-flight cap.
   */
  private next(): { id: string; userId: string } | undefined {
    let pick: string | undefined;
    let pickTurn = Infinity;
    for (const userId of this.queues.keys()) {
      if ((this.inFlightByAccount.get(userId) ?? 0) >= this.options.perAccount) continue;
      const served = this.lastServed.get(userId) ?? -1;
      if (served < pickTurn) {
        pick = userId;
        pickTurn = served;
      }
    }
    if (pick === undefined) return undefined;
    const queue = this.queues.get(pick) as string[];
    const id = queue.shift() as string;
    if (queue.length === 0) this.queues.delete(pick);
    this.queued.delete(id);
    this.lastServed.set(pick, ++this.turn);
    return { id, userId: pick };
  }

  private pump(): void {
    while (this.running && this.inFlight.size < this.options.concurrency) {
      const next = this.next();
      if (!next) return;
      const { id, userId } = next;
      if (this.inFlight.has(id)) continue;
      this.inFlightByAccount.set(userId, (this.inFlightByAccount.get(userId) ?? 0) + 1);
      const done = () => {
        this.inFlight.delete(id);
        const left = (this.inFlightByAccount.get(userId) ?? 1) - 1;
        if (left > 0) this.inFlightByAccount.set(userId, left);
        else this.inFlightByAccount.delete(userId);
        if (left <= 0 && !this.queues.has(userId)) this.lastServed.delete(userId);
      };
      const work = this.attempt(id)
        .then(
          (retryAt) => {
            done();
            if (retryAt !== undefined) this.schedule(id, retryAt, userId);
          },
          (err: unknown) => {
            done();
            this.log.error({ err, deliveryId: id }, 'webhook attempt failed to record');
            // A database outage passes: the delivery is still pending, so try again (at least once: receivers dedupe by webhook-id).
            if (err instanceof StoreUnavailableError) this.schedule(id, Date.now() + STORE_RETRY_MS, userId);
          },
        )
        .finally(() => this.pump());
      this.inFlight.set(id, work);
    }
  }

  /** One attempt; resolves to the time of the next one when a retry is due. */
  private async attempt(deliveryId: string): Promise<number | undefined> {
    const delivery = await this.store.getDelivery(deliveryId);
    if (!delivery || delivery.status !== 'pending') return undefined;
    const webhook = await this.store.getWebhook(delivery.user_id);
    const event = await this.store.getEvent(delivery.event_id);
    if (!webhook || webhook.disabled_at !== null || !event) {
      await this.finish(delivery, 'cancelled');
      return undefined;
    }

    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      type: `event.${event.type}`,
      timestamp: event.created,
      data: { ...eventView(event), user_id: event.user_id },
    });
    const started = Date.now();
    const attempt: DeliveryAttempt = { at: new Date(started).toISOString(), status_code: null, error: null, duration_ms: 0 };
    try {
      const response = await this.options.outbound.request(webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.options.userAgent ?? 'paywire-webhooks/1',
          'webhook-id': delivery.delivery_id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': await this.signer.sign(delivery.delivery_id, timestamp, body),
        },
        body,
        timeoutMs: this.options.timeoutMs,
        statusOnly: true,
        // stop() does not wait out a hanging receiver: the attempt is dropped, the delivery stays pending.
        signal: this.stopping.signal,
      });
      attempt.status_code = response.status;
      if (response.status >= 300 && response.status < 400) attempt.error = 'redirects are not followed';
    } catch (err) {
      if (this.stopping.signal.aborted) return undefined;
      // Only what the tenant may know: `refused` (by policy or by the network alike), `timeout`.
      attempt.error = err instanceof OutboundError ? err.message : 'refused';
    }
    attempt.duration_ms = Date.now() - started;

    // The webhook may have been removed while the request was out: its cancellation stands.
    const current = await this.store.getDelivery(deliveryId);
    if (!current || current.status !== 'pending') return undefined;
    const attempts = [...current.attempts, attempt];
    const status = attempt.status_code;
    if (status !== null && status >= 200 && status < 300) {
      await this.finish({ ...current, attempts }, 'delivered');
      return undefined;
    }
    if (status === 410) {
      // Standard Webhooks: 410 Gone means the receiver wants no more; stop until the webhook is set again.
      const now = new Date().toISOString();
      await this.finish({ ...current, attempts }, 'failed');
      this.options.metrics?.webhookFailed(true);
      const latest = await this.store.getWebhook(delivery.user_id);
      if (latest && latest.url === webhook.url && latest.disabled_at === null) {
        await this.store.putWebhook({ ...latest, disabled_at: now, updated: now });
        await this.store.cancelPendingDeliveries(delivery.user_id, now);
        this.log.warn({ userId: delivery.user_id, host: hostOf(webhook.url) }, 'webhook answered 410 Gone; disabled');
      }
      return undefined;
    }
    // What failed, as the delivery log says it: the status, or `refused` / `timeout` (never the URL: it may carry a secret).
    const failure = { userId: delivery.user_id, deliveryId, attempt: attempts.length, status: attempt.status_code, error: attempt.error };
    const delay = this.options.retryScheduleMs[attempts.length - 1];
    if (delay === undefined) {
      await this.finish({ ...current, attempts }, 'failed');
      this.options.metrics?.webhookFailed(true);
      this.log.warn(failure, 'webhook delivery failed; no attempts left, given up');
      return undefined;
    }
    const next = Date.now() + Math.round(delay * (1 + Math.random() * 0.1));
    this.options.metrics?.webhookFailed(false);
    this.log.info({ ...failure, retryAt: new Date(next).toISOString() }, 'webhook delivery failed; will retry');
    await this.store.putDelivery({
      ...current,
      attempts,
      next_attempt_at: new Date(next).toISOString(),
      updated: new Date().toISOString(),
    });
    return next;
  }

  private async finish(delivery: DeliveryRecord, status: Exclude<DeliveryRecord['status'], 'pending'>): Promise<void> {
    await this.store.putDelivery({ ...delivery, status, next_attempt_at: null, updated: new Date().toISOString() });
  }
}

/** The host of a webhook URL, for logs (its path and query may carry the receiver's secret). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid URL';
  }
}
