/**
 * The x402 facilitator's store: people (email + password), their refresh tokens, client keys,
 * resources, request metrics, settlement metrics and the token registry. Services depend on this,
 * never on an engine: the journal implements it in `bridge/store/journal/x402-store.ts`, PostgreSQL in
 * `bridge/store/postgres/x402-store.ts` (migration 002_x402.sql), and both pass
 * `test/store/x402-store.contract.ts`. Every write is durable when its promise resolves; uniqueness
 * (one user per email, one registration per token and network) and the per-user caps are the
 * store's to enforce, so racing writers cannot both win.
 */

/** A person who signed up with `POST /api/v1/signup` (or was made by an admin). */
export interface X402UserRecord {
  /** Assigned by the store: 1, 2, 3… (the seed's `id`). */
  id: number;
  /** Lowercased; unique. */
  email: string;
  /** `scrypt$N$r$p$salt$hash` (see users/passwords.ts); never the password. */
  password_hash: string;
  is_admin: boolean;
  /** The machine-payments account this person also is (one account model, DESIGN.md "Identity"). */
  account_id: string;
  created: string;
  updated: string;
}

/** A refresh token, by the sha256 of its id (the token itself is never stored). */
export interface RefreshTokenRecord {
  token_hash: string;
  user_id: number;
  /** Every token rotated from one login shares it: reusing a rotated token revokes the family. */
  family_id: string;
  created: string;
  expires_at: string;
  /** When it was exchanged for its successor (a later use is a reuse). */
  rotated_at: string | null;
  revoked_at: string | null;
}

export type RotateOutcome = 'rotated' | 'reused' | 'revoked' | 'unknown';

/** Operations a client key may be allowed (`scope`, comma-separated on the wire). */
export const CLIENT_SCOPES = ['verify', 'settle', 'supported'] as const;
export type ClientScope = (typeof CLIENT_SCOPES)[number];

/** A client key pair (`X-Client-ID` / `X-Client-Token`); the token only as its sha256. */
export interface ClientKeyRecord {
  client_id: string;
  user_id: number;
  title: string;
  scope: ClientScope[];
  token_hash: string;
  created: string;
  expires_at: string | null;
  /** Soft delete: the key stops working and leaves the lists, the row stays. */
  deleted_at: string | null;
}

/** A protected URL a merchant registered, with the payment methods it accepts. */
export interface ResourceRecord {
  id: number;
  user_id: number;
  resource: string;
  type: string;
  x402_version: number;
  accepts: Record<string, unknown>[];
  metadata: Record<string, unknown>;
  created: string;
  updated: string;
}

/** Requests to the x402 family, summed per day, user (0 = anonymous) and route. */
export interface RequestCountRow {
  /** `YYYY-MM-DD` (UTC). */
  day: string;
  user_id: number;
  route: string;
  requests: number;
  /** Answers with a status >= 400. */
  errors: number;
  /** Summed request durations. */
  latency_ms: number;
}

/** What one `/settle` answered, for the settlement metrics. */
export interface SettlementMetricRecord {
  /** The transaction hash, or a random id for a failure without one: a repeat of a settled payload is counted once. */
  id: string;
  user_id: number;
  client_id: string;
  network: string;
  asset: string;
  /** Atomic units, decimal string. */
  amount: string;
  /** Gas paid by the facilitator, in wei, decimal string ('0' when the answer does not say). */
  fee: string;
  success: boolean;
  pending: boolean;
  created: string;
}

/** A token in the registry (the seed's asset plus what EIP-712 needs). */
export interface X402AssetRecord {
  id: number;
  network: string;
  /** Checksummed address. */
  asset: string;
  symbol: string;
  decimals: number;
  active: boolean;
  /** EIP-712 domain name and version, when known. */
  name: string | null;
  version: string | null;
  /** `config` (X402_NETWORKS) or `admin` (POST /admin/assets). */
  source: 'config' | 'admin';
  created: string;
  updated: string;
}

export interface Page {
  offset: number;
  limit: number;
}

export interface X402Store {
  /** The new user with its id, or undefined (nothing written) when the email is taken. */
  createUser(user: Omit<X402UserRecord, 'id'>): Promise<X402UserRecord | undefined>;
  getUser(id: number): Promise<X402UserRecord | undefined>;
  getUserByEmail(email: string): Promise<X402UserRecord | undefined>;
  /** Oldest first. */
  listUsers(page: Page): Promise<X402UserRecord[]>;

  putRefreshToken(token: RefreshTokenRecord): Promise<void>;
  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * Exchange `oldHash` for `next` in one step: `rotated` when it was live (it is marked rotated and
   * `next` stored); `reused` when it had already been rotated (its whole family is revoked, `next` is
   * not stored); `revoked`; `unknown`. Two racing exchanges of one token: one `rotated`, one `reused`.
   */
  rotateRefreshToken(oldHash: string, next: RefreshTokenRecord, at: string): Promise<RotateOutcome>;
  /** Revoke every live token of the family (false when it had none). */
  revokeRefreshFamily(familyId: string, at: string): Promise<boolean>;

  /** Store the key unless its user already holds `maxPerUser` live ones (false, nothing written). */
  createClient(client: ClientKeyRecord, maxPerUser: number): Promise<boolean>;
  getClient(clientId: string): Promise<ClientKeyRecord | undefined>;
  /** Live (not deleted) keys, oldest first; of one user, or of everyone when `userId` is undefined. */
  listClients(userId: number | undefined, page: Page): Promise<ClientKeyRecord[]>;
  /** Soft delete; false when there was no live key. */
  deleteClient(clientId: string, at: string): Promise<boolean>;

  /** The new resource with its id, or undefined (nothing written) when its user holds `maxPerUser`. */
  createResource(resource: Omit<ResourceRecord, 'id'>, maxPerUser: number): Promise<ResourceRecord | undefined>;
  getResource(id: number): Promise<ResourceRecord | undefined>;
  putResource(resource: ResourceRecord): Promise<void>;
  /** Oldest first; of one user, or of everyone. */
  listResources(userId: number | undefined, page: Page): Promise<ResourceRecord[]>;

  /** Add these counts to the stored ones (rows keyed by day, user and route). */
  addRequestCounts(rows: RequestCountRow[]): Promise<void>;
  /** Rows with `from <= day <= to`, of one user or of everyone. */
  requestCounts(userId: number | undefined, from: string, to: string): Promise<RequestCountRow[]>;

  /** False (nothing written) when a record with this id exists. */
  addSettlement(record: SettlementMetricRecord): Promise<boolean>;
  /**
   * A pending settlement's transaction was mined later (succeeded, with the gas it cost when known) or failed: the
   * record stops being pending. False when no pending record has this id.
   */
  resolveSettlement(id: string, outcome: { success: boolean; fee?: string }): Promise<boolean>;
  /** Records with `from <= created < to` (ISO instants), of one user or of everyone. */
  settlements(userId: number | undefined, from: string, to: string): Promise<SettlementMetricRecord[]>;

  /**
   * Register a token. Keyed by network and address (case-insensitive): `insert` leaves an existing
   * registration alone (config seeding never undoes an admin's change), `upsert` replaces its fields.
   */
  putAsset(asset: Omit<X402AssetRecord, 'id'>, mode: 'insert' | 'upsert'): Promise<{ asset: X402AssetRecord; created: boolean }>;
  findAsset(network: string, address: string): Promise<X402AssetRecord | undefined>;
  /** Oldest first. */
  listAssets(activeOnly: boolean): Promise<X402AssetRecord[]>;

  /** Whether the store can take writes now (the status endpoint's database health). */
  healthy(): Promise<boolean>;
}
