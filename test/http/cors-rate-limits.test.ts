import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../bridge/http/rate-limit.js';
import { startBridge, type ApiResponse, type TestBridge } from '../helpers/bridge.js';

describe('CORS', () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await startBridge();
  });
  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['POST', '/api/v1/accounts'],
    ['POST', '/api/v1/auth/exchange'],
    ['GET', '/api/v1/accounts/me'],
    ['POST', '/api/v1/accounts/me/rotate-key'],
    ['GET', '/api/v1/assets'],
    ['PATCH', '/api/v1/assets/abc'],
    ['DELETE', '/api/v1/assets/abc'],
    ['POST', '/api/v1/assets/abc/payment-link'],
    ['GET', '/api/public/events'],
    ['GET', '/api/public/events/abc'],
    ['GET', '/api/public/docs.pdf'],
    ['POST', '/x402/api/v1/verify'],
    ['POST', '/license/v1/validate'],
  ])('answers a preflight for %s %s', async (method, path) => {
    const res = await t.request('OPTIONS', path, {
      headers: { origin: 'https://agent.example', 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain(method);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(res.headers.get('access-control-max-age')).toBe('86400');
  });

  it('marks actual responses, including errors, readable cross-origin', async () => {
    const res = await t.request('GET', '/api/v1/accounts/me', { headers: { origin: 'https://agent.example' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('Retry-After');
  });
});

describe('rate limits', () => {
  let t: TestBridge;
  beforeAll(async () => {
    t = await startBridge({ RATE_LIMIT_PER_MINUTE: 60, SIGNUPS_PER_HOUR: 5 });
  });
  afterAll(async () => {
    await t.close();
  });

  it('allows 5 signups per hour per IP, then 429 rate_limited with Retry-After', async () => {
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await t.request('POST', '/api/v1/accounts', { body: { label: `fleet-${i}` } }));
    expect(results.slice(0, 5).map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    const refused = results[5]!;
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: 'rate_limited', message: expect.any(String) });
    const retry = Number(refused.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(720);
    // A malformed signup is refused for what it is, and does not use up the allowance.
    const bad = await t.request('POST', '/api/v1/accounts', { body: { label: 42 } });
    expect(bad.status).toBe(400);
  });

  it('allows 60 requests per minute per key, then 429 with Retry-After; other keys are unaffected', async () => {
    const limited = await startBridge({ RATE_LIMIT_PER_MINUTE: 60 });
    /**
     * Send requests in turn until the first one not answered 200. A fresh key may make 60 at once,
     * and its bucket gains one a second meanwhile: `allowed` is at least 60 and at most 60 plus the
     * whole seconds the run took, however slow the machine is (the limiter runs in this process, on this clock).
     */
    const untilRefused = async (send: (() => Promise<ApiResponse>)[]) => {
      const started = Date.now();
      for (let i = 0; i < 1_000; i++) {
        const res = await send[i % send.length]!();
        if (res.status !== 200) return { allowed: i, refused: res, most: 60 + Math.floor((Date.now() - started) / 1000) };
      }
      throw new Error('never refused');
    };
    try {
      const a = await limited.signup('busy');
      const b = await limited.signup('calm');
      const me = (token: string) => () => limited.request('GET', '/api/v1/accounts/me', { token });
      const { allowed, refused, most } = await untilRefused([me(a.key)]);
      expect(allowed).toBeGreaterThanOrEqual(60);
      expect(allowed).toBeLessThanOrEqual(most);
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe('rate_limited');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
      expect((await limited.request('GET', '/api/v1/accounts/me', { token: b.key })).status).toBe(200);

      // The key, its session tokens and the exchange that makes them share one allowance: taken in
      // turn, they get 60 (plus refills) together, not 60 each.
      const c = await limited.signup('shared');
      let session = '';
      const exchange = async () => {
        const res = await limited.request('POST', '/api/v1/auth/exchange', { body: { api_key: c.key } });
        if (res.status === 200) session = res.body.token;
        return res;
      };
      const shared = await untilRefused([exchange, () => me(session)(), me(c.key)]);
      expect(shared.allowed).toBeGreaterThanOrEqual(60);
      expect(shared.allowed).toBeLessThanOrEqual(shared.most);
      expect([shared.refused.status, shared.refused.body.error]).toEqual([429, 'rate_limited']);
    } finally {
      await limited.close();
    }
  });
});

describe('RateLimiter', () => {
  it('refills evenly and says how long to wait', () => {
    let now = 0;
    const limiter = new RateLimiter(60, 60_000, () => now);
    for (let i = 0; i < 60; i++) expect(limiter.take('k').allowed).toBe(true);
    const refused = limiter.take('k');
    expect(refused).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    now += 1000;
    expect(limiter.take('k').allowed).toBe(true);
    expect(limiter.take('k').allowed).toBe(false);
    now += 60_000;
    for (let i = 0; i < 60; i++) expect(limiter.take('k').allowed).toBe(true);
    expect(limiter.take('k').allowed).toBe(false);
  });

  it('is off at 0', () => {
    const limiter = new RateLimiter(0, 1000);
    for (let i = 0; i < 1000; i++) expect(limiter.take('k').allowed).toBe(true);
  });

  it('computes hour-scale waits', () => {
    let now = 0;
    const limiter = new RateLimiter(5, 3_600_000, () => now);
    for (let i = 0; i < 5; i++) limiter.take('ip');
    expect(limiter.take('ip').retryAfterSeconds).toBe(720);
    now += 700_000;
    expect(limiter.take('ip').retryAfterSeconds).toBe(20);
  });
});
