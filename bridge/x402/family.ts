/**
 * The x402 facilitator family (mounted at /x402 by default): its error shape and liveness probe.
 * Verify, settle, networks and the rest of its API arrive with the facilitator's issue.
 */
import { Router } from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { errorMiddleware } from '../errors.js';
import { X402_ERRORS } from '../families.js';
import { jsonBody } from '../http/body.js';

export function x402Family(options: { bodyLimitBytes: number; log: Logger; version: string }): Koa {
  const app = new Koa();
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'healthy', timestamp: Math.floor(Date.now() / 1000), version: options.version };
  });
  app.use(errorMiddleware(X402_ERRORS, options.log));
  for (const mw of jsonBody(options.bodyLimitBytes)) app.use(mw);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
