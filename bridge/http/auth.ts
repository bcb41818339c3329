/**
 * API-key authentication for every family's routes: resolve the caller, charge the request to its
 * key's and its account's rate limits, and, for writes, require a full-scope key. The caller is then
 * on `ctx.state.principal`.
 */
import type { Context, Middleware, Next } from 'koa';
import { AppError } from '../errors.js';
import type { AuthService, Principal } from '../machines/auth.js';
import type { Metrics } from '../metrics.js';
import { enforce } from './rate-headers.js';
import type { RateLimiter } from './rate-limit.js';

/** What authentication needs: the key service and the two allowances a request is charged to. */
export interface AuthDeps {
  auth: AuthService;
  /** Per API key. */
  keyLimiter: RateLimiter;
  /** Per account: all its keys (and their session tokens) together. */
  accountLimiter: RateLimiter;
  /** Counts what the limits refuse. */
  metrics: Metrics;
}

export interface AuthState {
  principal: Principal;
}

/**
 * Charge a request to its key's allowance and to its account's, so that more keys do not buy more
 * requests. The account is charged only for what the key's own limit lets through; the headers show
 * whichever allowance is nearer its end.
 */
export function chargeRequest(ctx: Context, deps: AuthDeps, principal: Principal): void {
  const perKey = deps.keyLimiter.take(principal.key.key_id);
  if (!perKey.allowed) {
    deps.metrics.refuse('http', 'rate_limited_key');
    enforce(ctx, perKey, 'requests for this API key');
  }
  const perAccount = deps.accountLimiter.take(principal.account.user_id);
  if (!perAccount.allowed) {
    deps.metrics.refuse('http', 'rate_limited_account');
    enforce(ctx, perAccount, 'requests for this account (all its API keys together)');
  }
  const tighter = perAccount.limit > 0 && (perKey.limit === 0 || perAccount.remaining < perKey.remaining) ? perAccount : perKey;
  enforce(ctx, tighter, 'requests');
}

/**
 * Authenticate the caller, charge the request to its key's and its account's rate limits and, for
 * writes, require a full-scope key: a read-only key learns it may not write before anything about its
 * request is judged.
 */
export function authenticate(deps: AuthDeps, access: 'read' | 'write'): Middleware {
  return async (ctx: Context, next: Next) => {
    const principal = await deps.auth.authenticate(ctx.get('authorization') || undefined);
    chargeRequest(ctx, deps, principal);
    if (access === 'write' && principal.scope !== 'full') {
      throw new AppError(403, 'insufficient_scope', 'This API key is read-only: it can read but not write');
    }
    (ctx.state as AuthState).principal = principal;
    await next();
  };
}

/** The caller `authenticate` found. */
export function principal(ctx: Context): Principal {
  return (ctx.state as AuthState).principal;
}
