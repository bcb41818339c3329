/** The static admin token (`ADMIN_TOKEN`, or the one generated on first start), checked by hash in constant time. */
import type { Context, Middleware, Next } from 'koa';
import { AppError } from '../errors.js';
import { digestsEqual, sha256Hex } from '../ids.js';

export function adminOnly(adminTokenSha256: string): Middleware {
  return async (ctx: Context, next: Next) => {
    const header = ctx.get('authorization').trim();
    if (header === '')
      throw new AppError(401, 'missing_token', 'This endpoint needs the admin token', { headers: { 'WWW-Authenticate': 'Bearer realm="paywire-admin"' } });
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match || !digestsEqual(sha256Hex(match[1] as string), adminTokenSha256)) {
      throw new AppError(401, 'invalid_token', 'Not the admin token', { headers: { 'WWW-Authenticate': 'Bearer realm="paywire-admin"' } });
    }
    await next();
  };
}
