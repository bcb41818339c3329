/**
 * The x402 facilitator's store on the embedded journal. Indexes (emails, each user's keys and
 * resources, token families, registrations by network and address) are rebuilt from the journal's
 * apply hook on start and kept current on every commit. Every method checks and writes within one
 * synchronous step, so two concurrent calls cannot both pass a uniqueness check or a cap.
 */
import type {
  ClientKeyRecord,
  Page,
  RefreshTokenRecord,
  RequestCountRow,
  ResourceRecord,
  RotateOutcome,
  SettlementMetricRecord,
  X402AssetRecord,
  X402Store,
  X402UserRecord,
} from '../../x402/store.js';
import type { Journal, Mutation } from './engine.js';

const USERS = 'x402_users';
const REFRESH = 'x402_refresh_tokens';
const CLIENTS = 'x402_clients';
const RESOURCES = 'x402_resources';
const REQUESTS = 'x402_request_counts';
const SETTLEMENTS = 'x402_settlement_metrics';
const ASSETS = 'x402_assets';

const assetKey = (network: string, address: string): string => `${network.toLowerCase()}\u0000${address.toLowerCase()}`;
const countKey = (r: { day: string; user_id: number; route: string }): string => `${r.day}\u0000${r.user_id}\u0000${r.route}`;

export class JournalX402Store implements X402Store {
  private readonly journal: Journal;
  private readonly emails = new Map<string, number>();
  private readonly userIds: number[] = [];
  private readonly families = new Map<string, Set<string>>();
  private readonly clientsInOrder: string[] = [];
  private readonly liveClients = new Map<number, number>();
  private readonly resourceIds: number[] = [];
  private readonly resourcesPerUser = new Map<number, number>();
  private readonly assetsByKey = new Map<string, number>();
  private readonly assetIds: number[] = [];
  private readonly settlementIds: string[] = [];
  private lastUserId = 0;
  private lastResourceId = 0;
  private lastAssetId = 0;

  /** Registers its indexes on the journal; call before `journal.open()`. */
  constructor(journal: Journal) {
    this.journal = journal;
    journal.onApply((c, id, next, prev) => this.index(c, id, next, prev));
  }

  private index(c: string, id: string, next: unknown, prev: unknown): void {
    switch (c) {
      case USERS: {
        const n = next as X402UserRecord;
        if (prev === undefined) {
          this.userIds.push(n.id);
          this.lastUserId = Math.max(this.lastUserId, n.id);
        }
        this.emails.set(n.email, n.id);
        break;
      }
      case REFRESH: {
        const n = next as RefreshTokenRecord;
        if (prev === undefined) setOf(this.families, n.family_id).add(id);
        break;
      }
      case CLIENTS: {
        const n = next as ClientKeyRecord;
        const p = prev as ClientKeyRecord | undefined;
        if (p === undefined) this.clientsInOrder.push(id);
        const wasLive = p !== undefined && p.deleted_at === null;
        const isLive = n.deleted_at === null;
        if (wasLive !== isLive) this.liveClients.set(n.user_id, (this.liveClients.get(n.user_id) ?? 0) + (isLive ? 1 : -1));
        break;
      }
      case RESOURCES: {
        const n = next as ResourceRecord;
        if (prev === undefined) {
          this.resourceIds.push(n.id);
          this.lastResourceId = Math.max(this.lastResourceId, n.id);
          this.resourcesPerUser.set(n.user_id, (this.resourcesPerUser.get(n.user_id) ?? 0) + 1);
        }
        break;
      }
      case SETTLEMENTS:
        if (prev === undefined) this.settlementIds.push(id);
        break;
      case ASSETS: {
        const n = next as X402AssetRecord;
        if (prev === undefined) {
          this.assetIds.push(n.id);
          this.lastAssetId = Math.max(this.lastAssetId, n.id);
        }
        this.assetsByKey.set(assetKey(n.network, n.asset), n.id);
        break;
      }
    }
  }

  async createUser(user: Omit<X402UserRecord, 'id'>): Promise<X402UserRecord | undefined> {
    if (this.emails.has(user.email)) return undefined;
    const stored: X402UserRecord = { id: this.lastUserId + 1, ...user };
    await this.journal.commit([{ c: USERS, id: String(stored.id), doc: stored }]);
    return stored;
  }

