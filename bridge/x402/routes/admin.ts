/**
 * Routes: `/admin/…` behind the static admin token (`Authorization: Bearer <ADMIN_TOKEN>`, checked by
 * hash in constant time, as the rest of the bridge does): seeded users and the token registry.
 */
import type { Router } from '@koa/router';
import { adminOnly } from '../../http/admin.js';
import { body, query } from '../../http/params.js';
import { requestLogger } from '../../http/request-log.js';
import { noStore } from '../../http/no-store.js';
import { assetView } from '../registry.js';
import { adminAssetBody, adminUserBody, noQuery, pageQuery } from '../schemas.js';
import type { X402Deps } from './shared.js';
import { userView } from './users.js';

export function adminRoutes(router: Router, deps: X402Deps): void {
  const admin = adminOnly(deps.adminTokenSha256);

  router.post('/admin/users', admin, async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, adminUserBody);
    const user = await deps.users.create({ email: input.email, password: input.password, isAdmin: input.is_admin });
    requestLogger(ctx).info({ x402UserId: user.id, isAdmin: user.is_admin }, 'x402 user created by the admin');
    noStore(ctx);
    ctx.status = 201;
    ctx.body = { data: { message: 'User created', user: userView(user) } };
  });

  router.get('/admin/users', admin, async (ctx) => {
    const page = query(ctx, pageQuery(100));
    ctx.body = { data: (await deps.users.list(page)).map(userView) };
  });

  router.post('/admin/assets', admin, async (ctx) => {
    query(ctx, noQuery);
    const input = body(ctx, adminAssetBody);
    const { asset, created } = await deps.registry.register(input);
    requestLogger(ctx).info({ assetId: asset.id, network: asset.network, asset: asset.asset, active: asset.active }, 'x402 asset registered');
    ctx.status = created ? 201 : 200;
    ctx.body = { data: assetView(asset) };
  });

  router.get('/admin/assets', admin, async (ctx) => {
    query(ctx, noQuery);
    ctx.body = { data: (await deps.registry.list(false)).map(assetView) };
  });
}
