/**
 * Client keys: the `X-Client-ID` / `X-Client-Token` pair a resource server sends to `/verify`,
 * `/settle` and `/supported`. The token is `<clientId>.<random>.<HMAC-SHA256(key, clientId.random)>`
 * (base64url), the HMAC key derived from the bridge's session secret: a forged or garbled token is
 * refused by its signature before the store is asked. The store keeps only the token's sha256,
 * compared in constant time; the token is shown once. A key has a scope (the operations it may
 * call) and an optional expiry; deleting it is a soft delete.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.js';
import { digestsEqual, newId, sha256Hex } from '../ids.js';
import { CLIENT_SCOPES, type ClientKeyRecord, type ClientScope, type Page, type X402Store, type X402UserRecord } from './store.js';
import { deriveKey } from './users/tokens.js';

const TOKEN_PATTERN = /^([a-z0-9]{20})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/;
export const CLIENT_ID_PATTERN = /^[a-z0-9]{20}$/;

export interface IssuedClient {
  client: ClientKeyRecord;
  /** Shown once, never stored. */
  token: string;
}

export class ClientKeys {
  private readonly store: X402Store;
  private readonly hmacKey: Uint8Array;
  private readonly maxPerUser: number;

  constructor(store: X402Store, sessionSecret: Uint8Array, maxPerUser: number) {
    this.store = store;
    this.hmacKey = deriveKey(sessionSecret, 'client-token');
    this.maxPerUser = maxPerUser;
  }

  async create(user: X402UserRecord, input: { title: string; scope: ClientScope[]; ttlHours: number | undefined }): Promise<IssuedClient> {
    const clientId = newId(20);
    const random = randomBytes(32).toString('base64url');
    const token = `${clientId}.${random}.${this.sign(clientId, random).toString('base64url')}`;
    const now = new Date();
    const client: ClientKeyRecord = {
      client_id: clientId,
      user_id: user.id,
      title: input.title,
      scope: input.scope,
      token_hash: sha256Hex(token),
      created: now.toISOString(),
      expires_at: input.ttlHours === undefined ? null : new Date(now.getTime() + input.ttlHours * 3_600_000).toISOString(),
      deleted_at: null,
    };
    if (!(await this.store.createClient(client, this.maxPerUser))) {
      throw new AppError(409, 'CONFLICT', `This user already holds ${this.maxPerUser} client keys, the most allowed: delete one first`);
    }
    return { client, token };
  }

  /** Admins see every live key, others their own. */
  list(user: X402UserRecord, page: Page): Promise<ClientKeyRecord[]> {
    return this.store.listClients(user.is_admin ? undefined : user.id, page);
  }

  /** Soft-delete a key of the user's (an admin: anyone's). Another user's key is "not found", not "forbidden". */
  async delete(user: X402UserRecord, clientId: string): Promise<void> {
    const client = await this.store.getClient(clientId);
    if (!client || client.deleted_at !== null || (client.user_id !== user.id && !user.is_admin)) {
      throw new AppError(404, 'NOT_FOUND', `No client key ${clientId}`);
    }
    await this.store.deleteClient(clientId, new Date().toISOString());
  }

  /** The live key a request presents, allowed `operation`; 401 UNAUTHORIZED or 403 FORBIDDEN otherwise. */
  async authenticate(clientIdHeader: string | undefined, tokenHeader: string | undefined, operation: ClientScope): Promise<ClientKeyRecord> {
    if (!clientIdHeader || !tokenHeader) throw unauthorized('X-Client-ID and X-Client-Token headers are required');
    const match = TOKEN_PATTERN.exec(tokenHeader);
    if (!match || match[1] !== clientIdHeader || !CLIENT_ID_PATTERN.test(clientIdHeader)) throw unauthorized('invalid client credentials');
    const mac = Buffer.from(match[3] as string, 'base64url');
    const expected = this.sign(clientIdHeader, match[2] as string);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw unauthorized('invalid client credentials');
    const client = await this.store.getClient(clientIdHeader);
    if (!client || !digestsEqual(client.token_hash, sha256Hex(tokenHeader))) throw unauthorized('invalid client credentials');
    if (client.deleted_at !== null) throw unauthorized('client key has been revoked');
    if (client.expires_at !== null && Date.parse(client.expires_at) <= Date.now()) throw unauthorized('client key has expired');
    if (!client.scope.includes(operation)) {
      throw new AppError(403, 'FORBIDDEN', 'This client key may not call this endpoint', {
        details: `its scope (${client.scope.join(',')}) does not include ${operation}`,
      });
    }
    return client;
  }

  private sign(clientId: string, random: string): Buffer {
    return createHmac('sha256', this.hmacKey).update(`${clientId}.${random}`).digest();
  }
}

/** `"verify,settle"` → the scopes, or undefined when a part is not one. Empty parts are ignored. */
export function parseScope(text: string): ClientScope[] | undefined {
  const parts = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (parts.length === 0 || parts.some((p) => !(CLIENT_SCOPES as readonly string[]).includes(p))) return undefined;
  return [...new Set(parts as ClientScope[])];
}

function unauthorized(details: string): AppError {
  return new AppError(401, 'UNAUTHORIZED', 'Client authentication failed', { details });
}
