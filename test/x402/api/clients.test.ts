/**
 * x402 client keys over HTTP against a real bridge: the documented shapes, the token shown once and
 * kept only as a hash, who sees which keys (admins see all), pagination, soft delete, and every way a
 * key is refused on /verify, /settle and /supported (missing, garbled, forged, revoked, expired,
 * wrong scope, another key's token), plus the per-user cap and the per-key rate limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../bridge/ids.js';
import type { TestBridge } from '../../helpers/bridge.js';
import { adminPerson, client, clientHeaders, expectX402Error, person, startX402Bridge, storeText, type Client } from './helpers.js';

let b: TestBridge;
beforeAll(async () => {
  b = await startX402Bridge();
});
afterAll(() => b.close());

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const OPERATIONS = [
  { scope: 'verify', method: 'POST', path: '/x402/api/v1/verify', body: {} },
  { scope: 'settle', method: 'POST', path: '/x402/api/v1/settle', body: {} },
  { scope: 'supported', method: 'GET', path: '/x402/api/v1/supported', body: undefined },
] as const;

/** A call the key is allowed passes authentication: /supported answers 200, /verify and /settle judge the (empty) body: 400. */
const call = (op: (typeof OPERATIONS)[number], headers: Record<string, string>) =>
  b.request(op.method, op.path, { headers, ...(op.body === undefined ? {} : { body: op.body }) });
const passedAuth = (op: (typeof OPERATIONS)[number], status: number) => (op.scope === 'supported' ? status === 200 : status === 400);

describe('POST /api/v1/clients', () => {
  it('answers the documented client with its token once; lists never show the token', async () => {
    const p = await person(b);
    const res = await b.request('POST', '/x402/api/v1/clients', {
      token: p.access,
      body: { title: 'my-resource-server', scope: 'verify,settle', ttl_hours: 8760 },
    });
    expect(res.status, res.text).toBe(200);
    const c = res.body.data.client;
    expect(Object.keys(c).sort()).toEqual(['clientId', 'createdAt', 'expiresAt', 'scope', 'title', 'token']);
    expect(c.title).toBe('my-resource-server');
    expect(c.scope).toBe('verify,settle');
    expect(c.createdAt).toMatch(ISO);
    const hours = (Date.parse(c.expiresAt) - Date.parse(c.createdAt)) / 3_600_000;
    expect(hours).toBeCloseTo(8760, 3);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const list = await b.request('GET', '/x402/api/v1/clients', { token: p.access });
    expect(list.body).toEqual({ data: [{ clientId: c.clientId, title: c.title, scope: c.scope, createdAt: c.createdAt, expiresAt: c.expiresAt }] });
  });

  it('without scope or ttl_hours: every operation, no expiry', async () => {
    const p = await person(b);
    const res = await b.request('POST', '/x402/api/v1/clients', { token: p.access, body: { title: 't' } });
    expect(res.body.data.client.scope).toBe('verify,settle,supported');
    expect(res.body.data.client.expiresAt).toBeNull();
  });

  it('keeps only the sha256 of the token at rest', async () => {
    const p = await person(b);
    const c = await client(b, p);
    const text = await storeText(b);
    expect(text).toContain(c.clientId);
    expect(text).not.toContain(c.token);
    expect(text).not.toContain(c.token.split('.')[1]);
    expect(text).toContain(sha256Hex(c.token));
  });

  it('refuses a bad title, scope or ttl_hours with 400 INVALID_REQUEST', async () => {
    const p = await person(b);
    for (const body of [
      {},
      { title: '' },
      { title: 'x', scope: 'verify,pay' },
      { title: 'x', scope: ',' },
      { title: 'x', ttl_hours: 0 },
      { title: 'x', ttl_hours: -5 },
      { title: 'x', ttl_hours: '8' },
      { title: 'x', extra: 1 },
    ]) {
      expectX402Error(await b.request('POST', '/x402/api/v1/clients', { token: p.access, body }), 400, 'INVALID_REQUEST');
    }
  });

  it('caps live keys per user (409 CONFLICT); a deleted key makes room', async () => {
    const capped = await startX402Bridge({ X402_MAX_CLIENTS_PER_USER: 2 });
    try {
      const p = await person(capped);
      const first = await client(capped, p);
      await client(capped, p);
      expectX402Error(await capped.request('POST', '/x402/api/v1/clients', { token: p.access, body: { title: 'third' } }), 409, 'CONFLICT');
      expect((await capped.request('DELETE', `/x402/api/v1/clients/${first.clientId}`, { token: p.access })).status).toBe(200);
      await client(capped, p);
    } finally {
      await capped.close();
    }
  });
});

