/** Routes: accounts, API keys (rotation, read-only keys), the session exchange. */
import type { Router } from '@koa/router';
import { keyView, accountView } from '../views.js';
import { createAccountBody, createKeyBody, exchangeBody, noQuery } from '../schemas.js';
import { SESSION_TTL_SECONDS } from '../auth.js';
import { enforce } from '../../http/rate-headers.js';
import { requestLogger } from '../../http/request-log.js';
import { authenticate, chargeRequest, principal } from '../../http/auth.js';
import { noStore } from '../../http/no-store.js';
import { body, idParam, query } from '../../http/params.js';
import { SHOWN_ONCE, type MachinesDeps } from './shared.js';
import { addressKey } from '../../../broker/address.js';

export function accountRoutes(router: Router, deps: MachinesDeps): void {
  const auth = authenticate(deps, 'read');
  const write = authenticate(deps, 'write');
  const noBody = noQuery;

  router.post('/api/v1/accounts', async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, createAccountBody);
    const signups = deps.signupLimiter.take(addressKey(ctx.ip));
    if (!signups.allowed) deps.metrics.refuse('http', 'rate_limited_signup');
    enforce(ctx, signups, 'signups from this address');
    const { account, key, apiKey } = await deps.accounts.signup(input);
    requestLogger(ctx).info({ userId: account.user_id, keyId: key.key_id }, 'account created');
    noStore(ctx);
    ctx.status = 201;
    ctx.body = { ...accountView(account, key), api_key: apiKey, warning: SHOWN_ONCE };
  });

  router.post('/api/v1/auth/exchange', async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, exchangeBody);
    const { token, principal: p } = await deps.accounts.exchange(input.api_key);
    chargeRequest(ctx, deps, p);
    noStore(ctx);
    ctx.body = { token, record: accountView(p.account, p.key), expires_in: SESSION_TTL_SECONDS };
  });

  router.get('/api/v1/accounts/me', auth, async (ctx) => {
    query(ctx, noQuery);
    const p = principal(ctx);
    ctx.body = accountView(p.account, p.key);
  });

  router.post('/api/v1/accounts/me/rotate-key', write, async (ctx) => {
    query(ctx, noQuery);
    body(ctx, noBody);
    const p = principal(ctx);
    const { key, apiKey } = await deps.accounts.rotate(p);
    requestLogger(ctx).info({ userId: p.account.user_id, oldKeyId: p.key.key_id, keyId: key.key_id }, 'api key rotated');
    noStore(ctx);
    ctx.body = { ...keyView(key), api_key: apiKey, warning: `${SHOWN_ONCE} The previous key no longer works.` };
  });

  router.get('/api/v1/accounts/me/keys', auth, async (ctx) => {
    query(ctx, noQuery);
    ctx.body = { keys: (await deps.accounts.listKeys(principal(ctx))).map(keyView) };
  });

  router.post('/api/v1/accounts/me/keys', write, async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, createKeyBody);
    const { key, apiKey } = await deps.accounts.createKey(principal(ctx), input);
    requestLogger(ctx).info({ userId: key.user_id, keyId: key.key_id, scope: key.scope }, 'api key created');
    noStore(ctx);
    ctx.status = 201;
    ctx.body = { ...keyView(key), api_key: apiKey, warning: SHOWN_ONCE };
  });

  router.delete('/api/v1/accounts/me/keys/:key_id', write, async (ctx) => {
    query(ctx, noQuery);
    const key = await deps.accounts.revokeKey(principal(ctx), idParam(ctx, 'key_id'));
    requestLogger(ctx).info({ userId: key.user_id, keyId: key.key_id }, 'api key revoked');
    ctx.body = keyView(key);
  });
}
