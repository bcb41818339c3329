/**
 * The x402 facilitator's store on PostgreSQL (schema: migrations/002_x402.sql). Uniqueness is the
 * database's (one user per email, one registration per network and address); the per-user caps and
 * the refresh-token rotation run in a transaction that locks what they decide on (a per-user advisory
 * lock, the token's row), so racing writers cannot both pass.
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
import type { Database, Statement } from './database.js';
import { columnList, fromRow, placeholders, select, toParams, upsert, type Columns } from './rows.js';

const USER: Columns = { email: 'text', password_hash: 'text', is_admin: 'bool', account_id: 'text', created: 'time', updated: 'time' };
export const USER_ROW: Columns = { id: 'num', ...USER };
export const REFRESH: Columns = {
  token_hash: 'text',
  user_id: 'num',
  family_id: 'text',
  created: 'time',
  expires_at: 'time',
  rotated_at: 'time',
  revoked_at: 'time',
};
export const CLIENT: Columns = {
  client_id: 'text',
  user_id: 'num',
  title: 'text',
  scope: 'json',
  token_hash: 'text',
  created: 'time',
  expires_at: 'time',
  deleted_at: 'time',
};
const RESOURCE: Columns = {
  user_id: 'num',
  resource: 'text',
  type: 'text',
  x402_version: 'num',
  accepts: 'json',
  metadata: 'json',
  created: 'time',
  updated: 'time',
};
export const RESOURCE_ROW: Columns = { id: 'num', ...RESOURCE };
export const COUNT: Columns = { day: 'text', user_id: 'num', route: 'text', requests: 'num', errors: 'num', latency_ms: 'num' };
export const SETTLEMENT: Columns = {
  id: 'text',
  user_id: 'num',
  client_id: 'text',
  network: 'text',
  asset: 'text',
  amount: 'text',
  fee: 'text',
  success: 'bool',
  pending: 'bool',
  created: 'time',
};
const ASSET: Columns = {
  network: 'text',
  asset: 'text',
  symbol: 'text',
  decimals: 'num',
  active: 'bool',
  name: 'text',
  version: 'text',
  source: 'text',
  created: 'time',
  updated: 'time',
};
export const ASSET_ROW: Columns = { id: 'num', ...ASSET };

/** Lock keys: "x4c" for a user's client keys, "x4r" for their resources (plus the user id). */
const CLIENT_LOCK = 0x783463;
const RESOURCE_LOCK = 0x783472;

