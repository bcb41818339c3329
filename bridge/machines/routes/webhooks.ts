/** Routes: the account's signed outbound webhook, its delivery log, and the published signing key. */
import type { Router } from '@koa/router';
import { deliveryView, webhookView } from '../views.js';
import { listDeliveriesQuery, noQuery, putWebhookBody } from '../schemas.js';
import { authenticate, principal } from '../../http/auth.js';
import { body, decodeCursor, encodeCursor, query } from '../../http/params.js';
import type { MachinesDeps } from './shared.js';

const DEFAULT_LIMIT = 50;

export function webhookRoutes(router: Router, deps: MachinesDeps): void {
  const auth = authenticate(deps, 'read');
  const write = authenticate(deps, 'write');

  router.get('/api/public/webhooks/public-key', async (ctx) => {
    query(ctx, noQuery);
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = deps.signer.info();
  });

  router.get('/api/v1/accounts/me/webhook', auth, async (ctx) => {
    query(ctx, noQuery);
    ctx.body = { ...webhookView(await deps.webhooks.get(principal(ctx))), signing: deps.signer.info() };
  });

  router.put('/api/v1/accounts/me/webhook', write, async (ctx) => {
    query(ctx, noQuery);
    const webhook = await deps.webhooks.put(principal(ctx), body(ctx, putWebhookBody));
    ctx.body = { ...webhookView(webhook), signing: deps.signer.info() };
  });

  router.delete('/api/v1/accounts/me/webhook', write, async (ctx) => {
    query(ctx, noQuery);
    await deps.webhooks.remove(principal(ctx));
    ctx.body = { deleted: true };
  });

  router.get('/api/v1/accounts/me/webhook/deliveries', auth, async (ctx) => {
    const q = query(ctx, listDeliveriesQuery);
    const page = await deps.webhooks.deliveries(principal(ctx), q.status, q.limit ?? DEFAULT_LIMIT, decodeCursor(q.cursor));
    ctx.body = { deliveries: page.items.map(deliveryView), next_cursor: encodeCursor(page.next) };
  });
}
