/**
 * Route: `GET /api/v1/assets/{id}/x402`, where agents buy one run of a machine over x402 (no API key: the
 * payment is the credential). It sits beside the asset in the machine-payments API, so its errors have
 * that family's shape; its 402 and 200 bodies are x402's own. Requests per client address are limited
 * like LNURL callbacks (LNURL_CALLBACKS_PER_MINUTE): each may make an invoice or a chain read.
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { enforce } from '../../http/rate-headers.js';
import type { RateLimiter } from '../../http/rate-limit.js';
import { idParam, query } from '../../http/params.js';
import { noQuery } from '../../machines/schemas.js';
import type { Metrics } from '../../metrics.js';
import type { AgentPurchases } from './purchase.js';
import { addressKey } from '../../../broker/address.js';

export interface AgentRoutesDeps {
  purchases: AgentPurchases;
  /** Requests per client address. */
  limiter: RateLimiter;
  metrics?: Metrics | undefined;
}

/** A request header given once, or undefined when absent. */
function header(ctx: Context, name: string): string | undefined {
  const value = ctx.req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export function agentRoutes(deps: AgentRoutesDeps): (router: Router) => void {
  return (router) => {
    router.get('/api/v1/assets/:id/x402', async (ctx) => {
      query(ctx, noQuery);
      const decision = deps.limiter.take(addressKey(ctx.ip));
      if (!decision.allowed) deps.metrics?.refuse('x402', 'rate_limited_address');
      enforce(ctx, decision, 'x402 purchase requests from this address');
      const answer = await deps.purchases.handle(idParam(ctx, 'id'), { v1: header(ctx, 'x-payment'), v2: header(ctx, 'payment-signature') });
      ctx.status = answer.status;
      ctx.set(answer.headers);
      ctx.body = answer.body;
    });
  };
}
