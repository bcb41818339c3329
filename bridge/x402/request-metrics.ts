/**
 * Request metrics of the x402 family (`/metrics/daily|monthly|summary`): every request is counted
 * by day, user (the client key's owner or the JWT's user; 0 when anonymous) and route, in memory,
 * and the sums are added to the store every few seconds and at stop (telemetry, not money: a crash
 * loses at most one interval). Reads flush first, so a report includes every request answered
 * before it.
 */
import type { Logger } from 'pino';
import type { RequestCountRow, X402Store } from './store.js';

export interface RequestTotals {
  requests: number;
  errors: number;
  avgLatencyMs: number;
}

const key = (day: string, userId: number, route: string): string => `${day}\u0000${userId}\u0000${route}`;

/** At most this many distinct (day, user, route) rows wait in memory; past it the store is written early. */
const MAX_PENDING = 10_000;

export class RequestMetrics {
  private readonly store: X402Store;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private pending = new Map<string, RequestCountRow>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(store: X402Store, log: Logger, intervalMs = 5_000) {
    this.store = store;
    this.log = log;
    this.intervalMs = intervalMs;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  record(userId: number, route: string, status: number, ms: number): void {
    const day = new Date().toISOString().slice(0, 10);
    const k = key(day, userId, route);
    const row = this.pending.get(k) ?? { day, user_id: userId, route, requests: 0, errors: 0, latency_ms: 0 };
    row.requests += 1;
    if (status >= 400) row.errors += 1;
    row.latency_ms += Math.round(ms);
    this.pending.set(k, row);
    if (this.pending.size >= MAX_PENDING) void this.flush();
  }

  /** Write what is pending; flushes run one after another. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const rows = [...this.pending.values()];
      this.pending = new Map();
      try {
        await this.store.addRequestCounts(rows);
      } catch (err) {
        this.log.warn({ err, rows: rows.length }, 'could not store x402 request metrics; dropped');
      }
    });
    return this.flushing;
  }

  /** Rows of one user (or everyone) between two days, inclusive. */
  async rows(userId: number | undefined, fromDay: string, toDay: string): Promise<RequestCountRow[]> {
    await this.flush();
    return this.store.requestCounts(userId, fromDay, toDay);
  }
}

export function totals(rows: RequestCountRow[]): RequestTotals {
  let requests = 0;
  let errors = 0;
  let latency = 0;
  for (const r of rows) {
    requests += r.requests;
    errors += r.errors;
    latency += r.latency_ms;
  }
  return { requests, errors, avgLatencyMs: requests === 0 ? 0 : Math.round((latency / requests) * 100) / 100 };
}

/** Rows summed per bucket (a day, a month, a route…), in bucket order. */
export function groupBy<T>(rows: T[], bucket: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const b = bucket(row);
    const list = out.get(b);
    if (list) list.push(row);
    else out.set(b, [row]);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