  async getUser(id: number): Promise<X402UserRecord | undefined> {
    return this.journal.get<X402UserRecord>(USERS, String(id));
  }

  async getUserByEmail(email: string): Promise<X402UserRecord | undefined> {
    const id = this.emails.get(email);
    return id === undefined ? undefined : this.getUser(id);
  }

  async listUsers(page: Page): Promise<X402UserRecord[]> {
    return this.userIds.slice(page.offset, page.offset + page.limit).map((id) => this.journal.get<X402UserRecord>(USERS, String(id)) as X402UserRecord);
  }

  async putRefreshToken(token: RefreshTokenRecord): Promise<void> {
    await this.journal.commit([{ c: REFRESH, id: token.token_hash, doc: token }]);
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    return this.journal.get<RefreshTokenRecord>(REFRESH, tokenHash);
  }

  async rotateRefreshToken(oldHash: string, next: RefreshTokenRecord, at: string): Promise<RotateOutcome> {
    const old = this.journal.get<RefreshTokenRecord>(REFRESH, oldHash);
    if (!old) return 'unknown';
    if (old.revoked_at !== null) return 'revoked';
    if (old.rotated_at !== null) {
      await this.journal.commit(this.familyRevocations(old.family_id, at));
      return 'reused';
    }
    await this.journal.commit([
      { c: REFRESH, id: oldHash, doc: { ...old, rotated_at: at } },
      { c: REFRESH, id: next.token_hash, doc: next },
    ]);
    return 'rotated';
  }

  async revokeRefreshFamily(familyId: string, at: string): Promise<boolean> {
    const mutations = this.familyRevocations(familyId, at);
    await this.journal.commit(mutations);
    return mutations.length > 0;
  }

  private familyRevocations(familyId: string, at: string): Mutation[] {
    const out: Mutation[] = [];
    for (const hash of this.families.get(familyId) ?? []) {
      const t = this.journal.get<RefreshTokenRecord>(REFRESH, hash) as RefreshTokenRecord;
      if (t.revoked_at === null) out.push({ c: REFRESH, id: hash, doc: { ...t, revoked_at: at } });
    }
    return out;
  }

  async createClient(client: ClientKeyRecord, maxPerUser: number): Promise<boolean> {
    if ((this.liveClients.get(client.user_id) ?? 0) >= maxPerUser) return false;
    await this.journal.commit([{ c: CLIENTS, id: client.client_id, doc: client }]);
    return true;
  }

  async getClient(clientId: string): Promise<ClientKeyRecord | undefined> {
    return this.journal.get<ClientKeyRecord>(CLIENTS, clientId);
  }

  async listClients(userId: number | undefined, page: Page): Promise<ClientKeyRecord[]> {
    const out: ClientKeyRecord[] = [];
    let skipped = 0;
    for (const id of this.clientsInOrder) {
      const c = this.journal.get<ClientKeyRecord>(CLIENTS, id) as ClientKeyRecord;
      if (c.deleted_at !== null || (userId !== undefined && c.user_id !== userId)) continue;
      if (skipped++ < page.offset) continue;
      if (out.length === page.limit) break;
      out.push(c);
    }
    return out;
  }

  async deleteClient(clientId: string, at: string): Promise<boolean> {
    const c = this.journal.get<ClientKeyRecord>(CLIENTS, clientId);
    if (!c || c.deleted_at !== null) return false;
    await this.journal.commit([{ c: CLIENTS, id: clientId, doc: { ...c, deleted_at: at } }]);
    return true;
  }

  async createResource(resource: Omit<ResourceRecord, 'id'>, maxPerUser: number): Promise<ResourceRecord | undefined> {
    if ((this.resourcesPerUser.get(resource.user_id) ?? 0) >= maxPerUser) return undefined;
    const stored: ResourceRecord = { id: this.lastResourceId + 1, ...resource };
    await this.journal.commit([{ c: RESOURCES, id: String(stored.id), doc: stored }]);
    return stored;
  }

  async getResource(id: number): Promise<ResourceRecord | undefined> {
    return this.journal.get<ResourceRecord>(RESOURCES, String(id));
  }

  async putResource(resource: ResourceRecord): Promise<void> {
    await this.journal.commit([{ c: RESOURCES, id: String(resource.id), doc: resource }]);
  }

