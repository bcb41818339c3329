/**
 * The account's event log: paid, action, error and custom events, each optionally tied to an asset
 * and deduplicated by `external_id`. Appending an event also queues its webhook delivery in the same
 * write, so a crash can never store one without the other.
 */
import { AppError } from '../errors.js';
import type { EventBus } from '../events.js';
import { newId } from '../ids.js';
import type { AssetsService } from './assets.js';
import { reservedExternalId } from './schemas.js';
import type { EventFilter, MachinesStore, PageResult } from './store.js';
import type { DeliveryRecord, EventRecord, EventSource, EventType } from './types.js';

export interface EventInput {
  type: EventType;
  asset_id?: string | null | undefined;
  external_id?: string | null | undefined;
  data?: Record<string, unknown> | null | undefined;
}

export interface AppendOutcome {
  event: EventRecord;
  /** True when the external_id was taken: `event` is the one stored first. */
  duplicate: boolean;
}

export class EventLog {
  private readonly store: MachinesStore;
  private readonly assets: AssetsService;
  private readonly bus: EventBus;

  constructor(store: MachinesStore, assets: AssetsService, bus: EventBus) {
    this.store = store;
    this.assets = assets;
    this.bus = bus;
  }

  /** Append an event for `userId`. A repeated `external_id` returns the first event with `duplicate: true`. */
  async append(userId: string, input: EventInput, source: EventSource): Promise<AppendOutcome> {
    // The API's body schema refuses these too; MQTT reports come through here with their own schema.
    if ((source === 'api' || source === 'mqtt') && input.external_id) {
      const problem = reservedExternalId(input.external_id);
      if (problem !== undefined) {
        throw new AppError(400, 'invalid_body', `Invalid body: external_id: ${problem}`, { details: [{ field: 'external_id', problem }] });
      }
    }
    if (input.asset_id) await this.assets.owned(userId, input.asset_id);
    const { event, deliveries } = await this.build(userId, input, source);
    const result = await this.store.appendEvent(event, deliveries);
    if ('duplicate' in result) return { event: result.duplicate, duplicate: true };
    this.announce(result.stored, deliveries);
    return { event: result.stored, duplicate: false };
  }

  /**
   * An event record and the webhook deliveries it causes, not yet stored: for writers that store it
   * together with their own records (a settling payment). The asset is not checked here.
   */
  async build(userId: string, input: EventInput, source: EventSource): Promise<{ event: Omit<EventRecord, 'seq'>; deliveries: Omit<DeliveryRecord, 'seq'>[] }> {
    const now = new Date().toISOString();
    const event: Omit<EventRecord, 'seq'> = {
      event_id: newId(),
      user_id: userId,
      type: input.type,
      asset_id: input.asset_id ?? null,
      external_id: input.external_id ?? null,
      data: input.data ?? null,
      source,
      created: now,
    };
    const webhook = await this.store.getWebhook(userId);
    const wanted = webhook && webhook.disabled_at === null && (webhook.events.length === 0 || webhook.events.includes(input.type));
    const deliveries: Omit<DeliveryRecord, 'seq'>[] = wanted
      ? [
          {
            delivery_id: `msg_${newId()}`,
            user_id: userId,
            event_id: event.event_id,
            event_type: event.type,
            status: 'pending',
            attempts: [],
            next_attempt_at: now,
            created: now,
            updated: now,
          },
        ]
      : [];
    return { event, deliveries };
  }

  /** Tell listeners about an event that is now stored. */
  announce(event: EventRecord, deliveries: { delivery_id: string }[]): void {
    this.bus.emit('event.stored', { event });
    for (const d of deliveries) this.bus.emit('webhook.delivery.queued', { deliveryId: d.delivery_id, userId: event.user_id });
  }

  async get(userId: string, eventId: string): Promise<EventRecord> {
    const event = await this.store.getEvent(eventId);
    // Another account's event is reported as missing: its existence is not ours to reveal.
    if (!event || event.user_id !== userId) throw new AppError(404, 'event_not_found', `Event ${eventId} does not exist`);
    return event;
  }

  list(userId: string, filter: EventFilter, limit: number, before: number | undefined): Promise<PageResult<EventRecord>> {
    return this.store.listEvents(userId, filter, before === undefined ? { limit } : { limit, before });
  }
}
