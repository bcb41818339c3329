/**
 * The license server family (mounted at /license by default): its error shape and liveness probe.
 * Products, purchases, validation and the admin API arrive with the license server's issue.
 */
import { Router } from '@koa/router';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { LICENSE_ERRORS } from '../http/error-shapes.js';
import { familyMiddleware } from '../http/family.js';

export function licenseFamily(options: { bodyLimitBytes: number; log: Logger }): Middleware {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { ok: true };
  });
  return familyMiddleware(LICENSE_ERRORS, router, options);
}