  async listResources(userId: number | undefined, page: Page): Promise<ResourceRecord[]> {
    const out: ResourceRecord[] = [];
    let skipped = 0;
    for (const id of this.resourceIds) {
      const r = this.journal.get<ResourceRecord>(RESOURCES, String(id)) as ResourceRecord;
      if (userId !== undefined && r.user_id !== userId) continue;
      if (skipped++ < page.offset) continue;
      if (out.length === page.limit) break;
      out.push(r);
    }
    return out;
  }

  async addRequestCounts(rows: RequestCountRow[]): Promise<void> {
    const sums = new Map<string, RequestCountRow>();
    for (const row of rows) {
      const key = countKey(row);
      const base = sums.get(key) ?? this.journal.get<RequestCountRow>(REQUESTS, key) ?? { ...row, requests: 0, errors: 0, latency_ms: 0 };
      sums.set(key, { ...base, requests: base.requests + row.requests, errors: base.errors + row.errors, latency_ms: base.latency_ms + row.latency_ms });
    }
    await this.journal.commit([...sums].map(([id, doc]) => ({ c: REQUESTS, id, doc })));
  }

  async requestCounts(userId: number | undefined, from: string, to: string): Promise<RequestCountRow[]> {
    const out: RequestCountRow[] = [];
    for (const row of this.journal.values<RequestCountRow>(REQUESTS)) {
      if (row.day >= from && row.day <= to && (userId === undefined || row.user_id === userId)) out.push(row);
    }
    return out.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  }

  async addSettlement(record: SettlementMetricRecord): Promise<boolean> {
    if (this.journal.get(SETTLEMENTS, record.id) !== undefined) return false;
    await this.journal.commit([{ c: SETTLEMENTS, id: record.id, doc: record }]);
    return true;
  }

  async resolveSettlement(id: string, outcome: { success: boolean; fee?: string }): Promise<boolean> {
    const s = this.journal.get<SettlementMetricRecord>(SETTLEMENTS, id);
    if (!s || !s.pending) return false;
    const doc: SettlementMetricRecord = {
      ...s,
      success: outcome.success,
      pending: false,
      ...(outcome.fee !== undefined ? { fee: outcome.fee } : {}),
      ...(outcome.success ? {} : { amount: '0' }),
    };
    await this.journal.commit([{ c: SETTLEMENTS, id, doc }]);
    return true;
  }

  async settlements(userId: number | undefined, from: string, to: string): Promise<SettlementMetricRecord[]> {
    const out: SettlementMetricRecord[] = [];
    for (const id of this.settlementIds) {
      const s = this.journal.get<SettlementMetricRecord>(SETTLEMENTS, id) as SettlementMetricRecord;
      if (s.created >= from && s.created < to && (userId === undefined || s.user_id === userId)) out.push(s);
    }
    return out;
  }

  async putAsset(asset: Omit<X402AssetRecord, 'id'>, mode: 'insert' | 'upsert'): Promise<{ asset: X402AssetRecord; created: boolean }> {
    const existingId = this.assetsByKey.get(assetKey(asset.network, asset.asset));
    if (existingId !== undefined) {
      const existing = this.journal.get<X402AssetRecord>(ASSETS, String(existingId)) as X402AssetRecord;
      if (mode === 'insert') return { asset: existing, created: false };
      const updated: X402AssetRecord = { ...asset, id: existingId, created: existing.created };
      await this.journal.commit([{ c: ASSETS, id: String(existingId), doc: updated }]);
      return { asset: updated, created: false };
    }
    const stored: X402AssetRecord = { id: this.lastAssetId + 1, ...asset };
    await this.journal.commit([{ c: ASSETS, id: String(stored.id), doc: stored }]);
    return { asset: stored, created: true };
  }

  async findAsset(network: string, address: string): Promise<X402AssetRecord | undefined> {
    const id = this.assetsByKey.get(assetKey(network, address));
    return id === undefined ? undefined : this.journal.get<X402AssetRecord>(ASSETS, String(id));
  }

  async listAssets(activeOnly: boolean): Promise<X402AssetRecord[]> {
    return this.assetIds.map((id) => this.journal.get<X402AssetRecord>(ASSETS, String(id)) as X402AssetRecord).filter((a) => !activeOnly || a.active);
  }

  async healthy(): Promise<boolean> {
    // An empty commit is refused once a write has failed (the journal then refuses every write).
    return this.journal.commit([]).then(
      () => true,
      () => false,
    );
  }
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}
