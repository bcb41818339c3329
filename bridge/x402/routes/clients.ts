/** Routes: client key pairs of the signed-in user (an admin user lists everyone's). */
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import { noStore } from '../../http/no-store.js';
import { body, query } from '../../http/params.js';
import { requestLogger } from '../../http/request-log.js';
import { CLIENT_ID_PATTERN, parseScope } from '../clients.js';
import { createClientBody, noQuery, pageQuery } from '../schemas.js';
import { CLIENT_SCOPES, type ClientKeyRecord } from '../store.js';
import { currentUser, userAuth, type X402Deps } from './shared.js';

export function clientView(c: ClientKeyRecord): Record<string, unknown> {
  return { clientId: c.client_id, title: c.title, scope: c.scope.join(','), createdAt: c.created, expiresAt: c.expires_at };
}

export function clientRoutes(router: Router, deps: X402Deps): void {
  const auth = userAuth(deps);

  router.post('/api/v1/clients', auth, async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, createClientBody);
    const scope = input.scope === undefined ? [...CLIENT_SCOPES] : (parseScope(input.scope) ?? [...CLIENT_SCOPES]);
    const user = currentUser(ctx);
    const { client, token } = await deps.clients.create(user, { title: input.title, scope, ttlHours: input.ttl_hours });
    requestLogger(ctx).info({ x402UserId: user.id, clientId: client.client_id, scope: client.scope }, 'x402 client key created');
    noStore(ctx);
    ctx.body = { data: { client: { ...clientView(client), token } } };
  });

  router.get('/api/v1/clients', auth, async (ctx) => {
    const page = query(ctx, pageQuery(20));
    ctx.body = { data: (await deps.clients.list(currentUser(ctx), page)).map(clientView) };
  });

  router.delete('/api/v1/clients/:id', auth, async (ctx) => {
    query(ctx, noQuery);
    const id = ctx.params['id'] ?? '';
    if (!CLIENT_ID_PATTERN.test(id))
      throw new AppError(400, 'INVALID_REQUEST', 'Invalid client id', { details: 'a clientId is 20 lowercase letters and digits' });
    const user = currentUser(ctx);
    await deps.clients.delete(user, id);
    requestLogger(ctx).info({ x402UserId: user.id, clientId: id }, 'x402 client key deleted');
    ctx.body = { data: { deleted: id } };
  });
}
