/**
 * The facilitator's session tokens: HS256 JWTs (RFC 7519) signed with keys derived (HKDF-SHA256,
 * RFC 5869) from the bridge's session secret, one key per purpose, so a machine-payments session
 * token, an access token and a refresh token can never stand in for one another. Access tokens are
 * short-lived and stateless; refresh tokens carry a random id and their family, and live in the
 * store only as the sha256 of the whole token.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { sha256Hex } from '../../ids.js';

const ISSUER = 'paywire';
const ACCESS_AUDIENCE = 'paywire:x402:access';
const REFRESH_AUDIENCE = 'paywire:x402:refresh';
const JWT_PATTERN = /^[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,4096}\.[A-Za-z0-9_-]{1,512}$/;

/** A key for one purpose from the session secret. */
export function deriveKey(secret: Uint8Array, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, 'paywire-x402', purpose, 32));
}

export interface RefreshClaims {
  userId: number;
  familyId: string;
  /** sha256 of the whole token, as stored. */
  hash: string;
}

/** Why a token was refused, for the `details` of the 401 (never a secret). */
export class TokenRefused extends Error {}

export class SessionTokens {
  private readonly accessKey: Uint8Array;
  private readonly refreshKey: Uint8Array;
  readonly accessTtlSeconds: number;
  readonly refreshTtlSeconds: number;

  constructor(sessionSecret: Uint8Array, ttl: { accessSeconds: number; refreshSeconds: number }) {
    this.accessKey = deriveKey(sessionSecret, 'access-token');
    this.refreshKey = deriveKey(sessionSecret, 'refresh-token');
    this.accessTtlSeconds = ttl.accessSeconds;
    this.refreshTtlSeconds = ttl.refreshSeconds;
  }

  access(userId: number): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(userId))
      .setIssuer(ISSUER)
      .setAudience(ACCESS_AUDIENCE)
      .setIssuedAt()
      .setJti(randomBytes(12).toString('base64url'))
      .setExpirationTime(`${this.accessTtlSeconds}s`)
      .sign(this.accessKey);
  }

  /** A new refresh token of `familyId`, its hash and expiry. */
  async refresh(userId: number, familyId: string): Promise<{ token: string; hash: string; expiresAt: string }> {
    const expires = Math.floor(Date.now() / 1000) + this.refreshTtlSeconds;
    const token = await new SignJWT({ fam: familyId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(userId))
      .setIssuer(ISSUER)
      .setAudience(REFRESH_AUDIENCE)
      .setIssuedAt()
      .setJti(randomBytes(16).toString('base64url'))
      .setExpirationTime(expires)
      .sign(this.refreshKey);
    return { token, hash: sha256Hex(token), expiresAt: new Date(expires * 1000).toISOString() };
  }

  /** The user id of a valid access token; throws TokenRefused. */
  async verifyAccess(token: string): Promise<number> {
    const claims = await this.verify(token, this.accessKey, ACCESS_AUDIENCE, 'access');
    return userIdOf(claims.sub);
  }

  /** The claims of a validly signed, unexpired refresh token; throws TokenRefused. */
  async verifyRefresh(token: string): Promise<RefreshClaims> {
    const claims = await this.verify(token, this.refreshKey, REFRESH_AUDIENCE, 'refresh');
    if (typeof claims['fam'] !== 'string' || claims['fam'] === '') throw new TokenRefused('refresh token has no family');
    return { userId: userIdOf(claims.sub), familyId: claims['fam'], hash: sha256Hex(token) };
  }

  private async verify(token: string, key: Uint8Array, audience: string, what: string): Promise<{ sub?: string; [k: string]: unknown }> {
    if (!JWT_PATTERN.test(token)) throw new TokenRefused(`${what} token is not a JWT`);
    try {
      const { payload } = await jwtVerify(token, key, { issuer: ISSUER, audience, algorithms: ['HS256'] });
      return payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new TokenRefused(`${what} token has expired`);
      throw new TokenRefused(`${what} token is invalid`);
    }
  }
}

function userIdOf(sub: string | undefined): number {
  if (sub === undefined || !/^[1-9]\d{0,15}$/.test(sub)) throw new TokenRefused('token names no user');
  return Number(sub);
}
