/**
 * The machine-payments store on PostgreSQL. Writes that belong together are one statement (data-
 * modifying CTEs: one round trip, atomic in autocommit; appends are group-committed, `append-batch.ts`); uniqueness is the database's (a unique index
 * per rule), so two racing writers cannot both win: `ON CONFLICT DO NOTHING` waits for the other
 * writer's commit and then reports the conflict. Everything is visible and durable once its promise
 * resolves (after COMMIT; synchronous_commit stays on).
 */
import type { AppendResult, EventFilter, MachinesStore, PageResult, SeqPage } from '../../machines/store.js';
import type { AccountRecord, ApiKeyRecord, AssetRecord, DeliveryRecord, DeliveryStatus, EventRecord, WebhookRecord } from '../../machines/types.js';
import { AppendBatcher } from './append-batch.js';
import { ACCOUNT, API_KEY, ASSET, DELIVERY, DELIVERY_ROW, EVENT_ROW, WEBHOOK } from './columns.js';
import type { Database, Queryable, Statement } from './database.js';
import { pagedStatement, toPage } from './paging.js';
import { columnList, fromRow, placeholders, select, toParams, upsert, type Columns } from './rows.js';

const n = Object.keys;

const S = {
  createAccount: {
    name: 'accounts_create',
    text: `WITH a AS (
        INSERT INTO accounts (${columnList(ACCOUNT)}) VALUES (${placeholders(ACCOUNT)})
        ON CONFLICT (username) DO NOTHING RETURNING user_id
      )
      INSERT INTO api_keys (${columnList(API_KEY)}) SELECT ${placeholders(API_KEY, n(ACCOUNT).length + 1)}
      WHERE EXISTS (SELECT 1 FROM a) RETURNING key_id`,
  },
  getAccount: select('accounts_get', 'SELECT * FROM accounts WHERE user_id = $1'),
  usernameTaken: select('accounts_username_taken', 'SELECT 1 FROM accounts WHERE username = $1'),
  getAccountByUsername: select('accounts_by_username', 'SELECT * FROM accounts WHERE username = $1'),
  keyByHash: select('keys_by_hash', 'SELECT * FROM api_keys WHERE hash = $1'),
  getKey: select('keys_get', 'SELECT * FROM api_keys WHERE key_id = $1'),
  listKeys: select('keys_list', 'SELECT * FROM api_keys WHERE user_id = $1 ORDER BY pos'),
  addKey: upsert('keys_put', 'api_keys', API_KEY, 'key_id'),
  rotateKey: {
    name: 'keys_rotate',
    text: `WITH old AS (UPDATE api_keys SET revoked_at = $${n(API_KEY).length + 2}::timestamptz WHERE key_id = $${n(API_KEY).length + 1}::text RETURNING 1)
      INSERT INTO api_keys (${columnList(API_KEY)}) SELECT ${placeholders(API_KEY)}
      WHERE EXISTS (SELECT 1 FROM old) RETURNING key_id`,
  },
  revokeKey: select('keys_revoke', 'UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL'),
  putAsset: upsert('assets_put', 'assets', ASSET, 'asset_id'),
  getAsset: select('assets_get', 'SELECT * FROM assets WHERE asset_id = $1'),
  listAssets: select('assets_list', 'SELECT * FROM assets WHERE user_id = $1 AND deleted_at IS NULL ORDER BY pos'),
  listAllAssets: select('assets_list_all', 'SELECT * FROM assets WHERE deleted_at IS NULL ORDER BY pos'),
  getEvent: select('events_get', 'SELECT * FROM events WHERE event_id = $1'),
  getWebhook: select('webhooks_get', 'SELECT * FROM webhooks WHERE user_id = $1'),
  putWebhook: upsert('webhooks_put', 'webhooks', WEBHOOK, 'user_id'),
  deleteWebhook: select(
    'webhooks_delete',
    `WITH w AS (DELETE FROM webhooks WHERE user_id = $1)
      UPDATE webhook_deliveries SET status = 'cancelled', next_attempt_at = NULL, updated = $2
      WHERE user_id = $1 AND status = 'pending'`,
  ),
  getDelivery: select('deliveries_get', 'SELECT * FROM webhook_deliveries WHERE delivery_id = $1'),
  putDelivery: upsert('deliveries_put', 'webhook_deliveries', DELIVERY, 'delivery_id'),
  pendingDeliveries: select('deliveries_pending', "SELECT * FROM webhook_deliveries WHERE status = 'pending' ORDER BY seq"),
  cancelPending: select(
    'deliveries_cancel',
    "UPDATE webhook_deliveries SET status = 'cancelled', next_attempt_at = NULL, updated = $2 WHERE user_id = $1 AND status = 'pending'",
  ),
} satisfies Record<string, Statement>;

export class PostgresMachinesStore implements MachinesStore {
  private readonly db: Database;
  private readonly eventPages = new Map<string, Statement>();
  private readonly deliveryPages = new Map<string, Statement>();
  private readonly appends: AppendBatcher;

  constructor(db: Database) {
    this.db = db;
    // Group commit: two statements in flight carry all the appends (measured best on 2 cores: fewer,
    // larger commits beat more connections); the rest of the pool stays for reads and other writes.
    this.appends = new AppendBatcher(db, { inFlight: Math.min(2, db.poolSize) });
  }

