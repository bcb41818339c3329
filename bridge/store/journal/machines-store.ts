/**
 * The machine-payments store on the embedded journal. Indexes (keys by hash, events per account in
 * log order, external ids, pending deliveries) are rebuilt from the journal's apply hook on start and
 * kept current on every commit. Every method checks and writes within one synchronous step, so two
 * concurrent calls cannot both pass a uniqueness check.
 */
import type { AppendResult, EventFilter, MachinesStore, PageResult, SeqPage } from '../../machines/store.js';
import type { AccountRecord, ApiKeyRecord, AssetRecord, DeliveryRecord, DeliveryStatus, EventRecord, WebhookRecord } from '../../machines/types.js';
import { withAssetDefaults } from '../../machines/types.js';
import type { Journal, Mutation } from './engine.js';
import { lowerBound, pageNewestFirst } from './paging.js';

const ACCOUNTS = 'accounts';
const KEYS = 'api_keys';
const ASSETS = 'assets';
const EVENTS = 'events';
const WEBHOOKS = 'webhooks';
const DELIVERIES = 'webhook_deliveries';

export class JournalMachinesStore implements MachinesStore {
  private readonly journal: Journal;
  private readonly keyByHash = new Map<string, string>();
  private readonly keysByUser = new Map<string, Set<string>>();
  private readonly usernames = new Map<string, string>();
  private readonly assetsByUser = new Map<string, Set<string>>();
  private readonly eventsByUser = new Map<string, EventRecord[]>();
  private readonly eventByExternal = new Map<string, string>();
  private readonly deliveriesByUser = new Map<string, DeliveryRecord[]>();
  private readonly pending = new Set<string>();
  private eventSeq = 0;
  private deliverySeq = 0;

  /** Registers its indexes on the journal; call before `journal.open()`. */
  constructor(journal: Journal) {
    this.journal = journal;
    journal.onApply((c, id, next, prev) => this.index(c, id, next, prev));
  }

  private index(c: string, id: string, next: unknown, prev: unknown): void {
    switch (c) {
      case ACCOUNTS: {
        const p = prev as AccountRecord | undefined;
        const n = next as AccountRecord | undefined;
        if (p) this.usernames.delete(p.username);
        if (n) this.usernames.set(n.username, id);
        break;
      }
      case KEYS: {
        const p = prev as ApiKeyRecord | undefined;
        const n = next as ApiKeyRecord | undefined;
        if (p) this.keyByHash.delete(p.hash);
        if (n) {
          this.keyByHash.set(n.hash, id);
          setOf(this.keysByUser, n.user_id).add(id);
        } else if (p) this.keysByUser.get(p.user_id)?.delete(id);
        break;
      }
      case ASSETS: {
        const n = next as AssetRecord | undefined;
        const p = prev as AssetRecord | undefined;
        if (n && n.deleted_at === null) setOf(this.assetsByUser, n.user_id).add(id);
        else if (n ?? p) this.assetsByUser.get((n ?? (p as AssetRecord)).user_id)?.delete(id);
        break;
      }
      case EVENTS: {
        // Events are append-only: never updated, never deleted.
        const n = next as EventRecord;
        listOf(this.eventsByUser, n.user_id).push(n);
        if (n.external_id !== null) this.eventByExternal.set(externalKey(n.user_id, n.external_id), id);
        this.eventSeq = Math.max(this.eventSeq, n.seq);
        break;
      }
      case DELIVERIES: {
        const n = next as DeliveryRecord;
        const list = listOf(this.deliveriesByUser, n.user_id);
        if (prev === undefined) list.push(n);
        else list[lowerBound(list, n.seq)] = n;
        if (n.status === 'pending') this.pending.add(id);
        else this.pending.delete(id);
        this.deliverySeq = Math.max(this.deliverySeq, n.seq);
        break;
      }
    }
  }

  async createAccount(account: AccountRecord, key: ApiKeyRecord): Promise<boolean> {
    if (this.usernames.has(account.username)) return false;
    await this.journal.commit([
      { c: ACCOUNTS, id: account.user_id, doc: account },
      { c: KEYS, id: key.key_id, doc: key },
    ]);
    return true;
  }

  async getAccount(userId: string): Promise<AccountRecord | undefined> {
    return this.journal.get<AccountRecord>(ACCOUNTS, userId);
  }

  async usernameTaken(username: string): Promise<boolean> {
    return this.usernames.has(username);
  }

  async getAccountByUsername(username: string): Promise<AccountRecord | undefined> {
    const id = this.usernames.get(username);
    return id === undefined ? undefined : this.journal.get<AccountRecord>(ACCOUNTS, id);
  }

