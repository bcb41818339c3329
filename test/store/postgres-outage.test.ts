/**
 * PostgreSQL going away for 5 s while events stream in (through a TCP proxy the test cuts; the
 * machine's shared server is never touched): writes get 503 backend_unavailable, never a 500;
 * no acknowledged event is lost or stored twice; the bridge takes writes again once the database is
 * back, without a restart, and sends the webhook deliveries the outage interrupted.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, testDatabaseUrl, type TestBridge } from '../helpers/bridge.js';
import { until } from '../helpers/receiver.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let t: TestBridge;
let proxy: TcpProxy;
/** A webhook receiver that answers 200 after 300 ms, so deliveries are out when the database goes (one account: all 8 delivery slots are its). */
const received = new Set<string>();
const receiver = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
  req.on('end', () =>
    setTimeout(() => {
      received.add((JSON.parse(body) as { data: { external_id: string } }).data.external_id);
      res.end('ok');
    }, 300),
  );
});

beforeAll(async () => {
  // The bridge's DATABASE_URL goes through the proxy to this file's test database.
  const direct = new URL(await testDatabaseUrl('outage'));
  proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
  direct.host = `127.0.0.1:${proxy.port}`;
  t = await startBridge({ DATABASE_URL: direct.toString(), DATABASE_POOL_SIZE: 4, WEBHOOK_RETRY_SCHEDULE_MS: '200', WEBHOOK_ACCOUNT_CONCURRENCY: 8 });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  proxy.restore();
  await t?.close();
  await proxy?.close();
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PostgreSQL outage', () => {
  it('answers 503 while the database is down, loses and doubles nothing, and recovers by itself', async () => {
    const { key } = await t.signup('outage-bot');
    // Every event is also a webhook delivery: some are out at the receiver when the database goes.
    expect(
      (
        await t.request('PUT', '/api/v1/accounts/me/webhook', {
          token: key,
          body: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` },
        })
      ).status,
    ).toBe(200);
    const statuses = new Map<number, number>();
    const acknowledged = new Set<string>();
    /** Answered 201 (the rest of the acknowledged landed although a 503 said otherwise). */
    const created = new Set<string>();
    let phase: 'before' | 'down' | 'after' = 'before';
    let ackedAfter = 0;
    const bodies: string[] = [];

    // Writers retry an unanswered event under the same external_id, as the docs tell clients to:
    // 201 or (for a write that landed although its answer was lost) 409 duplicate_event settle it.
    const writer = async (w: number) => {
      for (let n = 0; phase !== 'after' || ackedAfter < 40; n++) {
        const externalId = `w${w}-n${n}`;
        for (;;) {
          const res = await t.request('POST', '/api/public/events', { token: key, body: { type: 'action', external_id: externalId, data: { w, n } } });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 201 || (res.status === 409 && res.body.error === 'duplicate_event')) {
            acknowledged.add(externalId);
            if (res.status === 201) created.add(externalId);
            if (phase === 'after') ackedAfter++;
            break;
          }
          if (res.status !== 503) {
            bodies.push(`${res.status} ${res.text}`);
            return;
          }
          expect(res.body.error).toBe('backend_unavailable');
          await sleep(100);
        }
      }
    };
    const writers = Promise.all(Array.from({ length: 6 }, (_, w) => writer(w)));

    while (acknowledged.size < 60) await sleep(10);
    phase = 'down';
    proxy.cut();
    const cutAt = acknowledged.size;
    await sleep(5_000);
    // Reads fail the same way while it is down.
    const read = await t.request('GET', '/api/public/events?limit=1', { token: key });
    expect([read.status, read.body.error]).toEqual([503, 'backend_unavailable']);
    proxy.restore();
    phase = 'after';
    await writers;

    expect(bodies, 'answers other than 201, 409 duplicate_event and 503').toEqual([]);
    expect(statuses.get(500)).toBeUndefined();
    expect(statuses.get(503) ?? 0, 'writes refused while the database was down').toBeGreaterThan(0);
    expect(acknowledged.size).toBeGreaterThanOrEqual(cutAt + 40);

    const stored: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: any } = await t.request('GET', `/api/public/events?limit=200${cursor ? `&cursor=${cursor}` : ''}`, { token: key });
      expect(res.status).toBe(200);
      stored.push(...res.body.events.map((e: { external_id: string }) => e.external_id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(stored.length, 'no event stored twice').toBe(new Set(stored).size);
    expect(
      [...acknowledged].filter((id) => !stored.includes(id)),
      'acknowledged but lost',
    ).toEqual([]);

    // Webhook deliveries cut off by the outage are sent once it is over, without a restart. (Those of
    // events whose 201 the outage swallowed have no announcement: the sender's 30 s sweep finds them,
    // test/webhooks/sweep.test.ts.)
    await until(() => [...created].every((id) => received.has(id)), 20_000, 'every event answered 201 delivered to the webhook');
  });
});
