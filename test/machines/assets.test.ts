import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

let t: TestBridge;
let key: string;
let otherKey: string;
beforeAll(async () => {
  t = await startBridge();
  key = (await t.signup('owner')).key;
  otherKey = (await t.signup('stranger')).key;
});
afterAll(async () => {
  await t.close();
});

const create = (body: unknown, token = key) => t.request('POST', '/api/v1/assets', { token, body });

describe('assets', () => {
  it('creates an asset with defaults (the quickstart call)', async () => {
    const res = await create({ name: 'Coffee machine', price_sats: 1500 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      asset_id: expect.stringMatching(/^[a-z0-9]{15}$/),
      name: 'Coffee machine',
      price_sats: 1500,
      duration_ms: 1000,
      pricing: 'fixed',
      min_sats: null,
      max_sats: null,
      refuse_when_offline: false,
      metadata: {},
      x402: null,
      online: null,
      last_seen: null,
      created: expect.any(String),
      updated: expect.any(String),
    });
  });

  it('lists and fetches only the caller’s assets', async () => {
    const mine = await create({ name: 'Charger', price_sats: 210, duration_ms: 600_000, metadata: { site: 'garage' } });
    await create({ name: 'Theirs', price_sats: 5 }, otherKey);
    const list = await t.request('GET', '/api/v1/assets', { token: key });
    expect(list.status).toBe(200);
    expect(list.body.assets.map((a: any) => a.name)).toContain('Charger');
    expect(list.body.assets.map((a: any) => a.name)).not.toContain('Theirs');
    const one = await t.request('GET', `/api/v1/assets/${mine.body.asset_id}`, { token: key });
    expect(one.body).toEqual(mine.body);
  });

  it('answers 404 asset_not_found and 403 asset_not_owned', async () => {
    const missing = await t.request('GET', '/api/v1/assets/doesnotexist123', { token: key });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'asset_not_found', message: expect.any(String) });

    const theirs = await create({ name: 'Private', price_sats: 9 }, otherKey);
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { price_sats: 1 }],
      ['PUT', { name: 'x', price_sats: 1 }],
      ['DELETE', undefined],
    ] as const) {
      const res = await t.request(method, `/api/v1/assets/${theirs.body.asset_id}`, { token: key, body });
      expect(res.status, method).toBe(403);
      expect(res.body.error).toBe('asset_not_owned');
    }
    const still = await t.request('GET', `/api/v1/assets/${theirs.body.asset_id}`, { token: otherKey });
    expect(still.body.price_sats).toBe(9);
    expect(still.body.name).toBe('Private');
  });

  it('updates with PATCH (partial) and PUT (replace)', async () => {
    const a = await create({ name: 'Vend', price_sats: 100, duration_ms: 5000, metadata: { slot: 3 } });
    const patched = await t.request('PATCH', `/api/v1/assets/${a.body.asset_id}`, { token: key, body: { price_sats: 120 } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Vend', price_sats: 120, duration_ms: 5000, metadata: { slot: 3 } });
    expect(patched.body.updated >= a.body.updated).toBe(true);

    const put = await t.request('PUT', `/api/v1/assets/${a.body.asset_id}`, { token: key, body: { name: 'Vend 2', price_sats: 130 } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: 'Vend 2', price_sats: 130, duration_ms: 1000, metadata: {} });
    expect(put.body.created).toBe(a.body.created);

    const empty = await t.request('PATCH', `/api/v1/assets/${a.body.asset_id}`, { token: key, body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.error).toBe('invalid_body');
  });

  it('deletes an asset: gone from get and list, events keep their reference', async () => {
    const a = await create({ name: 'Old', price_sats: 1 });
    const ev = await t.request('POST', '/api/public/events', { token: key, body: { type: 'action', asset_id: a.body.asset_id } });
    const del = await t.request('DELETE', `/api/v1/assets/${a.body.asset_id}`, { token: key });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ asset_id: a.body.asset_id, deleted: true });
    expect((await t.request('GET', `/api/v1/assets/${a.body.asset_id}`, { token: key })).status).toBe(404);
    expect((await t.request('DELETE', `/api/v1/assets/${a.body.asset_id}`, { token: key })).status).toBe(404);
    const list = await t.request('GET', '/api/v1/assets', { token: key });
    expect(list.body.assets.map((x: any) => x.asset_id)).not.toContain(a.body.asset_id);
    const event = await t.request('GET', `/api/public/events/${ev.body.event_id}`, { token: key });
    expect(event.body.asset_id).toBe(a.body.asset_id);
    // A deleted asset takes no new events.
    const late = await t.request('POST', '/api/public/events', { token: key, body: { type: 'action', asset_id: a.body.asset_id } });
    expect(late.status).toBe(404);
    expect(late.body.error).toBe('asset_not_found');
  });

  it('prices variably within a range, defaulting it from the unit price', async () => {
    const charger = await create({ name: 'Charger', price_sats: 100, duration_ms: 60_000, pricing: 'variable' });
    expect(charger.status).toBe(201);
    expect(charger.body).toMatchObject({ pricing: 'variable', min_sats: 100, max_sats: 10_000 });
    const id = charger.body.asset_id;
    const ranged = await t.request('PATCH', `/api/v1/assets/${id}`, { token: key, body: { min_sats: 50, max_sats: 500, refuse_when_offline: true } });
    expect(ranged.body).toMatchObject({ min_sats: 50, max_sats: 500, refuse_when_offline: true });
    const fixed = await t.request('PATCH', `/api/v1/assets/${id}`, { token: key, body: { pricing: 'fixed' } });
    expect(fixed.body).toMatchObject({ pricing: 'fixed', min_sats: null, max_sats: null });
    const back = await t.request('PATCH', `/api/v1/assets/${id}`, { token: key, body: { pricing: 'variable' } });
    expect(back.body).toMatchObject({ min_sats: 100, max_sats: 10_000 });
    const inverted = await t.request('PATCH', `/api/v1/assets/${id}`, { token: key, body: { min_sats: 900, max_sats: 800 } });
    expect(inverted.status).toBe(400);
    expect(inverted.body.message).toMatch(/min_sats/);
    const rangeOnFixed = await create({ name: 'X', price_sats: 5, min_sats: 1 });
    expect(rangeOnFixed.status).toBe(400);
    expect(rangeOnFixed.body.message).toMatch(/variable/);
  });

  it.each([
    [{ name: 'x', price_sats: 1, pricing: 'auction' }, /pricing/],
    [{ name: 'x', price_sats: 1, refuse_when_offline: 'yes' }, /refuse_when_offline/],
    [{ price_sats: 10 }, /name/],
    [{ name: 'x' }, /price_sats/],
    [{ name: 'x', price_sats: 0 }, /price_sats/],
    [{ name: 'x', price_sats: -5 }, /price_sats/],
    [{ name: 'x', price_sats: 1.5 }, /price_sats/],
    [{ name: 'x', price_sats: '100' }, /price_sats/],
    [{ name: 'x', price_sats: 1e20 }, /price_sats/],
    [{ name: 'x', price_sats: 1, duration_ms: -1 }, /duration_ms/],
    [{ name: 'x', price_sats: 1, duration_ms: 86_400_001 }, /duration_ms/],
    [{ name: 'x', price_sats: 1, metadata: [] }, /metadata/],
    [{ name: 'x', price_sats: 1, metadata: { big: 'x'.repeat(5000) } }, /metadata/],
    [{ name: '   ', price_sats: 1 }, /name/],
    [{ name: 'x\u0000y', price_sats: 1 }, /name/],
    [{ name: 'x', price_sats: 1, owner: 'me' }, /owner/],
  ])('refuses %j with 400 invalid_body', async (body, field) => {
    const res = await create(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_body');
    expect(res.body.message).toMatch(field);
  });
});

describe('variable pricing limits', () => {
  it('keeps a single payment from running the machine for more than 7 days', async () => {
    const tooLong = await create({ name: 'Long', price_sats: 1, duration_ms: 86_400_000, pricing: 'variable', min_sats: 1, max_sats: 2_100_000_000_000 });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.message).toMatch(/more than 7 days; at most 7 /);
    const defaulted = await create({ name: 'Day pass', price_sats: 10, duration_ms: 86_400_000, pricing: 'variable' });
    expect(defaulted.status).toBe(201);
    expect(defaulted.body).toMatchObject({ min_sats: 10, max_sats: 70 });
  });
});
