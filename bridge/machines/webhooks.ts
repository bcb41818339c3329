/** An account's outbound webhook: where it goes, which event types, and its delivery log. */
import { AppError } from '../errors.js';
import type { Outbound } from '../http/outbound.js';
import type { Principal } from './auth.js';
import type { MachinesStore, PageResult } from './store.js';
import type { DeliveryRecord, DeliveryStatus, EventType, WebhookRecord } from './types.js';

export class WebhooksService {
  private readonly store: MachinesStore;
  private readonly outbound: Outbound;

  constructor(store: MachinesStore, outbound: Outbound) {
    this.store = store;
    this.outbound = outbound;
  }

  async get(principal: Principal): Promise<WebhookRecord> {
    const webhook = await this.store.getWebhook(principal.account.user_id);
    if (!webhook) throw new AppError(404, 'webhook_not_found', 'No webhook is set for this account');
    return webhook;
  }

  /** Set (or replace) the webhook. Setting it again re-enables one disabled by a 410 Gone. */
  async put(principal: Principal, input: { url: string; events?: EventType[] | undefined }): Promise<WebhookRecord> {
    // A literal private or loopback address is refused now; a name is checked at each delivery.
    const range = this.outbound.literalRefusal(input.url);
    if (range !== undefined) {
      const problem = `points at a ${range} address, which this server does not deliver to`;
      throw new AppError(400, 'invalid_body', `Invalid body: url: ${problem}`, { details: [{ field: 'url', problem }] });
    }
    const now = new Date().toISOString();
    const existing = await this.store.getWebhook(principal.account.user_id);
    const webhook: WebhookRecord = {
      user_id: principal.account.user_id,
      url: input.url,
      events: [...new Set(input.events ?? [])],
      disabled_at: null,
      created: existing?.created ?? now,
      updated: now,
    };
    await this.store.putWebhook(webhook);
    return webhook;
  }

  async remove(principal: Principal): Promise<void> {
    await this.get(principal);
    await this.store.deleteWebhook(principal.account.user_id, new Date().toISOString());
  }

  deliveries(principal: Principal, status: DeliveryStatus | undefined, limit: number, before: number | undefined): Promise<PageResult<DeliveryRecord>> {
    return this.store.listDeliveries(principal.account.user_id, before === undefined ? { limit } : { limit, before }, status);
  }
}
