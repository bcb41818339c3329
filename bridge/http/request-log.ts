/**
 * One log line per HTTP request (method, route, status, ms, request id, account id) and the request
 * metrics. The route is the matched router pattern with its family's prefix (`/api/v1/assets/:id`),
 * never the raw path: paths carry ids, and metrics labels must stay few. Keys and tokens never
 * appear: no header, query or body is logged, and a path is logged only when no route matched,
 * with anything shaped like a credential masked. Routes log what they did through `requestLogger`,
 * a child logger carrying the request id.
 */
import type { Context, Middleware } from 'koa';
import { pino, type Logger } from 'pino';
import type { Metrics } from '../metrics.js';

const prefixes = new WeakMap<Context, string>();
/** The request's logger, made on first use from the app's logger and the request id. */
const loggers = new WeakMap<Context, { log: Logger; requestId: string | undefined; child?: Logger }>();
const silent = pino({ level: 'silent' });

/** The mount prefix of the family that handled the request (called by `app.ts`). */
export function markFamily(ctx: Context, prefix: string): void {
  prefixes.set(ctx, prefix);
}

/** The request's logger (its lines carry the request id); silent outside the request-log middleware. */
export function requestLogger(ctx: Context): Logger {
  const entry = loggers.get(ctx);
  if (!entry) return silent;
  entry.child ??= entry.log.child({ requestId: entry.requestId });
  return entry.child;
}

/** The route pattern the router matched, with the family's prefix, or undefined. */
export function routeOf(ctx: Context): string | undefined {
  const matched = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched !== 'string') return undefined;
  const route = `${prefixes.get(ctx) ?? ''}${matched}`;
  return route.length > 1 && route.endsWith('/') ? route.slice(0, -1) : route;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Keys, device passwords, admin tokens and JWTs, should one land in a mistyped path. */
function masked(path: string): string {
  return path
    .slice(0, 200)
    .replace(/(lib|dpw|adm)_[0-9a-f]+/gi, '$1_…')
    .replace(/[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, '<jwt>');
}

export function requestLog(log: Logger, metrics?: Metrics): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const requestId = ctx.response.get('X-Request-Id') || undefined;
    loggers.set(ctx, { log, requestId });
    let status = 500;
    try {
      await next();
      status = ctx.status;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(ctx);
      const method = METHODS.has(ctx.method) ? ctx.method : 'OTHER';
      metrics?.httpRequest(method, route ?? 'unmatched', status, seconds);
      const userId = (ctx.state as { principal?: { account?: { user_id?: string } } }).principal?.account?.user_id;
      log.info(
        {
          method,
          route: route ?? null,
          ...(route === undefined ? { path: masked(ctx.path) } : {}),
          status,
          ms: Math.round(seconds * 10_000) / 10,
          requestId,
          ...(userId === undefined ? {} : { userId }),
        },
        'request',
      );
    }
  };
}
