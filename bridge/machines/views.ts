/** What the API sends for each record: stored fields that are secret or internal stay out. */
import type { AccountRecord, ApiKeyRecord, AssetRecord, DeliveryRecord, EventRecord, WebhookRecord } from './types.js';

export function accountView(account: AccountRecord, key: ApiKeyRecord) {
  return {
    user_id: account.user_id,
    username: account.username,
    display_name: account.display_name,
    lightning_address: account.lightning_address,
    api_key_prefix: key.prefix,
    key_scope: key.scope,
    role: account.role,
    created: account.created,
  };
}

export function keyView(key: ApiKeyRecord) {
  return {
    key_id: key.key_id,
    api_key_prefix: key.prefix,
    scope: key.scope,
    label: key.label,
    created: key.created,
    revoked_at: key.revoked_at,
  };
}

/** What the MQTT broker knows of the asset's device (see bridge/devices/state.ts). */
export interface DeviceStateView {
  online: boolean | null;
  last_seen: string | null;
}

const UNSEEN: DeviceStateView = { online: null, last_seen: null };

export function assetView(asset: AssetRecord, device: DeviceStateView = UNSEEN) {
  return {
    asset_id: asset.asset_id,
    name: asset.name,
    price_sats: asset.price_sats,
    duration_ms: asset.duration_ms,
    pricing: asset.pricing,
    min_sats: asset.min_sats,
    max_sats: asset.max_sats,
    refuse_when_offline: asset.refuse_when_offline,
    metadata: asset.metadata,
    x402: asset.x402,
    online: device.online,
    last_seen: device.last_seen,
    created: asset.created,
    updated: asset.updated,
  };
}

export function eventView(event: EventRecord) {
  return {
    event_id: event.event_id,
    type: event.type,
    asset_id: event.asset_id,
    external_id: event.external_id,
    data: event.data,
    source: event.source,
    created: event.created,
  };
}

export function webhookView(webhook: WebhookRecord) {
  return {
    url: webhook.url,
    events: webhook.events,
    disabled_at: webhook.disabled_at,
    created: webhook.created,
    updated: webhook.updated,
  };
}

export function deliveryView(delivery: DeliveryRecord) {
  return {
    delivery_id: delivery.delivery_id,
    event_id: delivery.event_id,
    event_type: delivery.event_type,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: delivery.next_attempt_at,
    created: delivery.created,
    updated: delivery.updated,
  };
}
