/** `GET /metrics`: Prometheus text behind the admin token. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';

describe('GET /metrics', () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await startBridge();
  });
  afterAll(() => t.close());

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
});