describe('GET /api/v1/clients', () => {
  it('a user sees only their keys; an admin user sees everyone’s; offset and limit page the list', async () => {
    const alice = await person(b, 'alice');
    const bob = await person(b, 'bob');
    const mine = [await client(b, alice, { title: 'a1' }), await client(b, alice, { title: 'a2' }), await client(b, alice, { title: 'a3' })];
    const bobs = await client(b, bob, { title: 'b1' });
    const aliceList = (await b.request('GET', '/x402/api/v1/clients', { token: alice.access })).body.data.map((c: { clientId: string }) => c.clientId);
    expect(aliceList).toEqual(mine.map((c) => c.clientId));
    const bobList = (await b.request('GET', '/x402/api/v1/clients', { token: bob.access })).body.data.map((c: { clientId: string }) => c.clientId);
    expect(bobList).toEqual([bobs.clientId]);
    const page = await b.request('GET', '/x402/api/v1/clients?offset=1&limit=1', { token: alice.access });
    expect(page.body.data.map((c: { clientId: string }) => c.clientId)).toEqual([mine[1]?.clientId]);
    const admin = await adminPerson(b);
    const all = (await b.request('GET', '/x402/api/v1/clients?limit=1000', { token: admin.access })).body.data.map((c: { clientId: string }) => c.clientId);
    expect(all).toEqual(expect.arrayContaining([...mine.map((c) => c.clientId), bobs.clientId]));
    // The default page is 20.
    for (let i = 0; i < 21; i++) await client(b, bob, { title: `bulk ${i}` });
    expect((await b.request('GET', '/x402/api/v1/clients', { token: bob.access })).body.data).toHaveLength(20);
  });

  it('refuses bad paging with 400 INVALID_REQUEST', async () => {
    const p = await person(b);
    for (const q of ['offset=-1', 'limit=0', 'limit=1001', 'limit=abc', 'offset=1.5', 'limit=1&limit=2', 'page=2']) {
      expectX402Error(await b.request('GET', `/x402/api/v1/clients?${q}`, { token: p.access }), 400, 'INVALID_REQUEST');
    }
  });
});

describe('DELETE /api/v1/clients/:id', () => {
  it('soft-deletes: {data: {deleted}}, the key stops working (401) and leaves the list', async () => {
    const p = await person(b);
    const c = await client(b, p);
    expect((await b.request('GET', '/x402/api/v1/supported', { headers: clientHeaders(c) })).status).toBe(200);
    const res = await b.request('DELETE', `/x402/api/v1/clients/${c.clientId}`, { token: p.access });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ data: { deleted: c.clientId } });
    const refused = await b.request('GET', '/x402/api/v1/supported', { headers: clientHeaders(c) });
    expectX402Error(refused, 401, 'UNAUTHORIZED');
    expect(refused.body.details).toMatch(/revoked/);
    expect((await b.request('GET', '/x402/api/v1/clients', { token: p.access })).body.data).toEqual([]);
    expectX402Error(await b.request('DELETE', `/x402/api/v1/clients/${c.clientId}`, { token: p.access }), 404, 'NOT_FOUND');
  });

  it('another user’s key is not found (404) and keeps working; an admin user may delete it', async () => {
    const owner = await person(b);
    const other = await person(b);
    const c = await client(b, owner);
    expectX402Error(await b.request('DELETE', `/x402/api/v1/clients/${c.clientId}`, { token: other.access }), 404, 'NOT_FOUND');
    expect((await b.request('GET', '/x402/api/v1/supported', { headers: clientHeaders(c) })).status).toBe(200);
    const admin = await adminPerson(b);
    expect((await b.request('DELETE', `/x402/api/v1/clients/${c.clientId}`, { token: admin.access })).status).toBe(200);
    expectX402Error(await b.request('GET', '/x402/api/v1/supported', { headers: clientHeaders(c) }), 401, 'UNAUTHORIZED');
  });

  it('refuses a malformed id with 400 INVALID_REQUEST', async () => {
    const p = await person(b);
    expectX402Error(await b.request('DELETE', '/x402/api/v1/clients/abc!', { token: p.access }), 400, 'INVALID_REQUEST');
  });
});

