/**
 * x402 users over HTTP against a real bridge: signup, login, refresh-token rotation and revocation,
 * every refusal with the seed's exact body, per-IP limits, passwords and tokens at rest, and the one
 * account model (a person who signs up is a machine-payments account too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBridge } from '../../helpers/bridge.js';
import { ADMIN_TOKEN, email, expectX402Error, login, PASSWORD, person, signup, startX402Bridge, storeText } from './helpers.js';

let b: TestBridge;
beforeAll(async () => {
  b = await startX402Bridge();
});
afterAll(() => b.close());

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const JWT = /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

describe('POST /api/v1/signup', () => {
  it('creates a user: 200 with the documented envelope', async () => {
    const address = email('Signup');
    const res = await signup(b, address);
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body)).toEqual(['data']);
    expect(Object.keys(res.body.data).sort()).toEqual(['message', 'user']);
    expect(res.body.data.message).toBe('Account created');
    const user = res.body.data.user;
    expect(Object.keys(user).sort()).toEqual(['createdAt', 'email', 'id', 'isAdmin']);
    expect(user.email).toBe(address.toLowerCase());
    expect(user.isAdmin).toBe(false);
    expect(Number.isInteger(user.id) && user.id > 0).toBe(true);
    expect(user.createdAt).toMatch(ISO);
  });

  it('refuses a taken email (any case) with 409 CONFLICT', async () => {
    const address = email();
    expect((await signup(b, address)).status).toBe(200);
    expectX402Error(await signup(b, address), 409, 'CONFLICT');
    expectX402Error(await signup(b, address.toUpperCase()), 409, 'CONFLICT');
  });

  it('20 signups racing with one email: exactly one account', async () => {
    const address = email('race');
    const results = await Promise.all(Array.from({ length: 20 }, () => signup(b, address)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) expectX402Error(r, 409, 'CONFLICT');
    expect((await login(b, address)).status).toBe(200);
  });

  it('refuses a bad email or a short password with 400 INVALID_REQUEST', async () => {
    for (const body of [
      { email: 'not-an-email', password: PASSWORD },
      { email: email(), password: 'short' },
      { email: email() },
      { password: PASSWORD },
      { email: email(), password: PASSWORD, is_admin: true },
      { email: 42, password: PASSWORD },
    ]) {
      expectX402Error(await b.request('POST', '/x402/api/v1/signup', { body }), 400, 'INVALID_REQUEST');
    }
  });

  it('stores the password only as a scrypt hash', async () => {
    const address = email('secret');
    const password = 'Correct-Horse-Battery-Staple-77';
    expect((await signup(b, address, password)).status).toBe(200);
    const text = await storeText(b);
    expect(text).toContain(address);
    expect(text).not.toContain(password);
    expect(text).toMatch(/scrypt\$1024\$8\$1\$/);
  });
});

describe('POST /api/v1/login', () => {
  it('answers tokens in the documented envelope', async () => {
    const address = email();
    const made = await signup(b, address);
    const res = await login(b, address);
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual(['access_token', 'id', 'message', 'refresh_token']);
    expect(res.body.data.message).toBe('Login successful');
    expect(res.body.data.id).toBe(made.body.data.user.id);
    expect(res.body.data.access_token).toMatch(JWT);
    expect(res.body.data.refresh_token).toMatch(JWT);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('a wrong password, an unknown email: 401 {"message": "Invalid email or password"}, exactly', async () => {
    const address = email();
    await signup(b, address);
    for (const res of [await login(b, address, 'WrongPassword123!'), await login(b, email('nobody')), await login(b, address, '')]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ message: 'Invalid email or password' });
    }
  });

  it('failed logins, refused refresh tokens and refused client keys are counted for the operator (paywire_refusals_total)', async () => {
    const counter = async (reason: string): Promise<number> => {
      const res = await b.request('GET', '/metrics', { token: ADMIN_TOKEN });
      const m = new RegExp(`paywire_refusals_total\\{component="http",reason="${reason}"\\} (\\d+)`).exec(res.text);
      return m ? Number(m[1]) : 0;
    };
    const before = {
      login: await counter('x402_login_failed'),
      refresh: await counter('x402_refresh_refused'),
      client: await counter('x402_client_unauthorized'),
    };
    await login(b, email('nobody'));
    await login(b, email('nobody'));
    await b.request('POST', '/x402/api/v1/token/refresh', { body: { refresh_token: 'nope' } });
    await b.request('GET', '/x402/api/v1/supported');
    expect(await counter('x402_login_failed')).toBe(before.login + 2);
    expect(await counter('x402_refresh_refused')).toBe(before.refresh + 1);
    expect(await counter('x402_client_unauthorized')).toBe(before.client + 1);
  });

  it('the email is matched case-insensitively', async () => {
    const address = email('Mixed');
    await signup(b, address);
    expect((await login(b, address.toUpperCase())).status).toBe(200);
  });

  it('refuses a malformed body with 400 INVALID_REQUEST', async () => {
    expectX402Error(await b.request('POST', '/x402/api/v1/login', { body: { email: 'a@b.c' } }), 400, 'INVALID_REQUEST');
    expectX402Error(await b.request('POST', '/x402/api/v1/login', { body: { email: ['x'], password: 'y' } }), 400, 'INVALID_REQUEST');
  });
});

describe('POST /api/v1/token/refresh', () => {
  const refresh = (token: unknown) => b.request('POST', '/x402/api/v1/token/refresh', { body: { refresh_token: token } });

  it('exchanges a refresh token for a new access token and the next refresh token', async () => {
    const p = await person(b);
    const res = await refresh(p.refresh);
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual(['access_token', 'refresh_token']);
    expect(res.body.data.access_token).toMatch(JWT);
    expect(res.body.data.refresh_token).not.toBe(p.refresh);
    // The new access token works.
    expect((await b.request('GET', '/x402/api/v1/clients', { token: res.body.data.access_token })).status).toBe(200);
    // And the next refresh token does too, once.
    expect((await refresh(res.body.data.refresh_token)).status).toBe(200);
  });

  it('a rotated token used again is refused and revokes the whole session (the successor stops working)', async () => {
    const p = await person(b);
    const first = await refresh(p.refresh);
    expect(first.status).toBe(200);
    const reuse = await refresh(p.refresh);
    expect(reuse.status).toBe(401);
    expect(Object.keys(reuse.body).sort()).toEqual(['details', 'message']);
    expect(reuse.body.message).toBe('invalid session token');
    expect(reuse.body.details).toMatch(/already used/);
    const successor = await refresh(first.body.data.refresh_token);
    expect(successor.status).toBe(401);
    expect(successor.body).toEqual({ message: 'invalid session token', details: 'refresh token has been revoked' });
    // Another login starts a fresh session.
    const again = await login(b, p.email);
    expect((await refresh(again.body.data.refresh_token)).status).toBe(200);
  });

  it('10 racing refreshes with one token: one wins, the session ends revoked', async () => {
    const p = await person(b);
    const results = await Promise.all(Array.from({ length: 10 }, () => refresh(p.refresh)));
    const wins = results.filter((r) => r.status === 200);
    expect(wins).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(9);
    expect((await refresh(wins[0]?.body.data.refresh_token)).status).toBe(401);
  });

  it('POST /api/v1/token/revoke ends the session: its refresh token is refused afterwards', async () => {
    const p = await person(b);
    const res = await b.request('POST', '/x402/api/v1/token/revoke', { body: { refresh_token: p.refresh } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ data: { revoked: true } });
    expect((await refresh(p.refresh)).body).toEqual({ message: 'invalid session token', details: 'refresh token has been revoked' });
  });

  it('refuses forged, foreign and garbled tokens with 401 {message, details}', async () => {
    const p = await person(b);
    const [h, payload] = p.refresh.split('.');
    const cases = [
      p.access, // an access token is not a refresh token
      `${h}.${payload}.${'A'.repeat(43)}`, // bad signature
      `${h}.${Buffer.from(JSON.stringify({ sub: '1', fam: 'x', aud: 'paywire:x402:refresh', iss: 'paywire' })).toString('base64url')}.sig`,
      'not-a-jwt',
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.',
    ];
    for (const token of cases) {
      const res = await refresh(token);
      expect(res.status, token).toBe(401);
      expect(res.body.message).toBe('invalid session token');
      expect(typeof res.body.details).toBe('string');
    }
    expectX402Error(await refresh(''), 400, 'INVALID_REQUEST');
    expectX402Error(await refresh(12), 400, 'INVALID_REQUEST');
  });

  it('a refresh token is not an access token', async () => {
    const p = await person(b);
    expectX402Error(await b.request('GET', '/x402/api/v1/clients', { token: p.refresh }), 401, 'UNAUTHORIZED');
  });

  it('stores refresh tokens only as hashes', async () => {
    const p = await person(b);
    const text = await storeText(b);
    expect(text).not.toContain(p.refresh);
    expect(text).not.toContain(p.access);
  });
});

describe('access tokens', () => {
  it('user routes refuse a missing, malformed, forged or machine-payments token with 401 UNAUTHORIZED', async () => {
    const p = await person(b);
    const { key } = await b.signup('machine');
    const [h, payload] = p.access.split('.');
    const forged = `${h}.${payload}.${'B'.repeat(43)}`;
    for (const headers of [
      {},
      { authorization: 'Basic abc' },
      { authorization: 'Bearer' },
      { authorization: `Bearer ${forged}` },
      { authorization: `Bearer ${key}` },
    ]) {
      expectX402Error(await b.request('GET', '/x402/api/v1/clients', { headers }), 401, 'UNAUTHORIZED');
    }
  });
});

describe('one account model', () => {
  it('a person who signs up is a machine-payments account: with the key they get, they own assets', async () => {
    const p = await person(b);
    const issued = await b.request('POST', '/x402/api/v1/users/me/api-key', { token: p.access, body: { label: 'my laptop' } });
    expect(issued.status, issued.text).toBe(201);
    const apiKey = issued.body.data.api_key as string;
    expect(apiKey).toMatch(/^lib_[0-9a-f]{64}$/);
    const me = await b.request('GET', '/api/v1/accounts/me', { token: apiKey });
    expect(me.status, me.text).toBe(200);
    expect(me.body.role).toBe('user');
    expect(me.body.user_id).toBe(issued.body.data.account_id);
    const asset = await b.request('POST', '/api/v1/assets', { token: apiKey, body: { name: 'Coffee machine', price_sats: 100 } });
    expect(asset.status, asset.text).toBe(201);
    // Logging in again finds the same account.
    const again = await login(b, p.email);
    const second = await b.request('POST', '/x402/api/v1/users/me/api-key', { token: again.body.data.access_token, body: {} });
    expect(second.body.data.account_id).toBe(issued.body.data.account_id);
  });
});

describe('per-IP limits', () => {
  it('logins past X402_LOGINS_PER_MINUTE and signups past SIGNUPS_PER_HOUR get 429 RATE_LIMITED with Retry-After', async () => {
    const limited = await startX402Bridge({ X402_LOGINS_PER_MINUTE: 3, SIGNUPS_PER_HOUR: 2 });
    try {
      const address = email();
      expect((await signup(limited, address)).status).toBe(200);
      expect((await signup(limited)).status).toBe(200);
      const third = await signup(limited);
      expectX402Error(third, 429, 'RATE_LIMITED');
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) expect((await login(limited, address, i === 0 ? 'wrong-password' : PASSWORD)).status).not.toBe(429);
      const blocked = await login(limited, address);
      expectX402Error(blocked, 429, 'RATE_LIMITED');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});
