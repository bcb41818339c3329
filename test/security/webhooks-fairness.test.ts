/**
 * Fair webhook delivery: due deliveries wait in one queue per account, accounts take turns (least
 * recently served first), and an account has at most WEBHOOK_ACCOUNT_CONCURRENCY deliveries in
 * flight, so an account whose endpoint never answers cannot hold every slot and delay other
 * accounts' deliveries. Asserted on the order in which deliveries arrive, not on durations.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';
import { until } from '../helpers/receiver.js';

/**
 * One server for both accounts, so arrivals have one order: `/dead` requests are held until the
 * test lets one go (its connection is cut), `/live` ones are answered 200.
 */
interface Endpoints {
  base: string;
  arrivals: string[];
  held: ServerResponse[];
  release(): void;
  close(): Promise<void>;
}

async function startEndpoints(): Promise<Endpoints> {
  const arrivals: string[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(req.url === '/dead' ? 'A' : 'B');
      if (req.url === '/dead') held.push(res);
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    held,
    release: () => held.shift()?.socket?.destroy(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let endpoints: Endpoints;
beforeEach(async () => {
  endpoints = await startEndpoints();
});
afterEach(async () => {
  await endpoints.close();
});

async function hooked(t: TestBridge, path: string): Promise<string> {
  const { key } = await t.signup('fair');
  expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: key, body: { url: `${endpoints.base}${path}` } })).status).toBe(200);
  return key;
}

const event = (t: TestBridge, key: string) => t.request('POST', '/api/public/events', { token: key, body: { type: 'paid' } });

describe('webhook deliveries across accounts', () => {
  it("go out for account B while account A's many deliveries hang at a dead endpoint", async () => {
    // Two slots; before the fix A's hanging deliveries took both until they timed out.
    const t = await startBridge({ WEBHOOK_CONCURRENCY: 2, WEBHOOK_ACCOUNT_CONCURRENCY: 1, WEBHOOK_TIMEOUT_MS: 10_000, WEBHOOK_RETRY_SCHEDULE_MS: '600000' });
    try {
      const a = await hooked(t, '/dead');
      const b = await hooked(t, '/live');
      for (let i = 0; i < 6; i++) await event(t, a);
      await until(() => endpoints.arrivals.length > 0, 5_000, "A's first delivery");
      await event(t, b);
      await until(() => endpoints.arrivals.includes('B'), 20_000, "B's delivery");
      // B got through while A's first delivery still hangs, and A never held more than its one slot.
      expect(endpoints.arrivals).toEqual(['A', 'B']);
      expect(endpoints.held).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it("take turns: B's queued delivery goes before A's next ones", async () => {
    // One slot: who gets it next is all that matters.
    const t = await startBridge({ WEBHOOK_CONCURRENCY: 1, WEBHOOK_ACCOUNT_CONCURRENCY: 1, WEBHOOK_TIMEOUT_MS: 20_000, WEBHOOK_RETRY_SCHEDULE_MS: '600000' });
    try {
      const a = await hooked(t, '/dead');
      const b = await hooked(t, '/live');
      for (let i = 0; i < 3; i++) await event(t, a);
      await until(() => endpoints.arrivals.length === 1, 5_000, "A's first delivery");
      await event(t, b);
      // A's first attempt ends (its connection is cut): the slot goes to B, then back to A.
      endpoints.release();
      await until(() => endpoints.arrivals.length >= 3, 20_000, 'two more deliveries');
      // In arrival order it would have been A, A, A, then B.
      expect(endpoints.arrivals.slice(0, 3)).toEqual(['A', 'B', 'A']);
    } finally {
      await t.close();
    }
  });
});