  async findKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const id = this.keyByHash.get(hash);
    return id === undefined ? undefined : this.journal.get<ApiKeyRecord>(KEYS, id);
  }

  async getKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    return this.journal.get<ApiKeyRecord>(KEYS, keyId);
  }

  async listKeys(userId: string): Promise<ApiKeyRecord[]> {
    return [...(this.keysByUser.get(userId) ?? [])].map((id) => this.journal.get<ApiKeyRecord>(KEYS, id)).filter((k): k is ApiKeyRecord => k !== undefined);
  }

  async addKey(key: ApiKeyRecord): Promise<void> {
    await this.journal.commit([{ c: KEYS, id: key.key_id, doc: key }]);
  }

  async rotateKey(oldKeyId: string, next: ApiKeyRecord, at: string): Promise<void> {
    const old = this.journal.get<ApiKeyRecord>(KEYS, oldKeyId);
    if (!old) throw new Error(`no key ${oldKeyId}`);
    await this.journal.commit([
      { c: KEYS, id: oldKeyId, doc: { ...old, revoked_at: at } },
      { c: KEYS, id: next.key_id, doc: next },
    ]);
  }

  async revokeKey(keyId: string, at: string): Promise<void> {
    const key = this.journal.get<ApiKeyRecord>(KEYS, keyId);
    if (!key || key.revoked_at !== null) return;
    await this.journal.commit([{ c: KEYS, id: keyId, doc: { ...key, revoked_at: at } }]);
  }

  async putAsset(asset: AssetRecord): Promise<void> {
    await this.journal.commit([{ c: ASSETS, id: asset.asset_id, doc: asset }]);
  }

  async getAsset(assetId: string): Promise<AssetRecord | undefined> {
    const asset = this.journal.get<AssetRecord>(ASSETS, assetId);
    return asset && withAssetDefaults(asset);
  }

  async listAssets(userId: string): Promise<AssetRecord[]> {
    return [...(this.assetsByUser.get(userId) ?? [])]
      .map((id) => this.journal.get<AssetRecord>(ASSETS, id))
      .filter((a): a is AssetRecord => a !== undefined)
      .map(withAssetDefaults);
  }

  async listAllAssets(): Promise<AssetRecord[]> {
    return (await Promise.all([...this.assetsByUser.keys()].map((userId) => this.listAssets(userId)))).flat();
  }

  async appendEvent(event: Omit<EventRecord, 'seq'>, deliveries: Omit<DeliveryRecord, 'seq'>[]): Promise<AppendResult> {
    const staged = this.stageEvent(event, deliveries);
    if ('duplicate' in staged) {
      // The first writer may still be syncing: answer "duplicate" only once that event is durable.
      await this.journal.sync();
      return staged;
    }
    await this.journal.commit(staged.mutations);
    return { stored: staged.stored };
  }

  /**
   * The mutations that append an event and its deliveries, for a caller that commits them together
   * with its own: the journal engine's Lightning store settling a payment (its `settlePayment`, the
   * unit of work every engine implements). Not part of any store interface. Assigns seqs, so the
   * caller must commit in the same synchronous step.
   */
  stageEvent(
    event: Omit<EventRecord, 'seq'>,
    deliveries: Omit<DeliveryRecord, 'seq'>[],
  ): { mutations: Mutation[]; stored: EventRecord } | { duplicate: EventRecord } {
    if (event.external_id !== null) {
      const existing = this.eventByExternal.get(externalKey(event.user_id, event.external_id));
      if (existing !== undefined) return { duplicate: this.journal.get<EventRecord>(EVENTS, existing) as EventRecord };
    }
    const stored: EventRecord = { ...event, seq: this.eventSeq + 1 };
    const mutations: Mutation[] = [{ c: EVENTS, id: stored.event_id, doc: stored }];
    let seq = this.deliverySeq;
    for (const d of deliveries) mutations.push({ c: DELIVERIES, id: d.delivery_id, doc: { ...d, seq: ++seq } });
    return { mutations, stored };
  }

  async getEvent(eventId: string): Promise<EventRecord | undefined> {
    return this.journal.get<EventRecord>(EVENTS, eventId);
  }

  async listEvents(userId: string, filter: EventFilter, page: SeqPage): Promise<PageResult<EventRecord>> {
    return pageNewestFirst(
      this.eventsByUser.get(userId) ?? [],
      page,
      (e) =>
        (filter.type === undefined || e.type === filter.type) &&
        (filter.asset_id === undefined || e.asset_id === filter.asset_id) &&
        (filter.since === undefined || e.created >= filter.since),
    );
  }

  async getWebhook(userId: string): Promise<WebhookRecord | undefined> {
    return this.journal.get<WebhookRecord>(WEBHOOKS, userId);
  }

  async putWebhook(webhook: WebhookRecord): Promise<void> {
    await this.journal.commit([{ c: WEBHOOKS, id: webhook.user_id, doc: webhook }]);
  }

  async deleteWebhook(userId: string, at: string): Promise<void> {
    await this.journal.commit([{ c: WEBHOOKS, id: userId, delete: true }, ...this.cancellations(userId, at)]);
  }

  async getDelivery(deliveryId: string): Promise<DeliveryRecord | undefined> {
    return this.journal.get<DeliveryRecord>(DELIVERIES, deliveryId);
  }

  async putDelivery(delivery: DeliveryRecord): Promise<void> {
    await this.journal.commit([{ c: DELIVERIES, id: delivery.delivery_id, doc: delivery }]);
  }

  async listDeliveries(userId: string, page: SeqPage, status?: DeliveryStatus): Promise<PageResult<DeliveryRecord>> {
    return pageNewestFirst(this.deliveriesByUser.get(userId) ?? [], page, (d) => status === undefined || d.status === status);
  }

  async pendingDeliveries(): Promise<DeliveryRecord[]> {
    return [...this.pending].map((id) => this.journal.get<DeliveryRecord>(DELIVERIES, id) as DeliveryRecord);
  }

  async cancelPendingDeliveries(userId: string, at: string): Promise<void> {
    await this.journal.commit(this.cancellations(userId, at));
  }

  private cancellations(userId: string, at: string): Mutation[] {
    const out: Mutation[] = [];
    for (const id of this.pending) {
      const d = this.journal.get<DeliveryRecord>(DELIVERIES, id) as DeliveryRecord;
      if (d.user_id === userId) {
        out.push({ c: DELIVERIES, id, doc: { ...d, status: 'cancelled', next_attempt_at: null, updated: at } });
      }
    }
    return out;
  }
}

function externalKey(userId: string, externalId: string): string {
  return `${userId}\u0000${externalId}`;
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

function listOf<K, V>(map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key);
  if (!list) {
    list = [];
    map.set(key, list);
  }
  return list;
}
