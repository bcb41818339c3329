/**
 * Routes: status, networks and the token registry (no authentication), as the seed documents them:
 * `/status` and `/assets` in the `{data}` envelope, `/networks` as `{kinds}` and `/networks/:id` bare.
 */
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import { query } from '../../http/params.js';
import { assetView } from '../registry.js';
import { noQuery } from '../schemas.js';
import type { NetworkStatus } from '../types.js';
import type { X402Deps } from './shared.js';

export function systemRoutes(router: Router, deps: X402Deps): void {
  router.get('/api/v1/status', async (ctx) => {
    query(ctx, noQuery);
    const [database, networks] = await Promise.all([
      deps.store.healthy(),
      deps.facilitator.networks().catch((err: unknown): NetworkStatus[] | undefined => {
        deps.log.warn({ err }, 'x402 status: the facilitator could not list its networks');
        return undefined;
      }),
    ]);
    ctx.body = {
      data: {
        status: database && networks !== undefined ? 'healthy' : 'degraded',
        version: deps.version,
        uptime: Math.floor((Date.now() - deps.startedAt) / 1000),
        networks: networks ?? [],
        database: { status: database ? 'healthy' : 'unhealthy' },
      },
    };
  });

  router.get('/api/v1/networks', async (ctx) => {
    query(ctx, noQuery);
    ctx.body = { kinds: await deps.facilitator.networks() };
  });

  router.get('/api/v1/networks/:id', async (ctx) => {
    query(ctx, noQuery);
    const id = ctx.params['id'] ?? '';
    const found = (await deps.facilitator.networks()).find((n) => n.network === id);
    if (!found) throw new AppError(400, 'INVALID_REQUEST', 'unsupported network', { details: '' });
    ctx.body = { ...found, extra: { feePayer: found.feePayer } };
  });

  router.get('/api/v1/assets', async (ctx) => {
    query(ctx, noQuery);
    ctx.body = { data: (await deps.registry.list(true)).map(assetView) };
  });
}
