/**
 * The typed in-process event bus. Services emit facts ("an event was stored"); components such as
 * the webhook sender or the MQTT dispatcher listen. A listener that throws (or rejects) is logged and
 * never stops the others; `off(owner)` removes everything an owner registered.
 */
import type { Logger } from 'pino';
import type { PaymentRecord } from './lightning/types.js';
import type { AssetRecord, EventRecord } from './machines/types.js';

export interface BusEvents {
  /** An event was durably appended to an account's event log. */
  'event.stored': { event: EventRecord };
  /** A webhook delivery became due (new, or its retry time changed). */
  'webhook.delivery.queued': { deliveryId: string; userId: string };
  /**
   * A payment settled, once per payment, with the `paid` event stored with it. For the MQTT
   * dispatcher: emitted as soon as the settlement is applied, before its disk sync, so listeners must
   * be idempotent by payment_id (a settlement lost to a crash in that window is settled again).
   */
  'payment.settled': { payment: PaymentRecord; event: EventRecord };
  /** An API key or device credential stopped working: clients logged in with it are dropped. */
  'credential.revoked': { credentialId: string };
  /** An asset was created, changed or (soft) deleted; emitted after the write. For Home Assistant discovery. */
  'asset.changed': { asset: AssetRecord; deleted: boolean };
}

type Listener<K extends keyof BusEvents> = (payload: BusEvents[K]) => void | Promise<void>;

interface Entry {
  owner: object;
  fn: (payload: never) => void | Promise<void>;
}

export class EventBus {
  private readonly listeners = new Map<keyof BusEvents, Entry[]>();
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  on<K extends keyof BusEvents>(event: K, owner: object, fn: Listener<K>): void {
    const list = this.listeners.get(event) ?? [];
    list.push({ owner, fn: fn as Entry['fn'] });
    this.listeners.set(event, list);
  }

  off(owner: object): void {
    for (const [event, list] of this.listeners) {
      this.listeners.set(
        event,
        list.filter((entry) => entry.owner !== owner),
      );
    }
  }

  emit<K extends keyof BusEvents>(event: K, payload: BusEvents[K]): void {
    for (const entry of this.listeners.get(event) ?? []) {
      try {
        const result = (entry.fn as Listener<K>)(payload);
        if (result instanceof Promise) {
          result.catch((err: unknown) => this.log.error({ err, event }, 'event listener failed'));
        }
      } catch (err) {
        this.log.error({ err, event }, 'event listener failed');
      }
    }
  }
}
