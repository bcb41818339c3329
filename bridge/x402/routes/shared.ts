/**
 * What the x402 routes share: their dependencies, and the three ways a caller proves who it is —
 * a user's access token (`Authorization: Bearer <JWT>`), a client key (`X-Client-ID` +
 * `X-Client-Token`) and the static admin token. Each puts the caller on `ctx.state` for the routes
 * and for the request metrics.
 */
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import { enforce } from '../../http/rate-headers.js';
import type { RateLimiter } from '../../http/rate-limit.js';
import type { Metrics } from '../../metrics.js';
import type { ClientKeys } from '../clients.js';
import type { StoreAssetRegistry } from '../registry.js';
import type { RequestMetrics } from '../request-metrics.js';
import type { SettlementMetrics } from '../settlement-metrics.js';
import type { ClientKeyRecord, ClientScope, X402Store, X402UserRecord } from '../store.js';
import type { Facilitator, FacilitatorRequest, FacilitatorRequestProblem } from '../types.js';
import type { ResourcesService } from '../resources.js';
import { TokenRefused } from '../users/tokens.js';
import type { UsersService } from '../users/service.js';
import { addressKey } from '../../../broker/address.js';

export interface X402Deps {
  store: X402Store;
  facilitator: Facilitator;
  /** x402-evm's `parseFacilitatorRequest` (wire.ts). */
  parse: (body: unknown) => FacilitatorRequest | FacilitatorRequestProblem;
  registry: StoreAssetRegistry;
  users: UsersService;
  clients: ClientKeys;
  resources: ResourcesService;
  requests: RequestMetrics;
  settlements: SettlementMetrics;
  adminTokenSha256: string;
  /** Per IP. */
  signupLimiter: RateLimiter;
  loginLimiter: RateLimiter;
  /** Per client key. */
  clientLimiter: RateLimiter;
  metrics: Metrics;
  log: Logger;
  version: string;
  startedAt: number;
}

export interface X402State {
  x402User?: X402UserRecord;
  x402Client?: ClientKeyRecord;
}

export function state(ctx: Context): X402State {
  return ctx.state as X402State;
}

/** The caller a user route authenticated. */
export function currentUser(ctx: Context): X402UserRecord {
  const user = state(ctx).x402User;
  if (!user) throw new Error('route is missing userAuth');
  return user;
}

export function currentClient(ctx: Context): ClientKeyRecord {
  const client = state(ctx).x402Client;
  if (!client) throw new Error('route is missing clientAuth');
  return client;
}

function unauthorized(details: string): AppError {
  return new AppError(401, 'UNAUTHORIZED', 'Missing or invalid credentials', { details, headers: { 'WWW-Authenticate': 'Bearer realm="paywire-x402"' } });
}

/** `Authorization: Bearer <access token>` from /login or /token/refresh. */
export function userAuth(deps: X402Deps): Middleware {
  return async (ctx: Context, next: Next) => {
    const header = ctx.get('authorization').trim();
    if (header === '') throw unauthorized('Authorization: Bearer <access_token> is required');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw unauthorized('Authorization must be "Bearer <access_token>"');
    try {
      state(ctx).x402User = await deps.users.byAccessToken(match[1] as string);
    } catch (err) {
      if (err instanceof TokenRefused) throw unauthorized(err.message);
      throw err;
    }
    await next();
  };
}

/** `X-Client-ID` + `X-Client-Token` allowed `operation`, charged to the key's rate limit. */
export function clientAuth(deps: X402Deps, operation: ClientScope): Middleware {
  return async (ctx: Context, next: Next) => {
    let client: ClientKeyRecord;
    try {
      client = await deps.clients.authenticate(ctx.get('x-client-id') || undefined, ctx.get('x-client-token') || undefined, operation);
    } catch (err) {
      if (err instanceof AppError && err.status < 500) deps.metrics.refuse('http', err.status === 403 ? 'x402_client_scope' : 'x402_client_unauthorized');
      throw err;
    }
    state(ctx).x402Client = client;
    const decision = deps.clientLimiter.take(client.client_id);
    if (!decision.allowed) deps.metrics.refuse('http', 'rate_limited_x402_client');
    enforce(ctx, decision, 'requests for this client key');
    await next();
  };
}

/** Charge a request to a per-IP allowance (signups, logins): 429 RATE_LIMITED past it. */
export function chargeIp(ctx: Context, limiter: RateLimiter, deps: X402Deps, reason: string, what: string): void {
  const decision = limiter.take(addressKey(ctx.ip));
  if (!decision.allowed) deps.metrics.refuse('http', reason);
  enforce(ctx, decision, what);
}
