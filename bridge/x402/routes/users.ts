/**
 * Routes: signup, login, token refresh (rotating the refresh token) and revocation, and a machine-
 * payments API key for the signed-in person (one account model). Login and refresh failures use the
 * seed's own bodies: `{message}` and `{message, details}`.
 */
import type { Router } from '@koa/router';
import { body, query } from '../../http/params.js';
import { noStore } from '../../http/no-store.js';
import { requestLogger } from '../../http/request-log.js';
import { apiKeyBody, loginBody, noQuery, refreshBody, signupBody } from '../schemas.js';
import type { X402UserRecord } from '../store.js';
import { TokenRefused } from '../users/tokens.js';
import { chargeIp, currentUser, state, userAuth, type X402Deps } from './shared.js';

export function userView(u: X402UserRecord): Record<string, unknown> {
  return { id: u.id, email: u.email, isAdmin: u.is_admin, createdAt: u.created };
}

export function userRoutes(router: Router, deps: X402Deps): void {
  router.post('/api/v1/signup', async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, signupBody);
    chargeIp(ctx, deps.signupLimiter, deps, 'rate_limited_signup', 'signups from this address');
    const user = await deps.users.create({ email: input.email, password: input.password, isAdmin: false });
    state(ctx).x402User = user;
    requestLogger(ctx).info({ x402UserId: user.id, accountId: user.account_id }, 'x402 user signed up');
    ctx.body = { data: { message: 'Account created', user: userView(user) } };
  });

  router.post('/api/v1/login', async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, loginBody);
    chargeIp(ctx, deps.loginLimiter, deps, 'rate_limited_x402_login', 'logins from this address');
    const result = await deps.users.login(input.email, input.password);
    noStore(ctx);
    if (!result) {
      // Counted, so an operator can alert on password guessing (paywire_refusals_total).
      deps.metrics.refuse('http', 'x402_login_failed');
      ctx.status = 401;
      ctx.body = { message: 'Invalid email or password' };
      return;
    }
    state(ctx).x402User = result.user;
    ctx.body = { data: { message: 'Login successful', access_token: result.accessToken, refresh_token: result.refreshToken, id: result.user.id } };
  });

  router.post('/api/v1/token/refresh', async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, refreshBody);
    noStore(ctx);
    try {
      const tokens = await deps.users.refresh(input.refresh_token);
      ctx.body = { data: { access_token: tokens.accessToken, refresh_token: tokens.refreshToken } };
    } catch (err) {
      if (!(err instanceof TokenRefused)) throw err;
      deps.metrics.refuse('http', 'x402_refresh_refused');
      ctx.status = 401;
      ctx.body = { message: 'invalid session token', details: err.message };
    }
  });

  router.post('/api/v1/token/revoke', async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, refreshBody);
    try {
      await deps.users.revoke(input.refresh_token);
      ctx.body = { data: { revoked: true } };
    } catch (err) {
      if (!(err instanceof TokenRefused)) throw err;
      ctx.status = 401;
      ctx.body = { message: 'invalid session token', details: err.message };
    }
  });

  router.post('/api/v1/users/me/api-key', userAuth(deps), async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, apiKeyBody);
    const user = currentUser(ctx);
    const { key, apiKey } = await deps.users.issueApiKey(user, input.label ?? null);
    requestLogger(ctx).info({ x402UserId: user.id, accountId: user.account_id, keyId: key.key_id }, 'machine-payments key issued to an x402 user');
    noStore(ctx);
    ctx.status = 201;
    ctx.body = { data: { account_id: user.account_id, key_id: key.key_id, api_key: apiKey, scope: key.scope, created: key.created } };
  });
}
