/**
 * `GET /metrics`: the Prometheus text exposition of the bridge's registry. Behind the admin token,
 * since the figures (accounts' traffic, queue depths) are the operator's, not the public's; the
 * errors use the machine-payments shape.
 */
import { Router } from '@koa/router';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { MACHINES_ERRORS } from './error-shapes.js';
import type { Metrics } from '../metrics.js';
import { adminOnly } from './admin.js';
import { familyMiddleware } from './family.js';

export function metricsFamily(metrics: Metrics, options: { adminTokenSha256: string; bodyLimitBytes: number; log: Logger }): Middleware {
  const router = new Router();
  router.get('/', adminOnly(options.adminTokenSha256), async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return familyMiddleware(MACHINES_ERRORS, router, options);
}
