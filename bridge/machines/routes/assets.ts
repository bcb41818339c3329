/** Routes: asset CRUD. */
import type { Router } from '@koa/router';
import { assetView } from '../views.js';
import { createAssetBody, noQuery, updateAssetBody } from '../schemas.js';
import { authenticate, principal } from '../../http/auth.js';
import { body, idParam, query } from '../../http/params.js';
import type { MachinesDeps } from './shared.js';

export function assetRoutes(router: Router, deps: MachinesDeps): void {
  const auth = authenticate(deps, 'read');
  const write = authenticate(deps, 'write');

  router.get('/api/v1/assets', auth, async (ctx) => {
    query(ctx, noQuery);
    const assets = await deps.assets.list(principal(ctx));
    ctx.body = { assets: await Promise.all(assets.map(async (a) => assetView(a, await deps.deviceStates.view(a.asset_id)))) };
  });

  router.post('/api/v1/assets', write, async (ctx) => {
    query(ctx, noQuery);
    const asset = await deps.assets.create(principal(ctx), body(ctx, createAssetBody));
    ctx.status = 201;
    ctx.body = assetView(asset);
  });

  router.get('/api/v1/assets/:id', auth, async (ctx) => {
    query(ctx, noQuery);
    const asset = await deps.assets.get(principal(ctx), idParam(ctx, 'id'));
    ctx.body = assetView(asset, await deps.deviceStates.view(asset.asset_id));
  });

  router.patch('/api/v1/assets/:id', write, async (ctx) => {
    query(ctx, noQuery);
    const id = idParam(ctx, 'id');
    const asset = await deps.assets.update(principal(ctx), id, body(ctx, updateAssetBody));
    ctx.body = assetView(asset, await deps.deviceStates.view(asset.asset_id));
  });

  router.put('/api/v1/assets/:id', write, async (ctx) => {
    query(ctx, noQuery);
    const id = idParam(ctx, 'id');
    const asset = await deps.assets.update(principal(ctx), id, body(ctx, createAssetBody), true);
    ctx.body = assetView(asset, await deps.deviceStates.view(asset.asset_id));
  });

  router.delete('/api/v1/assets/:id', write, async (ctx) => {
    query(ctx, noQuery);
    const asset = await deps.assets.remove(principal(ctx), idParam(ctx, 'id'));
    ctx.body = { asset_id: asset.asset_id, deleted: true, deleted_at: asset.deleted_at };
  });
}
