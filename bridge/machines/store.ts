/**
 * The machine-payments store interface. Services depend on this, never on an engine: the embedded
 * journal implements it in `bridge/store/journal/machines-store.ts`, PostgreSQL in `bridge/store/postgres/machines-store.ts`,
 * and both pass `test/store/machines-store.contract.ts`. Every write is durable (on PostgreSQL:
 * committed) when its promise resolves; uniqueness is the store's to enforce and report.
 */
import type { AccountRecord, ApiKeyRecord, AssetRecord, DeliveryRecord, DeliveryStatus, EventRecord, EventType, WebhookRecord } from './types.js';

export interface EventFilter {
  type?: EventType;
  asset_id?: string;
  /** ISO timestamp; events created at or after it. */
  since?: string;
}

/** Newest-first pages: `before` is the `seq` the page starts below. */
export interface SeqPage {
  limit: number;
  before?: number;
}

export interface PageResult<T> {
  items: T[];
  /** The `before` of the next page, or null on the last page. */
  next: number | null;
}

export type AppendResult = { stored: EventRecord } | { duplicate: EventRecord };

export interface MachinesStore {
  /** Create the account and its first key together; false (nothing written) when its username is taken. */
  createAccount(account: AccountRecord, key: ApiKeyRecord): Promise<boolean>;
  getAccount(userId: string): Promise<AccountRecord | undefined>;
  usernameTaken(username: string): Promise<boolean>;
  getAccountByUsername(username: string): Promise<AccountRecord | undefined>;

  findKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  getKey(keyId: string): Promise<ApiKeyRecord | undefined>;
  listKeys(userId: string): Promise<ApiKeyRecord[]>;
  addKey(key: ApiKeyRecord): Promise<void>;
  /** Revoke `oldKeyId` and add `next` in one write: there is no moment with both or neither. */
  rotateKey(oldKeyId: string, next: ApiKeyRecord, at: string): Promise<void>;
  revokeKey(keyId: string, at: string): Promise<void>;

  putAsset(asset: AssetRecord): Promise<void>;
  getAsset(assetId: string): Promise<AssetRecord | undefined>;
  /** The account's live (not deleted) assets, oldest first. */
  listAssets(userId: string): Promise<AssetRecord[]>;
  /** Every live asset of every account, for components that publish per asset at start (Home Assistant discovery). */
  listAllAssets(): Promise<AssetRecord[]>;

  /**
   * Append an event and the webhook deliveries it causes, in one write. When the account already has
   * an event with the same `external_id`, nothing is written and that event is returned.
   * The store assigns `seq` (and each delivery's `seq`).
   */
  appendEvent(event: Omit<EventRecord, 'seq'>, deliveries: Omit<DeliveryRecord, 'seq'>[]): Promise<AppendResult>;
  getEvent(eventId: string): Promise<EventRecord | undefined>;
  listEvents(userId: string, filter: EventFilter, page: SeqPage): Promise<PageResult<EventRecord>>;

  getWebhook(userId: string): Promise<WebhookRecord | undefined>;
  putWebhook(webhook: WebhookRecord): Promise<void>;
  /** Remove the webhook and cancel its pending deliveries, in one write. */
  deleteWebhook(userId: string, at: string): Promise<void>;

  getDelivery(deliveryId: string): Promise<DeliveryRecord | undefined>;
  putDelivery(delivery: DeliveryRecord): Promise<void>;
  listDeliveries(userId: string, page: SeqPage, status?: DeliveryStatus): Promise<PageResult<DeliveryRecord>>;
  /** Every delivery still pending, for the sender to schedule at start. */
  pendingDeliveries(): Promise<DeliveryRecord[]>;
  /** Cancel an account's pending deliveries (its webhook was disabled). */
  cancelPendingDeliveries(userId: string, at: string): Promise<void>;
}