  private async one<T>(statement: Statement, values: unknown[], columns: Columns, q: Queryable = this.db): Promise<T | undefined> {
    const row = (await q.rows(statement, values))[0];
    return row === undefined ? undefined : fromRow<T>(row, columns);
  }

  private async all<T>(statement: Statement, values: unknown[], columns: Columns): Promise<T[]> {
    return (await this.db.rows(statement, values)).map((r) => fromRow<T>(r, columns));
  }

  async createAccount(account: AccountRecord, key: ApiKeyRecord): Promise<boolean> {
    const rows = await this.db.rows(S.createAccount, [...toParams(account, ACCOUNT), ...toParams(key, API_KEY)]);
    return rows.length === 1;
  }

  getAccount(userId: string): Promise<AccountRecord | undefined> {
    return this.one(S.getAccount, [userId], ACCOUNT);
  }

  async usernameTaken(username: string): Promise<boolean> {
    return (await this.db.rows(S.usernameTaken, [username])).length > 0;
  }

  getAccountByUsername(username: string): Promise<AccountRecord | undefined> {
    return this.one(S.getAccountByUsername, [username], ACCOUNT);
  }

  findKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return this.one(S.keyByHash, [hash], API_KEY);
  }

  getKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    return this.one(S.getKey, [keyId], API_KEY);
  }

  listKeys(userId: string): Promise<ApiKeyRecord[]> {
    return this.all(S.listKeys, [userId], API_KEY);
  }

  async addKey(key: ApiKeyRecord): Promise<void> {
    await this.db.rows(S.addKey, toParams(key, API_KEY));
  }

  async rotateKey(oldKeyId: string, next: ApiKeyRecord, at: string): Promise<void> {
    const rows = await this.db.rows(S.rotateKey, [...toParams(next, API_KEY), oldKeyId, at]);
    if (rows.length === 0) throw new Error(`no key ${oldKeyId}`);
  }

  async revokeKey(keyId: string, at: string): Promise<void> {
    await this.db.rows(S.revokeKey, [keyId, at]);
  }

  async putAsset(asset: AssetRecord): Promise<void> {
    await this.db.rows(S.putAsset, toParams(asset, ASSET));
  }

  getAsset(assetId: string): Promise<AssetRecord | undefined> {
    return this.one(S.getAsset, [assetId], ASSET);
  }

  listAssets(userId: string): Promise<AssetRecord[]> {
    return this.all(S.listAssets, [userId], ASSET);
  }

  listAllAssets(): Promise<AssetRecord[]> {
    return this.all(S.listAllAssets, [], ASSET);
  }

  appendEvent(event: Omit<EventRecord, 'seq'>, deliveries: Omit<DeliveryRecord, 'seq'>[]): Promise<AppendResult> {
    return this.appends.append(event, deliveries);
  }

  getEvent(eventId: string): Promise<EventRecord | undefined> {
    return this.one(S.getEvent, [eventId], EVENT_ROW);
  }

  async listEvents(userId: string, filter: EventFilter, page: SeqPage): Promise<PageResult<EventRecord>> {
    const filters: string[] = [];
    const values: unknown[] = [userId];
    if (filter.type !== undefined) filters.push('type =') && values.push(filter.type);
    if (filter.asset_id !== undefined) filters.push('asset_id =') && values.push(filter.asset_id);
    if (filter.since !== undefined) filters.push('created >=') && values.push(filter.since);
    if (page.before !== undefined) values.push(page.before);
    values.push(page.limit + 1);
    const statement = pagedStatement(this.eventPages, 'events', 'user_id', 'events_page', filters, page.before !== undefined);
    return toPage<EventRecord>(await this.db.rows(statement, values), EVENT_ROW, page.limit);
  }

  getWebhook(userId: string): Promise<WebhookRecord | undefined> {
    return this.one(S.getWebhook, [userId], WEBHOOK);
  }

  async putWebhook(webhook: WebhookRecord): Promise<void> {
    await this.db.rows(S.putWebhook, toParams(webhook, WEBHOOK));
  }

  async deleteWebhook(userId: string, at: string): Promise<void> {
    await this.db.rows(S.deleteWebhook, [userId, at]);
  }

  getDelivery(deliveryId: string): Promise<DeliveryRecord | undefined> {
    return this.one(S.getDelivery, [deliveryId], DELIVERY_ROW);
  }

  async putDelivery(delivery: DeliveryRecord): Promise<void> {
    await this.db.rows(S.putDelivery, toParams(delivery, DELIVERY));
  }

  async listDeliveries(userId: string, page: SeqPage, status?: DeliveryStatus): Promise<PageResult<DeliveryRecord>> {
    const values: unknown[] = [userId];
    if (status !== undefined) values.push(status);
    if (page.before !== undefined) values.push(page.before);
    values.push(page.limit + 1);
    const statement = pagedStatement(
      this.deliveryPages,
      'webhook_deliveries',
      'user_id',
      'deliveries_page',
      status === undefined ? [] : ['status ='],
      page.before !== undefined,
    );
    return toPage<DeliveryRecord>(await this.db.rows(statement, values), DELIVERY_ROW, page.limit);
  }

  pendingDeliveries(): Promise<DeliveryRecord[]> {
    return this.all(S.pendingDeliveries, [], DELIVERY_ROW);
  }

  async cancelPendingDeliveries(userId: string, at: string): Promise<void> {
    await this.db.rows(S.cancelPending, [userId, at]);
  }
}
