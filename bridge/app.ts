/**
 * The HTTP application: open CORS (with preflight) and common headers for everything, then each API
 * family mounted at its prefix as its own Koa app with its own error middleware and body handling.
 */
import cors from '@koa/cors';
import Koa from 'koa';
import mount from 'koa-mount';
import { randomUUID } from 'node:crypto';

export interface Family {
  name: string;
  /** '' mounts at the root. */
  prefix: string;
  app: Koa;
}

const EXPOSED_HEADERS = ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'WWW-Authenticate', 'X-Request-Id', 'Location'];

export function createApp(families: Family[], options: { trustProxy: boolean }): Koa {
  const app = new Koa({ proxy: options.trustProxy });
  // Koa logs every error to stderr by default; the families' error middleware already decided what to log.
  app.silent = true;
  app.use(async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    ctx.set('X-Request-Id', /^[A-Za-z0-9._-]{1,64}$/.test(incoming) ? incoming : randomUUID());
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });
  app.use(
    cors({
      origin: '*',
      allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 86_400,
    }),
  );
  // Longest prefix first, so '/x402' is matched before the root family.
  for (const family of [...families].sort((a, b) => b.prefix.length - a.prefix.length)) {
    for (const sub of [app, family.app]) sub.proxy = options.trustProxy;
    family.app.silent = true;
    app.use(family.prefix === '' ? mount(family.app) : mount(family.prefix, family.app));
  }
  return app;
}
