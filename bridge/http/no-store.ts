/** Responses that carry a secret shown once (an API key, a device password) are never cached. */
import type { Context } from 'koa';

export function noStore(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
}
