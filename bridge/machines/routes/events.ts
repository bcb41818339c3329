/** Routes: the account's event log. */
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import { eventView } from '../views.js';
import { createEventBody, listEventsQuery, noQuery } from '../schemas.js';
import type { EventFilter } from '../store.js';
import { authenticate, principal } from '../../http/auth.js';
import { body, decodeCursor, encodeCursor, idParam, query } from '../../http/params.js';
import type { MachinesDeps } from './shared.js';

const DEFAULT_LIMIT = 50;

export function eventRoutes(router: Router, deps: MachinesDeps): void {
  const auth = authenticate(deps, 'read');
  const write = authenticate(deps, 'write');

  router.get('/api/public/events', auth, async (ctx) => {
    const q = query(ctx, listEventsQuery);
    const filter: EventFilter = {};
    if (q.type !== undefined) filter.type = q.type;
    if (q.asset_id !== undefined) filter.asset_id = q.asset_id;
    if (q.since !== undefined) filter.since = new Date(q.since).toISOString();
    const page = await deps.events.list(principal(ctx).account.user_id, filter, q.limit ?? DEFAULT_LIMIT, decodeCursor(q.cursor));
    ctx.body = { events: page.items.map(eventView), next_cursor: encodeCursor(page.next) };
  });

  router.post('/api/public/events', write, async (ctx) => {
    query(ctx, noQuery);
    const p = principal(ctx);
    const input = body(ctx, createEventBody);
    const outcome = await deps.events.append(p.account.user_id, input, 'api');
    if (outcome.duplicate) {
      throw new AppError(409, 'duplicate_event', `An event with external_id ${JSON.stringify(input.external_id)} already exists`, {
        extra: { event_id: outcome.event.event_id },
      });
    }
    ctx.status = 201;
    ctx.body = eventView(outcome.event);
  });

  router.get('/api/public/events/:id', auth, async (ctx) => {
    query(ctx, noQuery);
    ctx.body = eventView(await deps.events.get(principal(ctx).account.user_id, idParam(ctx, 'id')));
  });
}
