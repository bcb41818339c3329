/**
 * Routes: request metrics (`/metrics/…`) and x402 settlement metrics (`/x402-metrics/…`) of the
 * signed-in user — an admin user sees everyone's — per day, per month, or in total, within `from`/`to`
 * (ISO 8601 dates or date-times; a date alone covers its whole day, UTC). Defaults: the last 30 days
 * (daily), the last 12 months (monthly), all time (summary).
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors.js';
import { query } from '../../http/params.js';
import { groupBy, totals } from '../request-metrics.js';
import { byNetworkAndAsset, settlementTotals } from '../settlement-metrics.js';
import { rangeQuery } from '../schemas.js';
import { currentUser, userAuth, type X402Deps } from './shared.js';

type Period = 'daily' | 'monthly' | 'summary';
const DAY_MS = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

interface Range {
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
}

function range(ctx: Context, period: Period): Range {
  const q = query(ctx, rangeQuery);
  const now = new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const defaultFrom =
    period === 'daily'
      ? new Date(today - 29 * DAY_MS)
      : period === 'monthly'
        ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 11, 1))
        : new Date(0);
  const from = q.from === undefined ? defaultFrom : new Date(DATE_ONLY.test(q.from) ? `${q.from}T00:00:00Z` : q.from);
  const to = q.to === undefined ? new Date(today + DAY_MS) : DATE_ONLY.test(q.to) ? new Date(Date.parse(`${q.to}T00:00:00Z`) + DAY_MS) : new Date(q.to);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()))
    throw new AppError(400, 'INVALID_REQUEST', 'Invalid query', { details: 'from and to must be dates' });
  if (from.getTime() >= to.getTime()) throw new AppError(400, 'INVALID_REQUEST', 'Invalid query', { details: 'from must be before to' });
  return { from, to };
}

const dayOf = (d: Date): string => d.toISOString().slice(0, 10);
/** The last day a range touches (its end is exclusive). */
const lastDayOf = (r: Range): string => dayOf(new Date(r.to.getTime() - 1));

export function metricsRoutes(router: Router, deps: X402Deps): void {
  const auth = userAuth(deps);
  const scopeOf = (ctx: Context): number | undefined => {
    const user = currentUser(ctx);
    return user.is_admin ? undefined : user.id;
  };

  const requestRows = async (ctx: Context, period: Period) => {
    const r = range(ctx, period);
    return deps.requests.rows(scopeOf(ctx), dayOf(r.from), lastDayOf(r));
  };

  router.get('/api/v1/metrics/daily', auth, async (ctx) => {
    const rows = await requestRows(ctx, 'daily');
    ctx.body = { data: [...groupBy(rows, (r) => r.day)].map(([date, list]) => ({ date, ...totals(list) })) };
  });

  router.get('/api/v1/metrics/monthly', auth, async (ctx) => {
    const rows = await requestRows(ctx, 'monthly');
    ctx.body = { data: [...groupBy(rows, (r) => r.day.slice(0, 7))].map(([month, list]) => ({ month, ...totals(list) })) };
  });

  router.get('/api/v1/metrics/summary', auth, async (ctx) => {
    const rows = await requestRows(ctx, 'summary');
    ctx.body = { data: { ...totals(rows), routes: [...groupBy(rows, (r) => r.route)].map(([route, list]) => ({ route, ...totals(list) })) } };
  });

  const settlementRecords = async (ctx: Context, period: Period) => {
    const r = range(ctx, period);
    return deps.settlements.list(scopeOf(ctx), r.from.toISOString(), r.to.toISOString());
  };

  router.get('/api/v1/x402-metrics/daily', auth, async (ctx) => {
    const records = await settlementRecords(ctx, 'daily');
    ctx.body = { data: [...groupBy(records, (s) => s.created.slice(0, 10))].flatMap(([date, list]) => byNetworkAndAsset(list).map((g) => ({ date, ...g }))) };
  });

  router.get('/api/v1/x402-metrics/monthly', auth, async (ctx) => {
    const records = await settlementRecords(ctx, 'monthly');
    ctx.body = { data: [...groupBy(records, (s) => s.created.slice(0, 7))].flatMap(([month, list]) => byNetworkAndAsset(list).map((g) => ({ month, ...g }))) };
  });

  router.get('/api/v1/x402-metrics/summary', auth, async (ctx) => {
    const records = await settlementRecords(ctx, 'summary');
    const all = settlementTotals(records);
    ctx.body = {
      data: { settlements: all.settlements, succeeded: all.succeeded, failed: all.failed, pending: all.pending, networks: byNetworkAndAsset(records) },
    };
  });
}
