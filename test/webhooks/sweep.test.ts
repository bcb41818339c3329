/**
 * The webhook sender finds pending deliveries nobody announced (a write that landed although a store
 * outage cut off its answer, so no `webhook.delivery.queued` was emitted) and sends them, without a
 * restart.
 */
import { testOutbound } from '../helpers/bridge.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../bridge/events.js';
import { createLogger } from '../../bridge/log.js';
import { Journal } from '../../bridge/store/journal/engine.js';
import { JournalMachinesStore } from '../../bridge/store/journal/machines-store.js';
import { WebhookSender } from '../../bridge/webhooks/sender.js';
import { WebhookSigner } from '../../bridge/webhooks/signing.js';
import { until } from '../helpers/receiver.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('webhook sender sweep', () => {
  it('sends a pending delivery it was never told of', async () => {
    const received: string[] = [];
    const server = createServer((req, res) => {
      received.push(String(req.headers['webhook-id']));
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => server.close(() => resolve())));
    const dir = await mkdtemp(join(tmpdir(), 'paywire-sweep-'));
    const journal = new Journal({ dir, fsync: false });
    const store = new JournalMachinesStore(journal);
    await journal.open();
    cleanup.push(async () => {
      await journal.close();
      await rm(dir, { recursive: true, force: true });
    });
    const log = createLogger('silent');
    const bus = new EventBus(log);
    const sender = new WebhookSender(store, bus, await WebhookSigner.create(new Uint8Array(32).fill(7)), log, {
      timeoutMs: 5_000,
      retryScheduleMs: [100],
      concurrency: 2,
      perAccount: 2,
      outbound: testOutbound(),
      sweepMs: 100,
    });
    await sender.start();
    cleanup.push(() => sender.stop());

    const now = new Date().toISOString();
    await store.putWebhook({
      user_id: 'u1',
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
      events: [],
      disabled_at: null,
      created: now,
      updated: now,
    });
    // Stored with its delivery, and never announced on the bus.
    await store.appendEvent({ event_id: 'e1', user_id: 'u1', type: 'action', asset_id: null, external_id: null, data: null, source: 'api', created: now }, [
      {
        delivery_id: 'msg_1',
        user_id: 'u1',
        event_id: 'e1',
        event_type: 'action',
        status: 'pending',
        attempts: [],
        next_attempt_at: now,
        created: now,
        updated: now,
      },
    ]);
    await until(async () => (await store.getDelivery('msg_1'))?.status === 'delivered', 5_000, 'the unannounced delivery delivered');
    expect(received).toEqual(['msg_1']);
  });
});
