/**
 * A webhook delivery that fails is in the operator's log and metrics: each failed attempt that will
 * be retried is an info line and `paywire_webhook_failures_total{outcome="retry"}`, a delivery that
 * runs out of attempts a warn line and `{outcome="gave_up"}`. The lines give the account, the
 * delivery, the attempt and what the delivery log says (a status, `refused`, `timeout`), never the URL,
 * whose path may carry the receiver's secret.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { until } from '../helpers/receiver.js';

let t: TestBridge;
let captured: CapturedLog;
let failing: Server;
beforeAll(async () => {
  failing = createServer((_req, res) => {
    res.statusCode = 500;
    res.end('no');
  });
  await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
  captured = captureLog('info');
  t = await startBridge({ LOG_LEVEL: 'info', WEBHOOK_RETRY_SCHEDULE_MS: '100' }, { log: captured.log });
});
afterAll(async () => {
  await t.close();
  await new Promise((resolve) => failing.close(resolve));
});

describe('failed webhook deliveries', () => {
  it('are logged and counted, retried once and then given up, without the URL', async () => {
    const { key, userId } = await t.signup('hook-fails');
    const secretPath = '/hooks/s3cr3t-receiver-token';
    const url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}${secretPath}`;
    expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: key, body: { url } })).status).toBe(200);
    expect((await t.request('POST', '/api/public/events', { token: key, body: { type: 'custom', data: { n: 1 } } })).status).toBe(201);

    const gaveUp = await until(() => captured.find('webhook delivery failed; no attempts left, given up')[0], 10_000, 'the delivery given up');
    const retried = captured.find('webhook delivery failed; will retry');
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ level: 30, userId, attempt: 1, status: 500 });
    expect(gaveUp).toMatchObject({ level: 40, userId, attempt: 2, status: 500, deliveryId: retried[0]?.['deliveryId'] });
    expect(captured.lines.join('')).not.toContain(secretPath);

    const metrics = await t.request('GET', '/metrics', { token: ADMIN_TOKEN });
    expect(metrics.text).toMatch(/paywire_webhook_failures_total\{outcome="retry"\} 1/);
    expect(metrics.text).toMatch(/paywire_webhook_failures_total\{outcome="gave_up"\} 1/);
  });
});
