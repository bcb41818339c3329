/** One API family as one middleware: its error shape outermost, then JSON bodies, then its router. */
import type { Router } from '@koa/router';
import type { Middleware } from 'koa';
import compose from 'koa-compose';
import type { Logger } from 'pino';
import { errorMiddleware, type ErrorFamily } from '../errors.js';
import { jsonBody } from './body.js';

export function familyMiddleware(errors: ErrorFamily, router: Router, options: { bodyLimitBytes: number; log: Logger }): Middleware {
  return compose([
    errorMiddleware(errors, options.log),
    ...jsonBody(options.bodyLimitBytes),
    router.routes() as Middleware,
    router.allowedMethods() as Middleware,
  ]);
}
