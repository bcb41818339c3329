/**
 * The license server family (mounted at /license by default), keysat's API: errors are
 * `{ok: false, error, message}`. Public routes, admin routes, and whatever `extend` adds on the same
 * router (purchases and the BTCPay webhook arrive that way).
 */
import { Router } from '@koa/router';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { LICENSE_ERRORS } from '../http/error-shapes.js';
import { familyMiddleware } from '../http/family.js';
import { adminRoutes } from './routes/admin.js';
import { publicRoutes } from './routes/public.js';
import type { LicenseDeps } from './routes/shared.js';

export type { LicenseDeps } from './routes/shared.js';

export interface LicenseFamilyOptions {
  bodyLimitBytes: number;
  log: Logger;
  /** Extra routes on the same router (purchases, the BTCPay webhook). */
  extend?: ((router: Router) => void)[];
}

export function licenseRouter(deps: LicenseDeps, extend: ((router: Router) => void)[] = []): Router {
  const router = new Router();
  publicRoutes(router, deps);
  adminRoutes(router, deps);
  for (const add of extend) add(router);
  return router;
}

export function licenseFamily(deps: LicenseDeps, options: LicenseFamilyOptions): Middleware {
  return familyMiddleware(LICENSE_ERRORS, licenseRouter(deps, options.extend), options);
}
