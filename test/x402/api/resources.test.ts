/**
 * x402 resources over HTTP against a real bridge: register (201), the public list and the user's own
 * list with their documented shapes and paging, updates by the owner only (another user's: 403), and
 * the validation and cap refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBridge } from '../../helpers/bridge.js';
import { expectX402Error, person, startX402Bridge } from './helpers.js';

let b: TestBridge;
beforeAll(async () => {
  b = await startX402Bridge();
});
afterAll(() => b.close());

const RESOURCE = {
  resource: '/api/premium-data',
  type: 'endpoint',
  x402Version: 1,
  accepts: [
    {
      scheme: 'exact',
      network: 'base-sepolia',
      maxAmountRequired: '1000000',
      asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
      payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
    },
  ],
  metadata: {},
};

async function create(token: string, body: Record<string, unknown> = RESOURCE): Promise<number> {
  const res = await b.request('POST', '/x402/api/v1/resources', { token, body });
  expect(res.status, res.text).toBe(201);
  return res.body.data.id as number;
}

describe('resources', () => {
  it('POST answers 201 {data: {status: "created"}}; the lists show it in the documented shape', async () => {
    const p = await person(b);
    const res = await b.request('POST', '/x402/api/v1/resources', { token: p.access, body: RESOURCE });
    expect(res.status, res.text).toBe(201);
    expect(res.body.data.status).toBe('created');
    const id = res.body.data.id;
    const mine = await b.request('GET', '/x402/api/v1/users/resources', { token: p.access });
    expect(mine.status).toBe(200);
    expect(Object.keys(mine.body.data).sort()).toEqual(['limit', 'offset', 'resources']);
    expect(mine.body.data.offset).toBe(0);
    expect(mine.body.data.limit).toBe(100);
    expect(mine.body.data.resources).toEqual([
      {
        id,
        resource: RESOURCE.resource,
        type: 'endpoint',
        x402Version: 1,
        accepts: RESOURCE.accepts,
        metadata: {},
        createdAt: expect.any(String),
        lastUpdated: expect.any(String),
      },
    ]);
    const pub = await b.request('GET', '/x402/api/v1/resources');
    expect(pub.status).toBe(200);
    expect(pub.body.data.resources.map((r: { id: number }) => r.id)).toContain(id);
    // The public list names no owner.
    expect(JSON.stringify(pub.body)).not.toContain(p.email);
  });

  it('the defaults: type "endpoint", x402Version 1, metadata {}', async () => {
    const p = await person(b);
    await create(p.access, { resource: '/x', accepts: [{ scheme: 'exact', network: 'eip155:84532', amount: '5' }] });
    const [r] = (await b.request('GET', '/x402/api/v1/users/resources', { token: p.access })).body.data.resources;
    expect(r).toMatchObject({ type: 'endpoint', x402Version: 1, metadata: {}, accepts: [{ scheme: 'exact', network: 'eip155:84532', amount: '5' }] });
  });

  it('each user’s list holds only their resources; the public list holds everyone’s, paged', async () => {
    const alice = await person(b, 'alice');
    const bob = await person(b, 'bob');
    const a = [await create(alice.access), await create(alice.access), await create(alice.access)];
    const bb = await create(bob.access);
    const aliceList = (await b.request('GET', '/x402/api/v1/users/resources', { token: alice.access })).body.data.resources.map((r: { id: number }) => r.id);
    expect(aliceList).toEqual(a);
    const page = await b.request('GET', '/x402/api/v1/users/resources?offset=1&limit=1', { token: alice.access });
    expect(page.body.data).toMatchObject({ offset: 1, limit: 1, resources: [{ id: a[1] }] });
    const all = (await b.request('GET', '/x402/api/v1/resources?limit=1000')).body.data.resources.map((r: { id: number }) => r.id);
    expect(all).toEqual(expect.arrayContaining([...a, bb]));
  });

  it('PUT by the owner updates: {data: {updated: id}}', async () => {
    const p = await person(b);
    const id = await create(p.access);
    const res = await b.request('PUT', `/x402/api/v1/resources/${id}`, {
      token: p.access,
      body: { ...RESOURCE, resource: '/api/v2/premium', x402Version: 2, metadata: { tier: 'gold' } },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ data: { updated: id } });
    const [r] = (await b.request('GET', '/x402/api/v1/users/resources', { token: p.access })).body.data.resources;
    expect(r).toMatchObject({ id, resource: '/api/v2/premium', x402Version: 2, metadata: { tier: 'gold' } });
  });

  it('PUT of another user’s resource is 403 FORBIDDEN and changes nothing; an unknown id is 404 NOT_FOUND', async () => {
    const owner = await person(b);
    const other = await person(b);
    const id = await create(owner.access);
    expectX402Error(
      await b.request('PUT', `/x402/api/v1/resources/${id}`, { token: other.access, body: { ...RESOURCE, resource: '/hijacked' } }),
      403,
      'FORBIDDEN',
    );
    const [r] = (await b.request('GET', '/x402/api/v1/users/resources', { token: owner.access })).body.data.resources;
    expect(r.resource).toBe(RESOURCE.resource);
    expectX402Error(await b.request('PUT', '/x402/api/v1/resources/999999', { token: owner.access, body: RESOURCE }), 404, 'NOT_FOUND');
  });

  it('without a token: POST, PUT and the own list are 401 UNAUTHORIZED', async () => {
    expectX402Error(await b.request('POST', '/x402/api/v1/resources', { body: RESOURCE }), 401, 'UNAUTHORIZED');
    expectX402Error(await b.request('PUT', '/x402/api/v1/resources/1', { body: RESOURCE }), 401, 'UNAUTHORIZED');
    expectX402Error(await b.request('GET', '/x402/api/v1/users/resources'), 401, 'UNAUTHORIZED');
  });

  it('refuses malformed resources and ids with 400 INVALID_REQUEST', async () => {
    const p = await person(b);
    const bad: Record<string, unknown>[] = [
      {},
      { ...RESOURCE, resource: '' },
      { ...RESOURCE, accepts: [] },
      { ...RESOURCE, accepts: 'exact' },
      { ...RESOURCE, accepts: [{ scheme: 'exact' }] },
      { ...RESOURCE, accepts: [{ network: 'base-sepolia' }] },
      { ...RESOURCE, accepts: Array.from({ length: 21 }, () => RESOURCE.accepts[0]) },
      { ...RESOURCE, x402Version: 3 },
      { ...RESOURCE, metadata: [] },
      { ...RESOURCE, metadata: { big: 'x'.repeat(5_000) } },
      { ...RESOURCE, unknown: true },
    ];
    for (const body of bad) expectX402Error(await b.request('POST', '/x402/api/v1/resources', { token: p.access, body }), 400, 'INVALID_REQUEST');
    for (const id of ['0', '-1', 'abc', '1.5']) {
      expectX402Error(await b.request('PUT', `/x402/api/v1/resources/${id}`, { token: p.access, body: RESOURCE }), 400, 'INVALID_REQUEST');
    }
  });

  it('caps resources per user with 409 CONFLICT', async () => {
    const capped = await startX402Bridge({ X402_MAX_RESOURCES_PER_USER: 2 });
    try {
      const p = await person(capped);
      for (let i = 0; i < 2; i++) expect((await capped.request('POST', '/x402/api/v1/resources', { token: p.access, body: RESOURCE })).status).toBe(201);
      expectX402Error(await capped.request('POST', '/x402/api/v1/resources', { token: p.access, body: RESOURCE }), 409, 'CONFLICT');
    } finally {
      await capped.close();
    }
  });
});
