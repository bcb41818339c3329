/** Routes: resources — register and update (signed in, owners only), list (public, or the user's own). */
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import { body, query } from '../../http/params.js';
import { resourceView } from '../resources.js';
import { noQuery, pageQuery, resourceBody } from '../schemas.js';
import { currentUser, userAuth, type X402Deps } from './shared.js';

const DEFAULT_LIMIT = 100;

export function resourceRoutes(router: Router, deps: X402Deps): void {
  const auth = userAuth(deps);

  router.post('/api/v1/resources', auth, async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, resourceBody);
    const created = await deps.resources.create(currentUser(ctx), input);
    ctx.status = 201;
    ctx.body = { data: { status: 'created', id: created.id } };
  });

  router.get('/api/v1/resources', async (ctx) => {
    const page = query(ctx, pageQuery(DEFAULT_LIMIT));
    ctx.body = { data: { resources: (await deps.resources.list(undefined, page)).map(resourceView), offset: page.offset, limit: page.limit } };
  });

  router.get('/api/v1/users/resources', auth, async (ctx) => {
    const page = query(ctx, pageQuery(DEFAULT_LIMIT));
    ctx.body = { data: { resources: (await deps.resources.list(currentUser(ctx).id, page)).map(resourceView), offset: page.offset, limit: page.limit } };
  });

  router.put('/api/v1/resources/:id', auth, async (ctx) => {
    query(ctx, noQuery);
    const raw = ctx.params['id'] ?? '';
    if (!/^[1-9]\d{0,15}$/.test(raw))
      throw new AppError(400, 'INVALID_REQUEST', 'Invalid resource id', { details: 'a resource id is a positive whole number' });
    const input = body(ctx, resourceBody);
    const updated = await deps.resources.update(currentUser(ctx), Number(raw), input);
    ctx.body = { data: { updated: updated.id } };
  });
}
