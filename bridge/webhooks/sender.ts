/**
 * Delivers queued webhooks. Each delivery is a durable record (written with its event), so nothing
 * is lost across restarts: `start()` picks up every pending one. An attempt is a signed POST; 2xx is
 * success, 410 Gone disables the account's webhook, anything else (other statuses, timeouts,
 * refused connections, redirects) is retried on the configured schedule, with jitter, until it runs out.
 * A slow sweep also picks up pending deliveries nobody announced: a write whose answer a store outage
 * cut off (on PostgreSQL it may have committed) is delivered without waiting for a restart.
 */
import type { Logger } from 'pino';
import type { EventBus } from '../events.js';
import type { MachinesStore } from '../machines/store.js';
import type { DeliveryAttempt, DeliveryRecord } from '../machines/types.js';
import { eventView } from '../machines/views.js';
import type { WebhookSigner } from './signing.js';

export interface SenderOptions {
  timeoutMs: number;
  retryScheduleMs: number[];
  concurrency: number;
  userAgent?: string;
  /** How often to look for pending deliveries that are not scheduled (default 30 s). */
  sweepMs?: number;
}

const MAX_ERROR_LENGTH = 200;
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
  private readonly queue: string[] = [];
  private readonly inFlight = new Map<string, Promise<void>>();
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
    this.bus.on('webhook.delivery.queued', this, ({ deliveryId }) => this.schedule(deliveryId, Date.now()));
    for (const d of await this.store.pendingDeliveries()) {
      this.schedule(d.delivery_id, d.next_attempt_at === null ? Date.now() : Date.parse(d.next_attempt_at));
    }
    this.sweeper = setInterval(() => void this.sweep(), this.options.sweepMs ?? SWEEP_MS);
    this.sweeper.unref();
  }

  /** Schedule pending deliveries that are neither timed, queued nor in flight. */
  private async sweep(): Promise<void> {
    try {
      for (const d of await this.store.pendingDeliveries()) {
        const id = d.delivery_id;
        if (this.timers.has(id) || this.inFlight.has(id) || this.queue.includes(id)) continue;
        this.schedule(id, d.next_attempt_at === null ? Date.now() : Date.parse(d.next_attempt_at));
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
    this.queue.length = 0;
    this.stopping.abort();
    await Promise.allSettled(this.inFlight.values());
  }

  private schedule(deliveryId: string, at: number): void {
    if (!this.running || this.inFlight.has(deliveryId)) return;
    clearTimeout(this.timers.get(deliveryId));
    const delay = Math.max(0, at - Date.now());
    this.timers.set(
      deliveryId,
      setTimeout(() => {
        this.timers.delete(deliveryId);
        this.queue.push(deliveryId);
        this.pump();
      }, delay),
    );
  }

  private pump(): void {
    while (this.running && this.inFlight.size < this.options.concurrency && this.queue.length > 0) {
      const id = this.queue.shift() as string;
      if (this.inFlight.has(id)) continue;
      const work = this.attempt(id)
        .then(
          (retryAt) => {
            this.inFlight.delete(id);
            if (retryAt !== undefined) this.schedule(id, retryAt);
          },
          (err: unknown) => {
            this.inFlight.delete(id);
            this.log.error({ err, deliveryId: id }, 'webhook attempt failed to record');
            // A database outage passes: the delivery is still pending, so try again (at least once: receivers dedupe by webhook-id).
            if (err instanceof Error && err.name === 'StoreUnavailableError') this.schedule(id, Date.now() + STORE_RETRY_MS);
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
      const response = await fetch(webhook.url, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.options.userAgent ?? 'paywire-webhooks/1',
          'webhook-id': delivery.delivery_id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': await this.signer.sign(delivery.delivery_id, timestamp, body),
        },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), this.stopping.signal]),
      });
      attempt.status_code = response.status;
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 300 && response.status < 400) attempt.error = 'redirects are not followed';
    } catch (err) {
      if (this.stopping.signal.aborted) return undefined;
      attempt.error = describeFetchError(err);
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
      const latest = await this.store.getWebhook(delivery.user_id);
      if (latest && latest.url === webhook.url && latest.disabled_at === null) {
        await this.store.putWebhook({ ...latest, disabled_at: now, updated: now });
        await this.store.cancelPendingDeliveries(delivery.user_id, now);
        this.log.warn({ userId: delivery.user_id, url: webhook.url }, 'webhook answered 410 Gone; disabled');
      }
      return undefined;
    }
    const delay = this.options.retryScheduleMs[attempts.length - 1];
    if (delay === undefined) {
      await this.finish({ ...current, attempts }, 'failed');
      return undefined;
    }
    const next = Date.now() + Math.round(delay * (1 + Math.random() * 0.1));
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

function describeFetchError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  const detail = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  return detail.slice(0, MAX_ERROR_LENGTH);
}
