/**
 * The license server's admin routes (keysat API reference, "Admin endpoints"), behind the static admin
 * token: products, issuing by hand (with expiry, trial, entitlements, seats and a bound fingerprint),
 * listing, and a license's standing: revoke (a second revoke is 404), suspend, reinstate.
 */
import type { Router } from '@koa/router';
import { adminOnly } from '../../http/admin.js';
import { body, decodeCursor, encodeCursor, query } from '../../http/params.js';
import { AppError } from '../../errors.js';
import { createProductBody, issueBody, listLicensesQuery, productActiveBody, reinstateBody, statusBody, uuidParam } from '../schemas.js';
import { licenseView, machineView, productView } from '../views.js';
import { param, type LicenseDeps } from './shared.js';

/** Licenses per page of the admin list (`limit` up to 1,000). */
const DEFAULT_LIMIT = 100;

export function adminRoutes(router: Router, deps: LicenseDeps): void {
  const { service } = deps;
  const admin = adminOnly(deps.adminTokenSha256);

  router.post('/v1/admin/products', admin, async (ctx) => {
    const input = body(ctx, createProductBody);
    ctx.status = 201;
    ctx.body = productView(await service.createProduct(input));
  });

  router.patch('/v1/admin/products/:id/active', admin, async (ctx) => {
    const id = param(ctx, 'id', uuidParam);
    const input = body(ctx, productActiveBody);
    ctx.body = productView(await service.setProductActive(id, input.active));
  });

  router.get('/v1/admin/licenses', admin, async (ctx) => {
    const q = query(ctx, listLicensesQuery);
    await service.product(q.product_id);
    const page = await service.listLicenses(q.product_id, { limit: q.limit ?? DEFAULT_LIMIT, after: decodeCursor(q.cursor) });
    ctx.body = { licenses: page.items.map((l) => licenseView(l, service.keyOf(l))), next_cursor: encodeCursor(page.next) };
  });

  router.post('/v1/admin/licenses', admin, async (ctx) => {
    const input = body(ctx, issueBody);
    const product = await service.productBySlug(input.product_slug);
    if (input.expires_at != null && Date.parse(input.expires_at) <= Date.now()) {
      throw new AppError(400, 'invalid_body', 'Invalid body: expires_at must be in the future');
    }
    const { license, key } = await service.issue({
      product_id: product.product_id,
      note: input.note ?? null,
      expires_at: input.expires_at ?? null,
      ...(input.trial !== undefined ? { trial: input.trial } : {}),
      ...(input.entitlements !== undefined ? { entitlements: input.entitlements } : {}),
      ...(input.max_machines !== undefined ? { max_machines: input.max_machines } : {}),
      fingerprint: input.fingerprint ?? null,
    });
    ctx.status = 201;
    ctx.body = {
      license_id: license.license_id,
      product_id: license.product_id,
      license_key: key,
      issued_at: license.issued_at,
      expires_at: license.expires_at,
      trial: license.trial,
      entitlements: license.entitlements,
      max_machines: license.max_machines,
    };
  });

  router.get('/v1/admin/licenses/:id', admin, async (ctx) => {
    const license = await service.license(param(ctx, 'id', uuidParam));
    ctx.body = { ...licenseView(license, service.keyOf(license)), machines: (await service.machines(license.license_id)).map(machineView) };
  });

  router.post('/v1/admin/licenses/:id/revoke', admin, async (ctx) => {
    const id = param(ctx, 'id', uuidParam);
    const input = body(ctx, statusBody);
    const license = await service.revoke(id, input.reason ?? null);
    ctx.body = licenseView(license, service.keyOf(license));
  });

  router.post('/v1/admin/licenses/:id/suspend', admin, async (ctx) => {
    const id = param(ctx, 'id', uuidParam);
    const input = body(ctx, statusBody);
    const license = await service.suspend(id, input.reason ?? null);
    ctx.body = licenseView(license, service.keyOf(license));
  });

  router.post('/v1/admin/licenses/:id/reinstate', admin, async (ctx) => {
    const id = param(ctx, 'id', uuidParam);
    body(ctx, reinstateBody);
    const license = await service.reinstate(id);
    ctx.body = licenseView(license, service.keyOf(license));
  });
}
