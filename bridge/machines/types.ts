/** Records of the machine-payments API, as stored. Views sent on the wire are built in `views.ts`. */

export const EVENT_TYPES = ['paid', 'action', 'error', 'custom'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Where an event came from. */
export type EventSource = 'api' | 'mqtt' | 'lightning' | 'x402' | 'license' | 'bridge';

export type Role = 'machine' | 'user' | 'admin';

/** `full` keys read and write; `read` keys only read (the roadmap's scoped read-only keys). */
export type KeyScope = 'full' | 'read';

export interface AccountRecord {
  user_id: string;
  username: string;
  display_name: string;
  lightning_address: string | null;
  role: Role;
  created: string;
  updated: string;
}

export interface ApiKeyRecord {
  key_id: string;
  user_id: string;
  /** sha256 of the key, hex. The key itself is never stored. */
  hash: string;
  /** `lib_` and the first 8 hex digits, to recognise a key in lists. */
  prefix: string;
  scope: KeyScope;
  label: string | null;
  created: string;
  revoked_at: string | null;
}

/** `fixed`: every payment is `price_sats`. `variable`: the payer chooses between `min_sats` and `max_sats`. */
export type Pricing = 'fixed' | 'variable';

export interface AssetRecord {
  asset_id: string;
  user_id: string;
  name: string;
  /** The price, or for variable pricing the price of one `duration_ms`. */
  price_sats: number;
  /** How long the machine runs for `price_sats` (variable pricing scales it with the amount paid). */
  duration_ms: number;
  pricing: Pricing;
  /** Variable pricing only: the smallest and largest payment accepted. */
  min_sats: number | null;
  max_sats: number | null;
  /** Refuse new invoices while the asset's device is known to be offline. */
  refuse_when_offline: boolean;
  metadata: Record<string, unknown>;
  /** What an agent pays over x402 for one run (`GET /api/v1/assets/{id}/x402`); null: Lightning only. */
  x402: AssetX402 | null;
  created: string;
  updated: string;
  deleted_at: string | null;
}

/** One x402 price: `amount` atomic units of token `asset` on `network` (a v1 name or CAIP-2 `eip155:<chainId>`). */
export interface AssetX402Price {
  network: string;
  /** The token's address, checksummed (EIP-55). */
  asset: string;
  /** Atomic units, a decimal string (x402 `maxAmountRequired` / v2 `amount`). */
  amount: string;
}

/** An asset's x402 terms: who is paid (`payTo`) and the prices it takes, one per network and token. */
export interface AssetX402 {
  /** The receiving address, checksummed (EIP-55). */
  pay_to: string;
  prices: AssetX402Price[];
}

export interface EventRecord {
  event_id: string;
  /** Position in the store's event log; orders events and backs cursors. */
  seq: number;
  user_id: string;
  type: EventType;
  asset_id: string | null;
  external_id: string | null;
  data: Record<string, unknown> | null;
  source: EventSource;
  created: string;
}

export interface WebhookRecord {
  user_id: string;
  url: string;
  /** Event types delivered; all when empty. */
  events: EventType[];
  /** Set when the receiver answered 410 Gone: deliveries stop until the webhook is set again. */
  disabled_at: string | null;
  created: string;
  updated: string;
}

export interface DeliveryAttempt {
  at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'cancelled';

export interface DeliveryRecord {
  delivery_id: string;
  seq: number;
  user_id: string;
  event_id: string;
  event_type: EventType;
  status: DeliveryStatus;
  attempts: DeliveryAttempt[];
  next_attempt_at: string | null;
  created: string;
  updated: string;
}

/** Assets stored before pricing fields existed read as fixed-price, always-on assets. */
export function withAssetDefaults(asset: AssetRecord): AssetRecord {
  // Assets stored before x402 prices existed take none.
  const withX402 = asset.x402 === undefined ? { ...asset, x402: null } : asset;
  if (withX402.pricing !== undefined) return withX402;
  return { ...withX402, pricing: 'fixed', min_sats: null, max_sats: null, refuse_when_offline: false };
}
