/**
 * An invoice handed out before its asset was deleted can still be paid: a wallet holding it pays,
 * and with a real backend the money arrives whatever the bridge thinks. The bridge records what
 * happened: the payment is settled with `refund_due: true`, its `paid` event says so (webhooks and
 * the event log), and no machine is told to run (no MQTT message, no replay, no `payment.settled`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assetTopic } from '../../broker/topics.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { until } from '../helpers/receiver.js';

let t: TestBridge;

beforeAll(async () => {
  t = await startBridge({ LIGHTNING_POLL_MS: 50 });
});

afterAll(async () => {
  await t.close();
});

/** An account with an asset, its payment link, a pending invoice and a watcher on the asset's payment topic. */
async function pendingInvoice(label: string) {
  const { key, userId } = await t.signup(label);
  const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Kiosk', price_sats: 21 } });
  expect(asset.status).toBe(201);
  const assetId = asset.body.asset_id as string;
  const link = await t.request('POST', `/api/v1/assets/${assetId}/payment-link`, { token: key });
  expect(link.status).toBe(201);
  const res = await fetch(`${link.body.url}/callback?amount=21000`);
  const invoice = (await res.json()) as { pr: string; verify: string };
  expect(res.status).toBe(200);
  const topic = assetTopic(userId, assetId, 'payment');
  const watcher = await connectMqtt(`mqtt://127.0.0.1:${t.info.mqttPort}`, { username: userId, password: key });
  await watcher.client.subscribeAsync(topic, { qos: 1 });
  return { key, userId, assetId, topic, watcher, hash: invoice.verify.split('/').pop() as string, verify: invoice.verify };
}

const settle = (hash: string) => t.request('POST', `/api/v1/dev/payments/${hash}/settle`, { token: ADMIN_TOKEN });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a pending invoice whose asset is deleted', () => {
  it('still runs the machine when its asset is live (the watcher sees payments)', async () => {
    const p = await pendingInvoice('live-asset');
    try {
      const res = await settle(p.hash);
      expect(res.status).toBe(200);
      expect(res.body.refund_due).toBe(false);
      await until(() => p.watcher.on(p.topic).length === 1, 3000, 'the payment message');
    } finally {
      await p.watcher.end();
    }
  });

  it('is recorded settled with refund_due when paid after the delete, and no machine is told', async () => {
    const p = await pendingInvoice('deleted-asset');
    const announced: string[] = [];
    t.bridge.bus.on('payment.settled', announced, ({ payment }) => void announced.push(payment.payment_id));
    let late: TestClient | undefined;
    try {
      expect((await t.request('DELETE', `/api/v1/assets/${p.assetId}`, { token: p.key })).status).toBe(200);
      // New invoices are refused at once...
      const link = await t.request('GET', `/api/v1/assets/${p.assetId}/payment-link`, { token: p.key });
      expect(link.status).toBe(404);

      // ...but the one already handed out is paid.
      const res = await settle(p.hash);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ status: 'settled', refund_due: true, delivered_at: null });
      // The payer's wallet hears the truth: it is paid.
      const verify = (await (await fetch(p.verify)).json()) as { settled: boolean };
      expect(verify.settled).toBe(true);

      // The operator hears it needs refunding: the paid event carries the flag.
      const events = await t.request('GET', '/api/public/events?type=paid', { token: p.key });
      expect(events.body.events).toHaveLength(1);
      expect(events.body.events[0]).toMatchObject({ asset_id: p.assetId, data: { payment_hash: p.hash, refund_due: true, refund_reason: 'asset_deleted' } });

      // No machine runs for it: nothing on the asset's topic, nothing on the bus, and no replay
      // to a client that subscribes afterwards.
      late = await connectMqtt(`mqtt://127.0.0.1:${t.info.mqttPort}`, { username: p.userId, password: p.key, clientId: `late-${p.userId}` });
      await late.client.subscribeAsync(`paywire/${p.userId}/#`, { qos: 1 });
      await pause(500);
      expect(p.watcher.on(p.topic)).toEqual([]);
      expect(late.on(p.topic)).toEqual([]);
      expect(announced).toEqual([]);

      // A repeated report changes nothing.
      const again = await settle(p.hash);
      expect(again.body).toMatchObject({ already_settled: true, refund_due: true });
    } finally {
      t.bridge.bus.off(announced);
      await late?.end();
      await p.watcher.end();
    }
  });
});
