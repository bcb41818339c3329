/**
 * `GET /metrics`: Prometheus text behind the admin token, with figures that follow real traffic:
 * HTTP requests and latency by route pattern and status, payments settled by rail, settle→publish
 * latency, connected MQTT clients, the outbox, pending webhook deliveries and store commits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { createMachine, deviceLogin, pay, type Machine } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { startReceiver, until, type Receiver } from '../helpers/receiver.js';

/** The value of one sample (`name{labels} value`), or undefined when it is not there. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(/,(?=[a-z_]+=")/).filter((l) => l !== '');
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(match[3]);
  }
  return undefined;
}

describe('GET /metrics', () => {
  let t: TestBridge;
  let m: Machine;
  let device: TestClient;
  let receiver: Receiver;
  const scrape = async () => {
    const res = await t.request('GET', '/metrics', { token: ADMIN_TOKEN });
    expect(res.status).toBe(200);
    return res.text;
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    receiver.fallback = 500;
    t = await startBridge({ WEBHOOK_RETRY_SCHEDULE_MS: '60000' });
    m = await createMachine(t.url, 'Metered');
    const login = await deviceLogin(m);
    device = await connectMqtt(`mqtt://127.0.0.1:${t.info.mqttPort}`, { username: login.username, password: login.password });
    await device.client.subscribeAsync(m.topic('payment'), { qos: 1 });
  });
  afterAll(async () => {
    await device?.end().catch(() => undefined);
    await t.close();
    await receiver.close();
  });

  it('needs the admin token', async () => {
    const none = await t.request('GET', '/metrics');
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('missing_token');
    const wrong = await t.request('GET', '/metrics', { token: 'not-the-admin-token-at-all' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_token');
  });

  it('serves the registry in the Prometheus text format', async () => {
    t.bridge.metrics.refuse('test', 'example');
    const res = await t.request('GET', '/metrics', { token: ADMIN_TOKEN });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.text).toContain('# TYPE paywire_refusals_total counter');
    expect(res.text).toContain('paywire_refusals_total{component="test",reason="example"} 1');
  });

  it('counts HTTP requests and their latency by route pattern and status, never by raw path', async () => {
    for (let i = 0; i < 3; i++) expect((await t.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).status).toBe(200);
    expect((await t.request('GET', '/api/v1/assets/nosuchasset00000', { token: m.key })).status).toBe(404);
    expect((await t.request('GET', `/no/such/path/${m.assetId}`)).status).toBe(404);
    const text = await scrape();
    const route = { method: 'GET', route: '/api/v1/assets/:id' };
    expect(sample(text, 'paywire_http_requests_total', { ...route, status: '200' })).toBe(3);
    expect(sample(text, 'paywire_http_requests_total', { ...route, status: '404' })).toBe(1);
    expect(sample(text, 'paywire_http_request_duration_seconds_count', { ...route, status: '200' })).toBe(3);
    expect(sample(text, 'paywire_http_request_duration_seconds_bucket', { ...route, status: '200', le: '+Inf' })).toBe(3);
    expect(sample(text, 'paywire_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    // Other families are labelled with their mount prefix.
    expect(sample(text, 'paywire_http_requests_total', { method: 'POST', route: '/api/v1/assets/:id/payment-link', status: '201' })).toBe(1);
    expect(text).not.toContain(m.assetId);
    expect(text).not.toContain('nosuchasset');
  });

  it('counts settled payments by rail, times settle→publish, and follows the outbox, the MQTT clients and the webhook queue', async () => {
    expect(sample(await scrape(), 'paywire_mqtt_clients')).toBe(1);
    expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: m.key, body: { url: receiver.url } })).status).toBe(200);
    const paymentId = await pay(m, ADMIN_TOKEN);
    await until(() => device.on(m.topic('payment')).length > 0, 5000, 'the payment message');
    // The receiver answers 500: the paid event's delivery waits for its retry a minute later.
    await until(() => receiver.received.length > 0, 5000, 'a webhook attempt');
    let text = await until(
      async () => {
        const scraped = await scrape();
        return sample(scraped, 'paywire_webhook_deliveries_pending') === 1 ? scraped : undefined;
      },
      5000,
      'the pending delivery',
    );
    expect(sample(text, 'paywire_payments_settled_total', { rail: 'lightning' })).toBe(1);
    expect(sample(text, 'paywire_settle_to_publish_seconds_count')).toBe(1);
    expect(sample(text, 'paywire_outbox_payments')).toBe(1);
    expect(sample(text, 'paywire_store_commit_seconds_count')).toBeGreaterThan(5);

    // The machine reports the payment: it leaves the outbox.
    await device.client.publishAsync(m.topic('action'), JSON.stringify({ type: 'action', external_id: `vend-${paymentId}`, payment_id: paymentId }), {
      qos: 1,
    });
    text = await until(
      async () => {
        const scraped = await scrape();
        return sample(scraped, 'paywire_outbox_payments') === 0 ? scraped : undefined;
      },
      5000,
      'the outbox to empty',
    );
    await device.end();
    expect(await until(async () => sample(await scrape(), 'paywire_mqtt_clients') === 0, 5000, 'the client to be gone')).toBe(true);
  });
});
