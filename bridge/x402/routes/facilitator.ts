/**
 * Routes: the facilitator itself — `/verify`, `/settle`, `/supported` — behind a client key allowed
 * the operation. Bodies are parsed by wire.ts (`parseFacilitatorRequest`: 400 INVALID_REQUEST or
 * INVALID_PAYLOAD); the facilitator's answers pass through as they are (an invalid payment is a 200
 * with its reason). A facilitator that throws is a 500 VERIFICATION_FAILED or SETTLEMENT_FAILED whose
 * body names no internals (they go to the log).
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors.js';
import { query } from '../../http/params.js';
import { noQuery } from '../schemas.js';
import type { FacilitatorRequest } from '../types.js';
import { clientAuth, currentClient, type X402Deps } from './shared.js';

function parsed(ctx: Context, deps: X402Deps): FacilitatorRequest {
  query(ctx, noQuery);
  const result = deps.parse((ctx.request as { body?: unknown }).body);
  if ('code' in result) {
    const message = result.code === 'INVALID_PAYLOAD' ? 'Invalid payment payload' : 'Invalid request format';
    throw new AppError(400, result.code, message, { details: result.details });
  }
  return result;
}

export function facilitatorRoutes(router: Router, deps: X402Deps): void {
  router.post('/api/v1/verify', clientAuth(deps, 'verify'), async (ctx) => {
    const request = parsed(ctx, deps);
    try {
      ctx.body = await deps.facilitator.verify(request);
    } catch (err) {
      throw new AppError(500, 'VERIFICATION_FAILED', 'Payment verification failed', {
        details: 'the facilitator could not complete the verification; retry later',
        cause: err,
      });
    }
  });

  router.post('/api/v1/settle', clientAuth(deps, 'settle'), async (ctx) => {
    const request = parsed(ctx, deps);
    let answer;
    try {
      answer = await deps.facilitator.settle(request);
    } catch (err) {
      throw new AppError(500, 'SETTLEMENT_FAILED', 'Payment settlement failed', {
        details: 'the facilitator could not complete the settlement; settling the same payload again is safe (it is never charged twice)',
        cause: err,
      });
    }
    await deps.settlements.record(currentClient(ctx), request, answer);
    // The gas it cost is for the settlement metrics, not part of x402's settle response.
    const { fee: _fee, ...wire } = answer;
    ctx.body = wire;
  });

  router.get('/api/v1/supported', clientAuth(deps, 'supported'), async (ctx) => {
    query(ctx, noQuery);
    const [kinds, networks] = await Promise.all([deps.facilitator.supported(), deps.facilitator.networks()]);
    // x402 v2 `/supported` also names the signers (fee payers) per network family.
    const feePayers = [...new Set(networks.filter((n) => n.status === 'active' && n.feePayer !== '').map((n) => n.feePayer))];
    ctx.body = { kinds, extensions: [], signers: feePayers.length > 0 ? { 'eip155:*': feePayers } : {} };
  });
}
