/** Rate-limit decisions on the wire: informational headers, and 429 `rate_limited` with Retry-After. */
import type { Context } from 'koa';
import { AppError } from '../errors.js';
import type { RateDecision } from './rate-limit.js';

export function enforce(ctx: Context, decision: RateDecision, what: string): void {
  if (decision.limit === 0) return;
  ctx.set('X-RateLimit-Limit', String(decision.limit));
  ctx.set('X-RateLimit-Remaining', String(decision.remaining));
  if (!decision.allowed) {
    throw new AppError(429, 'rate_limited', `Too many ${what}: retry after ${decision.retryAfterSeconds} s`, {
      headers: { 'Retry-After': String(decision.retryAfterSeconds), 'X-RateLimit-Limit': String(decision.limit), 'X-RateLimit-Remaining': '0' },
    });
  }
}
