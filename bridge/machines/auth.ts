/**
 * Who is calling. An `Authorization` header carries an API key (`Bearer lib_…`) or a session token
 * from `POST /api/v1/auth/exchange` (`Bearer <token>` or the bare token, as PocketBase clients send
 * it). Keys are looked up by their sha256 and compared in constant time; session tokens are HS256
 * JWTs that die with the key they were exchanged for.
 */
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../errors.js';
import { API_KEY_PATTERN, digestsEqual, sha256Hex } from '../ids.js';
import type { MachinesStore } from './store.js';
import type { AccountRecord, ApiKeyRecord, KeyScope } from './types.js';

export const SESSION_TTL_SECONDS = 86_400;
const ISSUER = 'paywire';
const AUDIENCE = 'paywire:session';
const JWT_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface Principal {
  account: AccountRecord;
  key: ApiKeyRecord;
  scope: KeyScope;
  via: 'api_key' | 'session';
}

export class AuthService {
  private readonly store: MachinesStore;
  private readonly sessionSecret: Uint8Array;

  constructor(store: MachinesStore, sessionSecret: Uint8Array) {
    this.store = store;
    this.sessionSecret = sessionSecret;
  }

  /** Resolve an Authorization header to a principal, or throw missing_token / invalid_token / invalid_key. */
  async authenticate(header: string | undefined): Promise<Principal> {
    const raw = header?.trim() ?? '';
    if (raw === '') throw new AppError(401, 'missing_token', 'Authorization header is missing', { headers: challenge() });
    const credential = bearerCredential(raw);
    if (credential === undefined) {
      throw new AppError(401, 'invalid_token', 'Authorization must be "Bearer <api key or session token>"', { headers: challenge() });
    }
    if (credential.startsWith('lib_')) return this.byApiKey(credential);
    if (JWT_PATTERN.test(credential)) return this.bySession(credential);
    throw new AppError(401, 'invalid_token', 'Malformed credential: expected an API key (lib_ + 64 hex) or a session token', {
      headers: challenge(),
    });
  }

  /** A live key for a presented API key string, or undefined. Used by the MQTT broker as well. */
  async findLiveKey(apiKey: string): Promise<{ key: ApiKeyRecord; account: AccountRecord } | undefined> {
    if (!API_KEY_PATTERN.test(apiKey)) return undefined;
    const hash = sha256Hex(apiKey);
    const key = await this.store.findKeyByHash(hash);
    if (!key || key.revoked_at !== null || !digestsEqual(key.hash, hash)) return undefined;
    const account = await this.store.getAccount(key.user_id);
    return account ? { key, account } : undefined;
  }

  async byApiKey(apiKey: string): Promise<Principal> {
    if (!API_KEY_PATTERN.test(apiKey)) {
      throw new AppError(401, 'invalid_token', 'Malformed API key: expected lib_ followed by 64 hex digits', { headers: challenge() });
    }
    const found = await this.findLiveKey(apiKey);
    if (!found) throw new AppError(401, 'invalid_key', 'Unknown or revoked API key', { headers: challenge() });
    return { account: found.account, key: found.key, scope: found.key.scope, via: 'api_key' };
  }

  /** Swap a live API key for a 24 h session token (the GUI login). */
  async issueSession(principal: Principal): Promise<string> {
    return new SignJWT({ kid: principal.key.key_id, scope: principal.key.scope })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(principal.account.user_id)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${SESSION_TTL_SECONDS}s`)
      .sign(this.sessionSecret);
  }

  private async bySession(token: string): Promise<Principal> {
    let claims: { sub?: string; kid?: unknown };
    try {
      ({ payload: claims } = await jwtVerify(token, this.sessionSecret, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      }));
    } catch (err) {
      const expired = err instanceof joseErrors.JWTExpired;
      throw new AppError(401, 'invalid_token', expired ? 'Session token has expired: exchange the API key again' : 'Invalid session token', {
        headers: challenge(),
      });
    }
    const key = typeof claims.kid === 'string' ? await this.store.getKey(claims.kid) : undefined;
    const account = claims.sub ? await this.store.getAccount(claims.sub) : undefined;
    if (!key || !account || key.user_id !== account.user_id || key.revoked_at !== null) {
      throw new AppError(401, 'invalid_token', 'Session token belongs to a revoked API key', { headers: challenge() });
    }
    return { account, key, scope: key.scope, via: 'session' };
  }
}

function bearerCredential(header: string): string | undefined {
  const parts = header.split(/\s+/);
  if (parts.length === 1) return parts[0];
  if (parts.length === 2 && parts[0]?.toLowerCase() === 'bearer') return parts[1];
  return undefined;
}

function challenge(): Record<string, string> {
  return { 'WWW-Authenticate': 'Bearer realm="paywire"' };
}
