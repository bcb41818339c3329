import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

let t: TestBridge;
let key: string;
let assetId: string;
beforeAll(async () => {
  t = await startBridge();
  key = (await t.signup('eventful')).key;
  assetId = (await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Vend', price_sats: 100 } })).body.asset_id;
});
afterAll(async () => {
  await t.close();
});

const post = (body: unknown, token = key) => t.request('POST', '/api/public/events', { token, body });

describe('POST /api/public/events', () => {
  it.each(['paid', 'action', 'error', 'custom'])('appends a %s event', async (type) => {
    const res = await post({ type, asset_id: assetId, data: { n: 1 } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      event_id: expect.stringMatching(/^[a-z0-9]{15}$/),
      type,
      asset_id: assetId,
      external_id: null,
      data: { n: 1 },
      source: 'api',
      created: expect.any(String),
    });
  });

  it('answers 409 duplicate_event for a repeated external_id, naming the first event', async () => {
    const first = await post({ type: 'paid', external_id: 'inv-1' });
    const again = await post({ type: 'paid', external_id: 'inv-1', data: { other: true } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: 'duplicate_event', message: expect.any(String), event_id: first.body.event_id });
    // external ids are per account
    const other = await t.signup('other');
    expect((await post({ type: 'paid', external_id: 'inv-1' }, other.key)).status).toBe(201);
  });

  it('deduplicates concurrent posts of one external_id to exactly one event', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => post({ type: 'action', external_id: 'race-1' })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(19);
  });

  it('checks the asset', async () => {
    const missing = await post({ type: 'action', asset_id: 'nosuchasset0000' });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('asset_not_found');
    const other = await t.signup('neighbour');
    const theirs = await t.request('POST', '/api/v1/assets', { token: other.key, body: { name: 'N', price_sats: 1 } });
    const res = await post({ type: 'action', asset_id: theirs.body.asset_id });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('asset_not_owned');
  });

  it.each([
    [{}, /type/],
    [{ type: 'refund' }, /type/],
    [{ type: 'paid', data: 'x' }, /data/],
    [{ type: 'paid', data: [1] }, /data/],
    [{ type: 'paid', external_id: '' }, /external_id/],
    [{ type: 'paid', external_id: 'x'.repeat(129) }, /external_id/],
    [{ type: 'paid', data: { big: 'x'.repeat(17_000) } }, /data/],
    [{ type: 'paid', extra: 1 }, /extra/],
  ])('refuses %j with 400 invalid_body', async (body, field) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_body');
    expect(res.body.message).toMatch(field);
  });
});

describe('GET /api/public/events', () => {
  it('lists newest first with type, asset and since filters and cursor pagination', async () => {
    const acct = await t.signup('lister');
    const asset = (await t.request('POST', '/api/v1/assets', { token: acct.key, body: { name: 'L', price_sats: 1 } })).body.asset_id;
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await post({ type: i % 3 === 0 ? 'paid' : 'action', asset_id: i % 2 ? asset : null, external_id: `e${i}` }, acct.key);
      ids.push(res.body.event_id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/api/public/events?limit=5${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await t.request('GET', path, { token: acct.key });
      expect(page.status).toBe(200);
      expect(page.body.events.length).toBeLessThanOrEqual(5);
      seen.push(...page.body.events.map((e: any) => e.event_id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const paid = await t.request('GET', '/api/public/events?type=paid', { token: acct.key });
    expect(paid.body.events.map((e: any) => e.external_id)).toEqual(['e9', 'e6', 'e3', 'e0']);
    const byAsset = await t.request('GET', `/api/public/events?asset_id=${asset}&type=action`, { token: acct.key });
    expect(byAsset.body.events.map((e: any) => e.external_id)).toEqual(['e11', 'e7', 'e5', 'e1']);

    const all = (await t.request('GET', '/api/public/events', { token: acct.key })).body.events;
    const since = all[3].created;
    const recent = await t.request('GET', `/api/public/events?since=${encodeURIComponent(since)}`, { token: acct.key });
    expect(recent.body.events.length).toBeGreaterThanOrEqual(4);
    expect(recent.body.events.every((e: any) => e.created >= since)).toBe(true);
    const offset = await t.request('GET', `/api/public/events?since=${encodeURIComponent('2000-01-01T02:00:00+02:00')}`, { token: acct.key });
    expect(offset.body.events).toHaveLength(12);
  });

  it('never shows another account’s events', async () => {
    const a = await t.signup('a');
    const b = await t.signup('b');
    const ev = await post({ type: 'custom', data: { secret: 1 } }, a.key);
    const list = await t.request('GET', '/api/public/events', { token: b.key });
    expect(list.body.events).toEqual([]);
    const one = await t.request('GET', `/api/public/events/${ev.body.event_id}`, { token: b.key });
    expect(one.status).toBe(404);
    expect(one.body.error).toBe('event_not_found');
    const own = await t.request('GET', `/api/public/events/${ev.body.event_id}`, { token: a.key });
    expect(own.body).toEqual(ev.body);
  });

  it.each(['limit=0', 'limit=201', 'limit=x', 'type=refund', 'since=yesterday', 'cursor=abc', 'limit=1&limit=2', 'colour=red'])(
    'refuses ?%s with 400 invalid_body',
    async (qs) => {
      const res = await t.request('GET', `/api/public/events?${qs}`, { token: key });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_body');
    },
  );
});
