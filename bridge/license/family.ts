/**
 * The license server family (mounted at /license by default): its error shape and liveness probe.
 * Products, purchases, validation and the admin API arrive with the license server's issue.
 */
import { Router } from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { errorMiddleware } from '../errors.js';
import { LICENSE_ERRORS } from '../families.js';
import { jsonBody } from '../http/body.js';

export function licenseFamily(options: { bodyLimitBytes: number; log: Logger }): Koa {
  const app = new Koa();
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { ok: true };
  });
  app.use(errorMiddleware(LICENSE_ERRORS, options.log));
  for (const mw of jsonBody(options.bodyLimitBytes)) app.use(mw);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
