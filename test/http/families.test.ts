import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

describe('the three API families keep their own error shapes', () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await startBridge();
  });
  afterAll(async () => {
    await t.close();
  });

  it('machine payments: {error, message}', async () => {
    const res = await t.request('GET', '/api/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', message: expect.stringContaining('/api/v1/nothing-here') });
    const method = await t.request('DELETE', '/api/v1/accounts');
    expect(method.status).toBe(405);
    expect(method.body.error).toBe('method_not_allowed');
    expect(method.headers.get('allow')).toContain('POST');
  });

  it('x402 facilitator: {code, message, details} under /x402', async () => {
    const health = await t.request('GET', '/x402/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'healthy', timestamp: expect.any(Number), version: expect.any(String) });
    const missing = await t.request('GET', '/x402/api/v1/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ code: 'NOT_FOUND', message: expect.any(String), details: '' });
    const badJson = await t.request('POST', '/x402/health', { raw: '{oops', headers: { 'content-type': 'application/json' } });
    expect(badJson.status).toBe(400);
    expect(badJson.body.code).toBe('INVALID_REQUEST');
  });

  it('license server: {ok: false, error, message} under /license', async () => {
    expect((await t.request('GET', '/license/healthz')).body).toEqual({ ok: true });
    const missing = await t.request('GET', '/license/v1/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ ok: false, error: 'not_found', message: expect.any(String) });
    const big = await t.request('POST', '/license/healthz', {
      raw: JSON.stringify({ x: 'y'.repeat(70_000) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ ok: false, error: 'bad_request' });
  });
});

describe('prefixes are configurable', () => {
  it('can move the families, down to an empty prefix for one of them', async () => {
    const t = await startBridge({ MACHINES_PREFIX: '/m', X402_PREFIX: '', LICENSE_PREFIX: '/lic' });
    try {
      expect((await t.request('GET', '/health')).body.status).toBe('healthy');
      expect((await t.request('GET', '/lic/healthz')).body).toEqual({ ok: true });
      const signup = await t.request('POST', '/m/api/v1/accounts', { body: { label: 'moved' } });
      expect(signup.status).toBe(201);
      expect((await t.request('GET', '/m/api/v1/accounts/me', { token: signup.body.api_key })).status).toBe(200);
      // Unknown paths now fall to the root family, the facilitator.
      expect((await t.request('GET', '/api/v1/accounts/me')).body.code).toBe('NOT_FOUND');
    } finally {
      await t.close();
    }
  });
});

describe('a failing store', () => {
  it('answers writes with 503 backend_unavailable and keeps serving reads', async () => {
    const t = await startBridge();
    try {
      const { key } = await t.signup('doomed');
      // Close the log file under the running store, as a dying disk would fail it.
      const journal = (t.bridge as unknown as { running: { stores: { journal: { wal: { handle: { close(): Promise<void> } } } } } }).running.stores.journal;
      await journal.wal.handle.close();
      const write = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'x', price_sats: 1 } });
      expect(write.status).toBe(503);
      expect(write.body).toEqual({ error: 'backend_unavailable', message: expect.stringMatching(/not made/) });
      expect((await t.request('GET', '/api/v1/accounts/me', { token: key })).status).toBe(200);
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
