/**
 * JSON request bodies: koa-bodyparser for JSON only, with a size limit, plus the checks it does not
 * make. A request carrying a body must declare it as JSON in UTF-8 (a form or text body is refused,
 * not silently read as `{}`); bytes that are not UTF-8 are refused rather than stored as U+FFFD;
 * a body that cannot be read (a corrupt gzip stream, a short Content-Length) is the caller's error.
 * The raw text stays on `ctx.request.rawBody` for signature checks.
 */
import bodyParser from 'koa-bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { AppError, toAppError } from '../errors.js';

function hasBody(ctx: Context): boolean {
  const length = ctx.request.length;
  return (length !== undefined && length > 0) || ctx.get('transfer-encoding') !== '';
}

/** An error while reading or parsing the body: never a 5xx, whatever the decoder threw. */
function bodyError(err: unknown): AppError {
  const mapped = toAppError(err);
  if (mapped.status < 500) return mapped;
  return new AppError(400, 'invalid_body', `Request body could not be read: ${(err as Error).message ?? 'unreadable'}`, { cause: err });
}

export function jsonBody(limitBytes: number): Middleware[] {
  const requireJson: Middleware = async (ctx: Context, next: Next) => {
    if (hasBody(ctx)) {
      if (!ctx.is('json', '+json')) throw new AppError(415, 'invalid_body', 'Request bodies must be JSON (Content-Type: application/json)');
      const charset = ctx.request.charset.toLowerCase();
      if (charset !== '' && charset !== 'utf-8' && charset !== 'utf8') {
        throw new AppError(415, 'invalid_body', `Request bodies must be UTF-8, not ${charset}`);
      }
    }
    await next();
  };
  const parse = bodyParser({
    enableTypes: ['json'],
    jsonLimit: String(limitBytes),
    strict: true,
    extendTypes: { json: ['application/*+json'] },
    onerror: (err) => {
      throw bodyError(err);
    },
  });
  const requireUtf8: Middleware = async (ctx: Context, next: Next) => {
    // The decoder replaced invalid bytes with U+FFFD: refuse rather than store altered text.
    const raw = (ctx.request as { rawBody?: string }).rawBody;
    if (typeof raw === 'string' && raw.includes('\uFFFD')) {
      throw new AppError(400, 'invalid_body', 'Request body is not valid UTF-8');
    }
    await next();
  };
  return [requireJson, parse, requireUtf8];
}
