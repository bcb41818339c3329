/**
 * Uniqueness under concurrency, over HTTP, on whichever engine the project runs (the `postgres`
 * project runs it on PostgreSQL too): signups racing for one label each get their own username (one
 * the label itself), payment links racing for one asset make one link, events racing with one
 * external_id are stored once (the rest 409 duplicate_event naming it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

let t: TestBridge;
beforeAll(async () => {
  t = await startBridge();
});
afterAll(async () => {
  await t.close();
});

describe('uniqueness under concurrency', () => {
  it('gives 20 concurrent signups for one label 20 usernames, one of them the label', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => t.request('POST', '/api/v1/accounts', { body: { label: 'rush-hour' } })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    const usernames = results.map((r) => r.body.username as string);
    expect(new Set(usernames).size).toBe(20);
    expect(usernames.filter((u) => u === 'rush-hour')).toHaveLength(1);
    for (const u of usernames) expect(u).toMatch(/^rush-hour(-[a-z0-9]{6})?$/);
  });

  it('makes one payment link for an asset that 10 concurrent calls provision', async () => {
    const { key } = await t.signup('linker');
    const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Racer', price_sats: 10 } });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => t.request('POST', `/api/v1/assets/${asset.body.asset_id}/payment-link`, { token: key })),
    );
    expect(
      results.every((r) => r.status === 200 || r.status === 201),
      results.map((r) => `${r.status} ${r.text}`).join('\n'),
    ).toBe(true);
    expect(new Set(results.map((r) => r.body.link_id)).size).toBe(1);
    expect(results.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(1);
  });

  it('stores one of 20 concurrent events with one external_id; the rest are 409 duplicate_event naming it', async () => {
    const { key } = await t.signup('dupes');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => t.request('POST', '/api/public/events', { token: key, body: { type: 'action', external_id: 'once', data: { i } } })),
    );
    const created = results.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    const id = created[0]?.body.event_id;
    for (const r of results.filter((x) => x.status !== 201)) expect([r.status, r.body.error, r.body.event_id]).toEqual([409, 'duplicate_event', id]);
    const list = await t.request('GET', '/api/public/events?limit=100', { token: key });
    expect(list.body.events.map((e: { event_id: string }) => e.event_id)).toEqual([id]);
  });
});
