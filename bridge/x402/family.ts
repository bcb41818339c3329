/**
 * The x402 facilitator family (mounted at /x402 by default), as `../shared/seeds/001_…` documents
 * it: health and status, networks and the token registry, verify/settle/supported behind client
 * keys, users and their tokens, client keys, resources, request and settlement metrics, and the
 * admin's users and assets. Errors are `{code, message, details}` (X402_ERRORS). Every request is
 * counted in the request metrics by route and by the user it belongs to.
 */
import { Router } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import compose from 'koa-compose';
import type { Logger } from 'pino';
import { X402_ERRORS } from '../http/error-shapes.js';
import { familyMiddleware } from '../http/family.js';
import { adminRoutes } from './routes/admin.js';
import { clientRoutes } from './routes/clients.js';
import { facilitatorRoutes } from './routes/facilitator.js';
import { metricsRoutes } from './routes/metrics.js';
import { resourceRoutes } from './routes/resources.js';
import { state, type X402Deps } from './routes/shared.js';
import { systemRoutes } from './routes/system.js';
import { userRoutes } from './routes/users.js';

/** Count the request once it is answered (errors included: this runs outside the error middleware). */
function countRequests(deps: X402Deps): Middleware {
  return async (ctx: Context, next: Next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const matched = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute;
      // Unmatched paths are one bucket: a path a caller made up must not become a metrics row.
      const route = typeof matched === 'string' ? `${ctx.method} ${matched}` : 'unmatched';
      const s = state(ctx);
      deps.requests.record(s.x402Client?.user_id ?? s.x402User?.id ?? 0, route, ctx.status, performance.now() - started);
    }
  };
}

export function x402Router(deps: X402Deps): Router {
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'healthy', timestamp: Math.floor(Date.now() / 1000), version: deps.version };
  });
  systemRoutes(router, deps);
  facilitatorRoutes(router, deps);
  userRoutes(router, deps);
  clientRoutes(router, deps);
  resourceRoutes(router, deps);
  metricsRoutes(router, deps);
  adminRoutes(router, deps);
  return router;
}

export function x402Family(deps: X402Deps, options: { bodyLimitBytes: number; log: Logger }): Middleware {
  return compose([countRequests(deps), familyMiddleware(X402_ERRORS, x402Router(deps), options)]);
}