const S = {
  createUser: select(
    'x402_users_create',
    `INSERT INTO x402_users (${columnList(USER)}) VALUES (${placeholders(USER)}) ON CONFLICT (email) DO NOTHING RETURNING *`,
  ),
  getUser: select('x402_users_get', 'SELECT * FROM x402_users WHERE id = $1'),
  userByEmail: select('x402_users_by_email', 'SELECT * FROM x402_users WHERE email = $1'),
  listUsers: select('x402_users_list', 'SELECT * FROM x402_users ORDER BY id OFFSET $1 LIMIT $2'),
  putRefresh: upsert('x402_refresh_put', 'x402_refresh_tokens', REFRESH, 'token_hash'),
  getRefresh: select('x402_refresh_get', 'SELECT * FROM x402_refresh_tokens WHERE token_hash = $1'),
  lockRefresh: select('x402_refresh_lock', 'SELECT * FROM x402_refresh_tokens WHERE token_hash = $1 FOR UPDATE'),
  markRotated: select('x402_refresh_rotated', 'UPDATE x402_refresh_tokens SET rotated_at = $2 WHERE token_hash = $1'),
  revokeFamily: select(
    'x402_refresh_revoke_family',
    'UPDATE x402_refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL RETURNING token_hash',
  ),
  lock: select('x402_lock', 'SELECT pg_advisory_xact_lock($1::integer, $2::integer)'),
  liveClients: select('x402_clients_live_count', 'SELECT count(*)::bigint AS n FROM x402_clients WHERE user_id = $1 AND deleted_at IS NULL'),
  insertClient: upsert('x402_clients_put', 'x402_clients', CLIENT, 'client_id'),
  getClient: select('x402_clients_get', 'SELECT * FROM x402_clients WHERE client_id = $1'),
  listClientsAll: select('x402_clients_list_all', 'SELECT * FROM x402_clients WHERE deleted_at IS NULL ORDER BY pos OFFSET $1 LIMIT $2'),
  listClientsUser: select('x402_clients_list_user', 'SELECT * FROM x402_clients WHERE user_id = $3 AND deleted_at IS NULL ORDER BY pos OFFSET $1 LIMIT $2'),
  deleteClient: select('x402_clients_delete', 'UPDATE x402_clients SET deleted_at = $2 WHERE client_id = $1 AND deleted_at IS NULL RETURNING client_id'),
  resourceCount: select('x402_resources_count', 'SELECT count(*)::bigint AS n FROM x402_resources WHERE user_id = $1'),
  insertResource: select('x402_resources_create', `INSERT INTO x402_resources (${columnList(RESOURCE)}) VALUES (${placeholders(RESOURCE)}) RETURNING *`),
  getResource: select('x402_resources_get', 'SELECT * FROM x402_resources WHERE id = $1'),
  putResource: select('x402_resources_put', `UPDATE x402_resources SET (${columnList(RESOURCE)}) = (${placeholders(RESOURCE, 2)}) WHERE id = $1`),
  listResourcesAll: select('x402_resources_list_all', 'SELECT * FROM x402_resources ORDER BY id OFFSET $1 LIMIT $2'),
  listResourcesUser: select('x402_resources_list_user', 'SELECT * FROM x402_resources WHERE user_id = $3 ORDER BY id OFFSET $1 LIMIT $2'),
  addCounts: select(
    'x402_request_counts_add',
    `INSERT INTO x402_request_counts (day, user_id, route, requests, errors, latency_ms)
      SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
      ON CONFLICT (day, user_id, route) DO UPDATE SET
        requests = x402_request_counts.requests + EXCLUDED.requests,
        errors = x402_request_counts.errors + EXCLUDED.errors,
        latency_ms = x402_request_counts.latency_ms + EXCLUDED.latency_ms`,
  ),
  countsAll: select('x402_request_counts_all', 'SELECT * FROM x402_request_counts WHERE day >= $1 AND day <= $2 ORDER BY day, user_id, route'),
  countsUser: select(
    'x402_request_counts_user',
    'SELECT * FROM x402_request_counts WHERE user_id = $3 AND day >= $1 AND day <= $2 ORDER BY day, user_id, route',
  ),
  addSettlement: select(
    'x402_settlement_metrics_add',
    `INSERT INTO x402_settlement_metrics (id, user_id, client_id, network, asset, amount, fee, success, pending, created)
      VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, $8, $9, $10) ON CONFLICT (id) DO NOTHING RETURNING id`,
  ),
  resolveSettlement: select(
    'x402_settlement_metrics_resolve',
    `UPDATE x402_settlement_metrics SET success = $2::boolean, pending = false, fee = COALESCE($3::numeric, fee),
      amount = CASE WHEN $2::boolean THEN amount ELSE 0 END WHERE id = $1 AND pending RETURNING id`,
  ),
  settlementsAll: select(
    'x402_settlement_metrics_all',
    'SELECT id, user_id, client_id, network, asset, amount::text AS amount, fee::text AS fee, success, pending, created FROM x402_settlement_metrics WHERE created >= $1 AND created < $2 ORDER BY created, id',
  ),
  settlementsUser: select(
    'x402_settlement_metrics_user',
    'SELECT id, user_id, client_id, network, asset, amount::text AS amount, fee::text AS fee, success, pending, created FROM x402_settlement_metrics WHERE user_id = $3 AND created >= $1 AND created < $2 ORDER BY created, id',
  ),
  insertAsset: select(
    'x402_assets_insert',
    `INSERT INTO x402_assets (${columnList(ASSET)}) VALUES (${placeholders(ASSET)}) ON CONFLICT (lower(network), lower(asset)) DO NOTHING RETURNING *`,
  ),
  updateAsset: select(
    'x402_assets_update',
    `UPDATE x402_assets SET (network, asset, symbol, decimals, active, name, version, source, updated) = ($1, $2, $3, $4::integer, $5::boolean, $6, $7, $8, $9::timestamptz)
      WHERE lower(network) = lower($1) AND lower(asset) = lower($2) RETURNING *`,
  ),
  findAsset: select('x402_assets_find', 'SELECT * FROM x402_assets WHERE lower(network) = lower($1) AND lower(asset) = lower($2)'),
  listAssets: select('x402_assets_list', 'SELECT * FROM x402_assets ORDER BY id'),
  listActiveAssets: select('x402_assets_list_active', 'SELECT * FROM x402_assets WHERE active ORDER BY id'),
  ping: select('x402_ping', 'SELECT 1 AS ok'),
} satisfies Record<string, Statement>;