describe('client-key authentication on /verify, /settle, /supported', () => {
  let owner: Awaited<ReturnType<typeof person>>;
  let all: Client;
  beforeAll(async () => {
    owner = await person(b);
    all = await client(b, owner);
  });

  it.each(OPERATIONS)('$path: a key with the scope passes; missing or garbled credentials are 401 UNAUTHORIZED', async (op) => {
    expect(passedAuth(op, (await call(op, clientHeaders(all))).status)).toBe(true);
    const [id, random, mac] = all.token.split('.') as [string, string, string];
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    const bad: Record<string, string>[] = [
      {},
      { 'X-Client-ID': all.clientId },
      { 'X-Client-Token': all.token },
      { 'X-Client-ID': all.clientId, 'X-Client-Token': '' },
      { 'X-Client-ID': all.clientId, 'X-Client-Token': 'garbage' },
      { 'X-Client-ID': all.clientId, 'X-Client-Token': `${id}.${random}.${flip(mac)}` },
      { 'X-Client-ID': all.clientId, 'X-Client-Token': `${id}.${flip(random)}.${mac}` },
      { 'X-Client-ID': 'zzzzzzzzzzzzzzzzzzzz', 'X-Client-Token': all.token },
      { 'X-Client-ID': 'zzzzzzzzzzzzzzzzzzzz', 'X-Client-Token': `zzzzzzzzzzzzzzzzzzzz.${random}.${mac}` },
      { 'X-Client-ID': all.clientId.toUpperCase(), 'X-Client-Token': all.token },
    ];
    for (const headers of bad) expectX402Error(await call(op, headers), 401, 'UNAUTHORIZED');
  });

  it.each(OPERATIONS)('$path: a key without that scope is 403 FORBIDDEN', async (op) => {
    const others = OPERATIONS.filter((o) => o.scope !== op.scope).map((o) => o.scope);
    const narrow = await client(b, owner, { scope: others.join(',') });
    const res = await call(op, clientHeaders(narrow));
    expectX402Error(res, 403, 'FORBIDDEN');
    expect(res.body.details).toContain(op.scope);
    const only = await client(b, owner, { scope: op.scope });
    expect(passedAuth(op, (await call(op, clientHeaders(only))).status)).toBe(true);
  });

  it('one key’s token does not open another key (even of the same user)', async () => {
    const second = await client(b, owner);
    expectX402Error(await call(OPERATIONS[2], { 'X-Client-ID': second.clientId, 'X-Client-Token': all.token }), 401, 'UNAUTHORIZED');
  });

  it('an expired key is 401 UNAUTHORIZED', async () => {
    const shortLived = await client(b, owner, { ttl_hours: 1 / 3600 });
    expect((await call(OPERATIONS[2], clientHeaders(shortLived))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_100));
    for (const op of OPERATIONS) {
      const res = await call(op, clientHeaders(shortLived));
      expectX402Error(res, 401, 'UNAUTHORIZED');
      expect(res.body.details).toMatch(/expired/);
    }
  });

  it('a user JWT is not a client key', async () => {
    expectX402Error(await call(OPERATIONS[2], { authorization: `Bearer ${owner.access}` }), 401, 'UNAUTHORIZED');
  });
});

describe('per-key rate limit', () => {
  it('past X402_CLIENT_REQUESTS_PER_MINUTE a key gets 429 RATE_LIMITED; another key is not charged', async () => {
    const limited = await startX402Bridge({ X402_CLIENT_REQUESTS_PER_MINUTE: 3 });
    try {
      const p = await person(limited);
      const c1 = await client(limited, p);
      const c2 = await client(limited, p);
      for (let i = 0; i < 3; i++) expect((await limited.request('GET', '/x402/api/v1/supported', { headers: clientHeaders(c1) })).status).toBe(200);
      const res = await limited.request('GET', '/x402/api/v1/supported', { headers: clientHeaders(c1) });
      expectX402Error(res, 429, 'RATE_LIMITED');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await limited.request('GET', '/x402/api/v1/supported', { headers: clientHeaders(c2) })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
