/**
 * The MQTT contract between the bridge and the machines, typed: every topic, who publishes it, its
 * QoS and retain flag, and its payload. The bridge, the device daemon and the firmware headers all
 * follow this file (default root `paywire`):
 *
 *   paywire/{account}/{asset}/payment          bridge → device   QoS 1          PaymentMessage
 *   paywire/{account}/{asset}/action           device → bridge   QoS 1          ActionMessage (stored as an event)
 *   paywire/{account}/{asset}/action/set       bridge → device   QoS 1          ActionSetMessage (a manual trigger)
 *   paywire/{account}/{asset}/license/request  device → bridge   QoS 1          LicenseRequestMessage
 *   paywire/{account}/{asset}/license          bridge → device   QoS 1, retain  LicenseMessage
 *   paywire/{account}/{asset}/status           device → bridge   QoS 1, retain  "online" | "offline" (and the last will)
 *   paywire/{account}/{asset}/trigger          client → bridge   QoS 1          anything: asks for a test vend (Home Assistant's button)
 *   paywire/{account}/{asset}/stats            bridge → clients  QoS 1, retain  StatsMessage (sales count and revenue)
 *   paywire/bridge/state                       bridge            QoS 1, retain  "online" | "offline"
 */
import { z } from 'zod';

export const TOPIC_ROOT = 'paywire';
export const BRIDGE_STATE_TOPIC = `${TOPIC_ROOT}/bridge/state`;

export const ASSET_TOPICS = ['payment', 'action', 'action/set', 'license/request', 'license', 'status', 'trigger', 'stats'] as const;
export type AssetTopic = (typeof ASSET_TOPICS)[number];

/** Topics machines (and other clients) may publish; the rest only the bridge publishes. */
export const CLIENT_PUBLISHES: readonly AssetTopic[] = ['action', 'license/request', 'status', 'trigger'];

export interface TopicSpec {
  direction: 'to-device' | 'to-bridge';
  qos: 0 | 1;
  retain: boolean;
}

export const TOPIC_SPECS: Record<AssetTopic, TopicSpec> = {
  payment: { direction: 'to-device', qos: 1, retain: false },
  action: { direction: 'to-bridge', qos: 1, retain: false },
  // Never retained: a retained command would fire again on every reconnect.
  'action/set': { direction: 'to-device', qos: 1, retain: false },
  'license/request': { direction: 'to-bridge', qos: 1, retain: false },
  license: { direction: 'to-device', qos: 1, retain: true },
  status: { direction: 'to-bridge', qos: 1, retain: true },
  trigger: { direction: 'to-bridge', qos: 1, retain: false },
  stats: { direction: 'to-device', qos: 1, retain: true },
};

export function assetTopic(userId: string, assetId: string, topic: AssetTopic): string {
  return `${TOPIC_ROOT}/${userId}/${assetId}/${topic}`;
}

/** The account, asset and contract topic of a concrete topic name, or undefined when it is not one. */
export function parseAssetTopic(topic: string): { userId: string; assetId: string; topic: AssetTopic } | undefined {
  const parts = topic.split('/');
  if (parts.length < 4 || parts[0] !== TOPIC_ROOT) return undefined;
  const [, userId, assetId, ...rest] = parts as [string, string, string, ...string[]];
  const name = rest.join('/');
  if (!userId || !assetId || !(ASSET_TOPICS as readonly string[]).includes(name)) return undefined;
  return { userId, assetId, topic: name as AssetTopic };
}

/** bridge → device: a payment settled; run for `duration_ms`. Devices drop repeats by `payment_id`. */
export interface PaymentMessage {
  payment_id: string;
  asset_id: string;
  amount_sats: number;
  rail: 'lightning' | 'x402';
  duration_ms: number;
  paid_at: string;
}

/** bridge → device: run now without a payment (the "test vend" button). */
export interface ActionSetMessage {
  trigger_id: string;
  duration_ms: number;
  reason: string;
}

/** device → bridge: something happened; stored as an event of the asset. */
export const actionMessage = z.strictObject({
  type: z.enum(['action', 'error', 'custom']),
  external_id: z.string().trim().min(1).max(128).optional(),
  payment_id: z.string().max(64).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type ActionMessage = z.infer<typeof actionMessage>;

/** device → bridge: check a license key. */
export const licenseRequestMessage = z.strictObject({
  request_id: z.string().trim().min(1).max(128),
  key: z.string().min(1).max(4096),
  fingerprint: z.string().min(1).max(256).optional(),
});
export type LicenseRequestMessage = z.infer<typeof licenseRequestMessage>;

/** bridge → device: the answer to a license request (the license server's validate answer, with the request_id). */
export type LicenseMessage =
  | {
      request_id: string;
      ok: true;
      license_id: string;
      product_id: string;
      product_slug: string;
      issued_at: string;
      /** null: perpetual. */
      expires_at?: string | null;
      trial?: boolean;
      entitlements?: string[];
      max_machines?: number;
    }
  | { request_id: string; ok: false; reason: string; message?: string };

export const statusMessage = z.enum(['online', 'offline']);
export type StatusMessage = z.infer<typeof statusMessage>;

/** bridge → clients: sales of an asset, for dashboards and Home Assistant sensors. */
export interface StatsMessage {
  sales: number;
  revenue_sats: number;
  last_paid_at: string | null;
}

/** The payload type of each topic. */
export interface TopicPayloads {
  payment: PaymentMessage;
  action: ActionMessage;
  'action/set': ActionSetMessage;
  'license/request': LicenseRequestMessage;
  license: LicenseMessage;
  status: StatusMessage;
  trigger: unknown;
  stats: StatsMessage;
}

/** The largest payload the bridge reads from a device. */
export const MAX_DEVICE_PAYLOAD_BYTES = 16_384;

/** MQTT topic matching [MQTT-4.7]: `+` matches one level, a trailing `#` the rest (and the parent). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
