/**
 * Text that reaches wallets and displays (account labels, key labels, asset names and metadata,
 * event ids and data, LUD-09 success messages, LUD-12 comments, device labels, trigger reasons)
 * refuses characters that hide or reorder what a reader sees: control characters (C0, DEL, C1),
 * bidirectional embeddings, overrides and isolates, line and paragraph separators in one-line
 * fields, and lone surrogates. Each refusal is 400 invalid_body naming the field; ordinary
 * international text (accents, emoji, right-to-left scripts with their marks) still passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

let t: TestBridge;
let key: string;
let assetId: string;

beforeAll(async () => {
  t = await startBridge();
  ({ key } = await t.signup('text-owner'));
  const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Plain', price_sats: 10 } });
  expect(asset.status).toBe(201);
  assetId = asset.body.asset_id;
});

afterAll(async () => {
  await t.close();
});

/** Strings no display should get, each with what it is. */
const HOSTILE: [string, string][] = [
  ['right-to-left override U+202E', 'Coffee \u202Egnp.exe'],
  ['left-to-right embedding U+202A', 'a\u202Ab'],
  ['pop directional formatting U+202C', 'a\u202Cb'],
  ['first strong isolate U+2068', 'a\u2068b'],
  ['pop directional isolate U+2069', 'a\u2069b'],
  ['C1 control U+0085 (next line)', 'a\u0085b'],
  ['C1 control U+009B (CSI)', 'a\u009B31mb'],
  ['C0 control U+001B (escape)', 'a\u001B[31mb'],
  ['DEL U+007F', 'a\u007Fb'],
  ['line separator U+2028', 'a\u2028b'],
  ['paragraph separator U+2029', 'a\u2029b'],
  ['lone high surrogate', 'a\uD800b'],
  ['lone low surrogate', 'a\uDC00b'],
  ['high surrogate at the end', 'ab\uD83D'],
];

/** Strings real people write, which must keep working. */
const FRIENDLY = ['Café crème', 'Kaffee ☕ Maschine', '👩‍🔧 repair bot', 'مقهى\u200F 2', 'קפה', '咖啡机', 'Ünïcödé ½'];

describe.each(HOSTILE)('a %s', (_what, bad) => {
  const refused = (res: { status: number; body: any }, field: string) => {
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error).toBe('invalid_body');
    expect(res.body.message).toContain(field);
  };

  it('is refused in an account label', async () => {
    refused(await t.request('POST', '/api/v1/accounts', { body: { label: bad } }), 'label');
  });

  it('is refused in an API key label', async () => {
    refused(await t.request('POST', '/api/v1/accounts/me/keys', { token: key, body: { scope: 'read', label: bad } }), 'label');
  });

  it('is refused in an asset name (create, replace, update)', async () => {
    refused(await t.request('POST', '/api/v1/assets', { token: key, body: { name: bad, price_sats: 1 } }), 'name');
    refused(await t.request('PUT', `/api/v1/assets/${assetId}`, { token: key, body: { name: bad, price_sats: 1 } }), 'name');
    refused(await t.request('PATCH', `/api/v1/assets/${assetId}`, { token: key, body: { name: bad } }), 'name');
  });

  // Free-form JSON values are multi-line text: line and paragraph separators are line breaks there.
  const lineBreak = /[\u2028\u2029]/.test(bad);

  it('is refused in asset metadata, as a value (nested too) or a key', async () => {
    if (!lineBreak) {
      refused(await t.request('PATCH', `/api/v1/assets/${assetId}`, { token: key, body: { metadata: { location: bad } } }), 'metadata.location');
      refused(await t.request('PATCH', `/api/v1/assets/${assetId}`, { token: key, body: { metadata: { a: { b: ['ok', bad] } } } }), 'metadata.a.b.1');
    }
    refused(await t.request('PATCH', `/api/v1/assets/${assetId}`, { token: key, body: { metadata: { [bad]: 1 } } }), 'metadata');
  });

  it('is refused in an event external_id and event data', async () => {
    refused(await t.request('POST', '/api/public/events', { token: key, body: { type: 'custom', external_id: bad } }), 'external_id');
    if (!lineBreak) refused(await t.request('POST', '/api/public/events', { token: key, body: { type: 'custom', data: { note: bad } } }), 'data.note');
  });

  it('is refused in a payment link success message', async () => {
    refused(await t.request('POST', `/api/v1/assets/${assetId}/payment-link`, { token: key, body: { success_message: bad } }), 'success_message');
  });

  it('is refused in a device credential label and a trigger reason', async () => {
    refused(await t.request('POST', `/api/v1/assets/${assetId}/device-credentials`, { token: key, body: { label: bad } }), 'label');
    refused(await t.request('POST', `/api/v1/assets/${assetId}/trigger`, { token: key, body: { reason: bad } }), 'reason');
  });
});

describe('LUD-12 comments', () => {
  it('refuses a comment with bidirectional overrides, C1 controls or separators with an LNURL error', async () => {
    const link = await t.request('POST', `/api/v1/assets/${assetId}/payment-link`, { token: key });
    expect(link.status, link.text).toBeLessThan(300);
    // A query string cannot carry a lone surrogate (its UTF-8 does not exist); the rest can.
    for (const [, bad] of HOSTILE.filter(([what]) => !what.includes('surrogate'))) {
      const res = await fetch(`${link.body.url}/callback?amount=10000&comment=${encodeURIComponent(bad)}`);
      const body = (await res.json()) as { status: string; reason: string };
      expect(res.status, bad).toBe(400);
      expect(body).toMatchObject({ status: 'ERROR', reason: expect.stringContaining('comment') });
    }
    const ok = await fetch(`${link.body.url}/callback?amount=10000&comment=${encodeURIComponent('Merci ☕ שלום')}`);
    expect(ok.status).toBe(200);
  });
});

describe('ordinary text', () => {
  it.each(FRIENDLY)('%s is accepted in labels, names, metadata, events and messages', async (text) => {
    expect((await t.request('POST', '/api/v1/accounts', { body: { label: text } })).status).toBe(201);
    const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: text, price_sats: 1, metadata: { note: text } } });
    expect(asset.status, asset.text).toBe(201);
    expect(asset.body.name).toBe(text);
    const event = await t.request('POST', '/api/public/events', { token: key, body: { type: 'custom', data: { note: text } } });
    expect(event.status, event.text).toBe(201);
    const link = await t.request('POST', `/api/v1/assets/${asset.body.asset_id}/payment-link`, { token: key, body: { success_message: text } });
    expect(link.status, link.text).toBe(201);
  });

  it('lets free-form JSON values hold tabs and line breaks, but not names', async () => {
    const multi = 'line one\n\tline two\r\nthree\u2028four';
    const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Multi', price_sats: 1, metadata: { notes: multi } } });
    expect(asset.status, asset.text).toBe(201);
    expect(asset.body.metadata.notes).toBe(multi);
    const event = await t.request('POST', '/api/public/events', { token: key, body: { type: 'custom', data: { log: multi } } });
    expect(event.status, event.text).toBe(201);
    const named = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'two\nlines', price_sats: 1 } });
    expect(named.status).toBe(400);
  });
});
