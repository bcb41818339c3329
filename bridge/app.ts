/**
 * The HTTP application: a request id, common headers, one log line per request (with metrics) and
 * open CORS (with preflight) for everything, then each API family at its prefix. A family is
 * terminal for its prefix: a path under `/x402` that the facilitator does not know gets the
 * facilitator's 404, never another family's.
 */
import cors from '@koa/cors';
import Koa, { type Middleware } from 'koa';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { markFamily, requestLog } from './http/request-log.js';
import type { Metrics } from './metrics.js';

export interface Family {
  name: string;
  /** '' mounts at the root (the family that answers whatever no other prefix claims). */
  prefix: string;
  middleware: Middleware;
}

const EXPOSED_HEADERS = [
  'Retry-After',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'WWW-Authenticate',
  'X-Request-Id',
  'Location',
  'Allow',
  // x402 (GET /api/v1/assets/{id}/x402): browsers' agents read the requirements and the settlement.
  'PAYMENT-REQUIRED',
  'PAYMENT-RESPONSE',
  'X-PAYMENT-RESPONSE',
];

/** Run `family` for paths under its prefix, with the prefix stripped from `ctx.path`. */
function mountFamily(family: Family): Middleware {
  const { prefix, middleware } = family;
  if (prefix === '') {
    return (ctx, next) => {
      markFamily(ctx, prefix);
      return middleware(ctx, next);
    };
  }
  return async (ctx, next) => {
    const path = ctx.path;
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return next();
    markFamily(ctx, prefix);
    ctx.path = path.slice(prefix.length) || '/';
    try {
      await middleware(ctx, async () => undefined);
    } finally {
      ctx.path = path;
    }
  };
}

export interface AppOptions {
  trustProxy: boolean;
  /** One line per request (`http/request-log.ts`); none without. */
  log?: Logger;
  /** Requests and their latency by route and status. */
  metrics?: Metrics;
}

export function createApp(families: Family[], options: AppOptions): Koa {
  // Behind one trusted proxy the client is the last X-Forwarded-For entry, the one the proxy added: the
  // entries before it are whatever the client sent (Koa takes the first by default).
  const app = new Koa({ proxy: options.trustProxy, maxIpsCount: 1 });
  // Koa prints every error by default; the families' error middleware already decided what to log.
  app.silent = true;
  app.use(async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    ctx.set('X-Request-Id', /^[A-Za-z0-9._-]{1,64}$/.test(incoming) ? incoming : randomUUID());
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });
  if (options.log) app.use(requestLog(options.log, options.metrics));
  app.use(
    cors({
      origin: '*',
      allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 86_400,
    }),
  );
  // Longest prefix first; the root family (if any) last, since it claims everything.
  for (const family of [...families].sort((a, b) => b.prefix.length - a.prefix.length)) app.use(mountFamily(family));
  return app;
}
