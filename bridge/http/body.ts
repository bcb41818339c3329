/**
 * JSON request bodies: koa-bodyparser for JSON only, with a size limit, plus a check that a request
 * carrying a body declares it as JSON (a form or text body is refused, not silently read as `{}`).
 * The raw text stays on `ctx.request.rawBody` for signature checks.
 */
import bodyParser from 'koa-bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { AppError } from '../errors.js';

function hasBody(ctx: Context): boolean {
  const length = ctx.request.length;
  return (length !== undefined && length > 0) || ctx.get('transfer-encoding') !== '';
}

export function jsonBody(limitBytes: number): Middleware[] {
  const requireJson: Middleware = async (ctx: Context, next: Next) => {
    if (hasBody(ctx) && !ctx.is('json', '+json')) {
      throw new AppError(415, 'invalid_body', 'Request bodies must be JSON (Content-Type: application/json)');
    }
    await next();
  };
  return [requireJson, bodyParser({ enableTypes: ['json'], jsonLimit: String(limitBytes), strict: true, extendTypes: { json: ['application/*+json'] } })];
}
