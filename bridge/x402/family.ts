/**
 * The x402 facilitator family (mounted at /x402 by default): its error shape and liveness probe.
 * Verify, settle, networks and the rest of its API arrive with the facilitator's issue.
 */
import { Router } from '@koa/router';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { X402_ERRORS } from '../http/error-shapes.js';
import { familyMiddleware } from '../http/family.js';

export function x402Family(options: { bodyLimitBytes: number; log: Logger; version: string }): Middleware {
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'healthy', timestamp: Math.floor(Date.now() / 1000), version: options.version };
  });
  return familyMiddleware(X402_ERRORS, router, options);
}