export class PostgresX402Store implements X402Store {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  private async one<T>(statement: Statement, values: unknown[], columns: Columns): Promise<T | undefined> {
    const row = (await this.db.rows(statement, values))[0];
    return row === undefined ? undefined : fromRow<T>(row, columns);
  }

  private async all<T>(statement: Statement, values: unknown[], columns: Columns): Promise<T[]> {
    return (await this.db.rows(statement, values)).map((r) => fromRow<T>(r, columns));
  }

  createUser(user: Omit<X402UserRecord, 'id'>): Promise<X402UserRecord | undefined> {
    return this.one(S.createUser, toParams(user, USER), USER_ROW);
  }

  getUser(id: number): Promise<X402UserRecord | undefined> {
    return this.one(S.getUser, [id], USER_ROW);
  }

  getUserByEmail(email: string): Promise<X402UserRecord | undefined> {
    return this.one(S.userByEmail, [email], USER_ROW);
  }

  listUsers(page: Page): Promise<X402UserRecord[]> {
    return this.all(S.listUsers, [page.offset, page.limit], USER_ROW);
  }

  async putRefreshToken(token: RefreshTokenRecord): Promise<void> {
    await this.db.rows(S.putRefresh, toParams(token, REFRESH));
  }

  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    return this.one(S.getRefresh, [tokenHash], REFRESH);
  }

  rotateRefreshToken(oldHash: string, next: RefreshTokenRecord, at: string): Promise<RotateOutcome> {
    return this.db.transaction(async (q) => {
      const row = (await q.rows(S.lockRefresh, [oldHash]))[0];
      if (row === undefined) return 'unknown';
      const old = fromRow<RefreshTokenRecord>(row, REFRESH);
      if (old.revoked_at !== null) return 'revoked';
      if (old.rotated_at !== null) {
        await q.rows(S.revokeFamily, [old.family_id, at]);
        return 'reused';
      }
      await q.rows(S.markRotated, [oldHash, at]);
      await q.rows(S.putRefresh, toParams(next, REFRESH));
      return 'rotated';
    });
  }

  async revokeRefreshFamily(familyId: string, at: string): Promise<boolean> {
    return (await this.db.rows(S.revokeFamily, [familyId, at])).length > 0;
  }

  createClient(client: ClientKeyRecord, maxPerUser: number): Promise<boolean> {
    return this.db.transaction(async (q) => {
      await q.rows(S.lock, [CLIENT_LOCK, client.user_id]);
      const live = Number((await q.rows<{ n: string }>(S.liveClients, [client.user_id]))[0]?.n ?? 0);
      if (live >= maxPerUser) return false;
      await q.rows(S.insertClient, toParams(client, CLIENT));
      return true;
    });
  }

  getClient(clientId: string): Promise<ClientKeyRecord | undefined> {
    return this.one(S.getClient, [clientId], CLIENT);
  }

  listClients(userId: number | undefined, page: Page): Promise<ClientKeyRecord[]> {
    return userId === undefined
      ? this.all(S.listClientsAll, [page.offset, page.limit], CLIENT)
      : this.all(S.listClientsUser, [page.offset, page.limit, userId], CLIENT);
  }

  async deleteClient(clientId: string, at: string): Promise<boolean> {
    return (await this.db.rows(S.deleteClient, [clientId, at])).length > 0;
  }

  createResource(resource: Omit<ResourceRecord, 'id'>, maxPerUser: number): Promise<ResourceRecord | undefined> {
    return this.db.transaction(async (q) => {
      await q.rows(S.lock, [RESOURCE_LOCK, resource.user_id]);
      const count = Number((await q.rows<{ n: string }>(S.resourceCount, [resource.user_id]))[0]?.n ?? 0);
      if (count >= maxPerUser) return undefined;
      const row = (await q.rows(S.insertResource, toParams(resource, RESOURCE)))[0];
      return row === undefined ? undefined : fromRow<ResourceRecord>(row, RESOURCE_ROW);
    });
  }

  getResource(id: number): Promise<ResourceRecord | undefined> {
    return this.one(S.getResource, [id], RESOURCE_ROW);
  }

  async putResource(resource: ResourceRecord): Promise<void> {
    await this.db.rows(S.putResource, [resource.id, ...toParams(resource, RESOURCE)]);
  }

  listResources(userId: number | undefined, page: Page): Promise<ResourceRecord[]> {
    return userId === undefined
      ? this.all(S.listResourcesAll, [page.offset, page.limit], RESOURCE_ROW)
      : this.all(S.listResourcesUser, [page.offset, page.limit, userId], RESOURCE_ROW);
  }

  async addRequestCounts(rows: RequestCountRow[]): Promise<void> {
    if (rows.length === 0) return;
    // One row per key in a statement (ON CONFLICT cannot touch a row twice): sum duplicates first.
    const sums = new Map<string, RequestCountRow>();
    for (const r of rows) {
      const key = `${r.day}\u0000${r.user_id}\u0000${r.route}`;
      const s = sums.get(key);
      sums.set(key, s ? { ...s, requests: s.requests + r.requests, errors: s.errors + r.errors, latency_ms: s.latency_ms + r.latency_ms } : { ...r });
    }
    const list = [...sums.values()];
    await this.db.rows(S.addCounts, [
      list.map((r) => r.day),
      list.map((r) => r.user_id),
      list.map((r) => r.route),
      list.map((r) => r.requests),
      list.map((r) => r.errors),
      list.map((r) => Math.round(r.latency_ms)),
    ]);
  }

  requestCounts(userId: number | undefined, from: string, to: string): Promise<RequestCountRow[]> {
    return userId === undefined ? this.all(S.countsAll, [from, to], COUNT) : this.all(S.countsUser, [from, to, userId], COUNT);
  }

  async addSettlement(r: SettlementMetricRecord): Promise<boolean> {
    const rows = await this.db.rows(S.addSettlement, [r.id, r.user_id, r.client_id, r.network, r.asset, r.amount, r.fee, r.success, r.pending, r.created]);
    return rows.length > 0;
  }

  async resolveSettlement(id: string, outcome: { success: boolean; fee?: string }): Promise<boolean> {
    return (await this.db.rows(S.resolveSettlement, [id, outcome.success, outcome.fee ?? null])).length > 0;
  }

  settlements(userId: number | undefined, from: string, to: string): Promise<SettlementMetricRecord[]> {
    return userId === undefined ? this.all(S.settlementsAll, [from, to], SETTLEMENT) : this.all(S.settlementsUser, [from, to, userId], SETTLEMENT);
  }

  async putAsset(asset: Omit<X402AssetRecord, 'id'>, mode: 'insert' | 'upsert'): Promise<{ asset: X402AssetRecord; created: boolean }> {
    const params = toParams(asset, ASSET);
    for (;;) {
      const inserted = await this.one<X402AssetRecord>(S.insertAsset, params, ASSET_ROW);
      if (inserted) return { asset: inserted, created: true };
      if (mode === 'upsert') {
        const a = asset;
        const values = [a.network, a.asset, a.symbol, a.decimals, a.active, a.name, a.version, a.source, a.updated];
        const updated = await this.one<X402AssetRecord>(S.updateAsset, values, ASSET_ROW);
        if (updated) return { asset: updated, created: false };
      } else {
        const existing = await this.findAsset(asset.network, asset.asset);
        if (existing) return { asset: existing, created: false };
      }
      // The conflicting row vanished in between (never, as nothing deletes them): try again.
    }
  }

  findAsset(network: string, address: string): Promise<X402AssetRecord | undefined> {
    return this.one(S.findAsset, [network, address], ASSET_ROW);
  }

  listAssets(activeOnly: boolean): Promise<X402AssetRecord[]> {
    return this.all(activeOnly ? S.listActiveAssets : S.listAssets, [], ASSET_ROW);
  }

  async healthy(): Promise<boolean> {
    return this.db.rows(S.ping, []).then(
      () => true,
      () => false,
    );
  }
}
