/**
 * x402 `/admin` over HTTP against a real bridge: the static admin token (and nothing else) opens it;
 * seeded users (admin or not) and the token registry (POST /admin/assets → GET /api/v1/assets, active
 * only; registering again replaces).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBridge } from '../../helpers/bridge.js';
import { ADMIN_TOKEN, email, expectX402Error, login, PASSWORD, person, startX402Bridge } from './helpers.js';

let b: TestBridge;
beforeAll(async () => {
  b = await startX402Bridge();
});
afterAll(() => b.close());

const USDC = '0x036CbD53842c5426634e7929541eC2318f3dCF7e';
const ENDPOINTS = [
  { method: 'POST', path: '/x402/admin/users', body: { email: 'x@example.com', password: PASSWORD } },
  { method: 'GET', path: '/x402/admin/users' },
  { method: 'POST', path: '/x402/admin/assets', body: { network: 'base-sepolia', asset: USDC, symbol: 'USDC', decimals: 6 } },
  { method: 'GET', path: '/x402/admin/assets' },
] as const;

describe('the admin token', () => {
  it.each(ENDPOINTS)('$method $path: no token, a wrong token, a user’s or an admin user’s JWT: 401 UNAUTHORIZED', async (ep) => {
    const p = await person(b);
    const made = await b.request('POST', '/x402/admin/users', { token: ADMIN_TOKEN, body: { email: email('adm'), password: PASSWORD, is_admin: true } });
    const adminJwt = (await login(b, made.body.data.user.email)).body.data.access_token;
    const body = 'body' in ep ? { body: ep.body } : {};
    for (const headers of [
      {},
      { authorization: `Bearer ${ADMIN_TOKEN}x` },
      { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` },
      { authorization: ADMIN_TOKEN },
      { authorization: `Basic ${ADMIN_TOKEN}` },
      { authorization: `Bearer ${p.access}` },
      { authorization: `Bearer ${adminJwt}` },
    ]) {
      expectX402Error(await b.request(ep.method, ep.path, { headers, ...body }), 401, 'UNAUTHORIZED');
    }
  });
});

describe('admin users', () => {
  it('POST /admin/users seeds a user who can log in; is_admin makes an admin; GET lists them all', async () => {
    const plain = email('seeded');
    const res = await b.request('POST', '/x402/admin/users', { token: ADMIN_TOKEN, body: { email: plain, password: 'InitialPassword1!', is_admin: false } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.data.message).toBe('User created');
    expect(res.body.data.user).toMatchObject({ email: plain, isAdmin: false });
    expect((await login(b, plain, 'InitialPassword1!')).status).toBe(200);
    const admin = email('boss');
    const made = await b.request('POST', '/x402/admin/users', { token: ADMIN_TOKEN, body: { email: admin, password: PASSWORD, is_admin: true } });
    expect(made.body.data.user.isAdmin).toBe(true);
    // Without is_admin: a plain user.
    const third = await b.request('POST', '/x402/admin/users', { token: ADMIN_TOKEN, body: { email: email(), password: PASSWORD } });
    expect(third.body.data.user.isAdmin).toBe(false);
    const list = await b.request('GET', '/x402/admin/users?limit=1000', { token: ADMIN_TOKEN });
    expect(list.status).toBe(200);
    const emails = list.body.data.map((u: { email: string }) => u.email);
    expect(emails).toEqual(expect.arrayContaining([plain, admin]));
    for (const u of list.body.data) expect(Object.keys(u).sort()).toEqual(['createdAt', 'email', 'id', 'isAdmin']);
    expect(JSON.stringify(list.body)).not.toContain('scrypt');
    const page = await b.request('GET', '/x402/admin/users?offset=1&limit=1', { token: ADMIN_TOKEN });
    expect(page.body.data).toEqual([list.body.data[1]]);
  });

  it('refuses a taken email (409) and a malformed body (400)', async () => {
    const address = email();
    expect((await b.request('POST', '/x402/admin/users', { token: ADMIN_TOKEN, body: { email: address, password: PASSWORD } })).status).toBe(201);
    expectX402Error(await b.request('POST', '/x402/admin/users', { token: ADMIN_TOKEN, body: { email: address, password: PASSWORD } }), 409, 'CONFLICT');
    for (const body of [
      {},
      { email: 'nope', password: PASSWORD },
      { email: email(), password: PASSWORD, is_admin: 'yes' },
      { email: email(), password: 'x' },
    ]) {
      expectX402Error(await b.request('POST', '/x402/admin/users', { token: ADMIN_TOKEN, body }), 400, 'INVALID_REQUEST');
    }
  });
});

describe('admin assets and the public registry', () => {
  it('POST /admin/assets registers (201, checksummed); GET /api/v1/assets lists active ones in the documented shape', async () => {
    const res = await b.request('POST', '/x402/admin/assets', {
      token: ADMIN_TOKEN,
      body: { network: 'base-sepolia', asset: USDC.toLowerCase(), symbol: 'USDC', decimals: 6, active: true },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.data).toEqual({ id: expect.any(Number), network: 'base-sepolia', asset: USDC, symbol: 'USDC', decimals: 6, active: true });
    const list = await b.request('GET', '/x402/api/v1/assets');
    expect(list.status).toBe(200);
    expect(list.body.data).toContainEqual(res.body.data);
    for (const a of list.body.data) expect(Object.keys(a).sort()).toEqual(['active', 'asset', 'decimals', 'id', 'network', 'symbol']);
  });

  it('registering again replaces (200, same id); an inactive asset leaves the public list but stays in the admin’s', async () => {
    const token = '0x0000000000000000000000000000000000000abc';
    const first = await b.request('POST', '/x402/admin/assets', { token: ADMIN_TOKEN, body: { network: 'base', asset: token, symbol: 'TKN', decimals: 18 } });
    expect(first.status).toBe(201);
    const second = await b.request('POST', '/x402/admin/assets', {
      token: ADMIN_TOKEN,
      body: { network: 'base', asset: token.toUpperCase().replace('0X', '0x'), symbol: 'TKN2', decimals: 18, active: false },
    });
    expect(second.status, second.text).toBe(200);
    expect(second.body.data).toMatchObject({ id: first.body.data.id, symbol: 'TKN2', active: false });
    const pub = await b.request('GET', '/x402/api/v1/assets');
    expect(pub.body.data.map((a: { id: number }) => a.id)).not.toContain(first.body.data.id);
    const all = await b.request('GET', '/x402/admin/assets', { token: ADMIN_TOKEN });
    expect(all.body.data).toContainEqual(second.body.data);
  });

  it('refuses malformed assets with 400 INVALID_REQUEST', async () => {
    const ok = { network: 'base-sepolia', asset: USDC, symbol: 'USDC', decimals: 6 };
    for (const body of [
      {},
      { ...ok, asset: '0x1234' },
      { ...ok, asset: 'USDC' },
      { ...ok, network: 'Base Sepolia' },
      { ...ok, network: 'eip155:' },
      { ...ok, decimals: -1 },
      { ...ok, decimals: 37 },
      { ...ok, decimals: 6.5 },
      { ...ok, symbol: '' },
      { ...ok, active: 'yes' },
      { ...ok, extra: 1 },
    ]) {
      expectX402Error(await b.request('POST', '/x402/admin/assets', { token: ADMIN_TOKEN, body }), 400, 'INVALID_REQUEST');
    }
  });
});
