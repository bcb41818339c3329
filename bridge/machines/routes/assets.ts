/** Routes: asset CRUD. */
import type { Router } from '@koa/router';
import { assetView } from '../views.js';
import { createAssetBody, noQuery, updateAssetBody } from '../schemas.js';
import { authenticate, body, idParam, principal, query, type MachinesDeps } from './shared.js';

export function assetRoutes(router: Router, deps: MachinesDeps): void {
  const auth = authenticate(deps, 'read');
  const write = authenticate(deps, 'write');

  router.get('/api/v1/assets', auth, async (ctx) => {
    query(ctx, noQuery);
    ctx.body = { assets: (await deps.assets.list(principal(ctx))).map(assetView) };
  });

  router.post('/api/v1/assets', write, async (ctx) => {
    query(ctx, noQuery);
    const asset = await deps.assets.create(principal(ctx), body(ctx, createAssetBody));
    ctx.status = 201;
    ctx.body = assetView(asset);
  });

  router.get('/api/v1/assets/:id', auth, async (ctx) => {
    query(ctx, noQuery);
    ctx.body = assetView(await deps.assets.get(principal(ctx), idParam(ctx, 'id')));
  });

  router.patch('/api/v1/assets/:id', write, async (ctx) => {
    query(ctx, noQuery);
    const id = idParam(ctx, 'id');
    ctx.body = assetView(await deps.assets.update(principal(ctx), id, body(ctx, updateAssetBody)));
  });

  router.put('/api/v1/assets/:id', write, async (ctx) => {
    query(ctx, noQuery);
    const id = idParam(ctx, 'id');
    ctx.body = assetView(await deps.assets.update(principal(ctx), id, body(ctx, createAssetBody), true));
  });

  router.delete('/api/v1/assets/:id', write, async (ctx) => {
    query(ctx, noQuery);
    const asset = await deps.assets.remove(principal(ctx), idParam(ctx, 'id'));
    ctx.body = { asset_id: asset.asset_id, deleted: true, deleted_at: asset.deleted_at };
  });
}
