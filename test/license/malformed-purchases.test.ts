/**
 * Malformed input to the license server's purchase endpoints (`POST /license/v1/purchase`,
 * `GET /license/v1/purchase/:invoice_id`, `POST /license/v1/btcpay/webhook`) against a listening
 * bridge: every case gets the license family's documented 4xx, `{ok: false, error, message}` and
 * nothing else, never a 5xx or a hang; a normal purchase races and follows every batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { describeOutcome, type Outcome, type Send, sendInBatches, SYNTAX_ERRORS, WRONG_CONTENT_TYPES } from '../helpers/http-probe.js';

interface Case {
  name: string;
  send: (fx: unknown) => Send;
  status: number;
  error: string;
}

const VALID = { product: 'my-app', buyer_email: 'alice@example.com', buyer_note: 'optional', redirect_url: 'https://myapp.example.com/thanks' };
const purchase = (json: unknown): Send => ({ via: 'fetch', method: 'POST', path: '/license/v1/purchase', json });
const rawPurchase = (raw: string, headers?: Record<string, string>): Send => ({
  via: 'fetch',
  method: 'POST',
  path: '/license/v1/purchase',
  raw,
  ...(headers ? { headers } : {}),
});

const cases: Case[] = [];
const add = (name: string, send: Send, status: number, error: string) => cases.push({ name, send: () => send, status, error });

// --- POST /v1/purchase: each field with values of the wrong type, size or text
const BAD: Record<string, unknown[]> = {
  product: [undefined, null, 0, 1.5, true, [], ['my-app'], {}, '', '   ', 'x'.repeat(101), 'my\u0000app', 'my\u202Eapp', 'my\ud800app', 'my\u0085app', 'a\nb'],
  buyer_email: [0, true, [], ['a@b.co'], {}, '', 'not-an-email', 'alice@', '@example.com', 'alice example.com', `${'x'.repeat(250)}@example.com`, 'a@b@c.com'],
  buyer_note: [0, true, [], {}, { text: 'x' }, 'x'.repeat(1001), 'a\u0000b', 'a\u202Eb', 'a\ud800b', 'a\u2066b', 'a\u001bb'],
  redirect_url: [
    0,
    true,
    [],
    {},
    '',
    'not a url',
    'javascript:alert(1)',
    'ftp://example.com/x',
    'file:///etc/passwd',
    '//example.com',
    'mailto:a@b.co',
    'data:text/html,x',
    `https://example.com/${'a'.repeat(2000)}`,
    'http://',
  ],
};
for (const [field, values] of Object.entries(BAD)) {
  for (const value of values) {
    const body: Record<string, unknown> = { ...VALID };
    if (value === undefined) delete body[field];
    else body[field] = value;
    add(`purchase ${field} = ${JSON.stringify(value)?.slice(0, 40) ?? 'missing'}`, purchase(body), 400, 'bad_request');
  }
}
for (const body of [[], [VALID], 'my-app', 42, true, {}, { products: 'my-app' }, { product: { slug: 'my-app' } }]) {
  add(`purchase body ${JSON.stringify(body).slice(0, 40)}`, purchase(body), 400, 'bad_request');
}
for (const [name, make] of SYNTAX_ERRORS) {
  // An empty-looking body that is whitespace only reads as no body: still no product.
  add(`purchase syntax: ${name}`, rawPurchase(make(JSON.stringify(VALID))), 400, 'bad_request');
}
for (const [name, type] of WRONG_CONTENT_TYPES)
  add(`purchase content-type ${name}`, rawPurchase(JSON.stringify(VALID), { 'content-type': type }), 415, 'bad_request');
add('purchase: a product nobody sells', purchase({ product: 'no-such-app' }), 404, 'not_found');
add('purchase: a slug with upper case', purchase({ product: 'My-App' }), 404, 'not_found');
add('purchase: PUT', { via: 'fetch', method: 'PUT', path: '/license/v1/purchase', json: VALID }, 405, 'method_not_allowed');
add('purchase: DELETE', { via: 'fetch', method: 'DELETE', path: '/license/v1/purchase' }, 405, 'method_not_allowed');

// --- GET /v1/purchase/:invoice_id
const BAD_IDS = [
  'abc',
  '123',
  'zzzzzzzzzzzzzzz',
  '00000000000040008000000000000000',
  '00000000-0000-4000-8000-00000000000',
  '00000000-0000-4000-8000-0000000000000',
  '00000000-0000-4000-8000-00000000000g',
  '{00000000-0000-4000-8000-000000000000}',
  '%00',
  '%E2%80%AE',
  'x'.repeat(500),
  '..%2F..%2Fetc',
  '00000000-0000-4000-8000-000000000000%20',
];
for (const id of BAD_IDS) add(`poll id ${id.slice(0, 40)}`, { via: 'fetch', method: 'GET', path: `/license/v1/purchase/${id}` }, 400, 'bad_request');
for (const id of ['00000000-0000-4000-8000-000000000000', 'FFFFFFFF-FFFF-4FFF-8FFF-FFFFFFFFFFFF', 'ffffffff-ffff-ffff-ffff-ffffffffffff']) {
  add(`poll unknown ${id}`, { via: 'fetch', method: 'GET', path: `/license/v1/purchase/${id}` }, 404, 'not_found');
}
add('poll: POST', { via: 'fetch', method: 'POST', path: '/license/v1/purchase/00000000-0000-4000-8000-000000000000', json: {} }, 405, 'method_not_allowed');

// --- POST /v1/btcpay/webhook: bodies that are not BTCPay's, and signatures that are not ours
const webhook = (raw: string, sig?: string): Send => ({
  via: 'fetch',
  method: 'POST',
  path: '/license/v1/btcpay/webhook',
  raw,
  ...(sig === undefined ? {} : { headers: { 'btcpay-sig': sig } }),
});
const SIG = `sha256=${'ab'.repeat(32)}`;
for (const raw of [
  '[]',
  '42',
  '"x"',
  'null',
  '{}',
  '{"storeId":""}',
  '{"storeId":5}',
  '{"storeId":null}',
  `{"storeId":"${'s'.repeat(201)}"}`,
  '{"storeId":["a"]}',
]) {
  add(`webhook body ${raw.slice(0, 30)}`, webhook(raw, SIG), 400, 'bad_request');
}
for (const [name, make] of SYNTAX_ERRORS.slice(0, 12))
  add(`webhook syntax: ${name}`, webhook(make('{"storeId":"abc","deliveryId":"d"}'), SIG), 400, 'bad_request');
const event = JSON.stringify({ deliveryId: 'd1', type: 'InvoiceSettled', storeId: 'no-such-store', invoiceId: 'inv', metadata: { orderId: 'x' } }, null, 2);
for (const sig of [
  undefined,
  '',
  'sha256=',
  'sha256=xyz',
  `sha1=${'ab'.repeat(20)}`,
  `sha256=${'ab'.repeat(31)}`,
  `sha256=${'ab'.repeat(33)}`,
  `sha256 ${'ab'.repeat(32)}`,
  SIG,
  `SHA256=${'AB'.repeat(32)}`,
]) {
  add(`webhook signature ${JSON.stringify(sig)?.slice(0, 30) ?? 'absent'}`, webhook(event, sig), 401, 'invalid_signature');
}
add('webhook: GET', { via: 'fetch', method: 'GET', path: '/license/v1/btcpay/webhook' }, 405, 'method_not_allowed');

let t: TestBridge;
beforeAll(async () => {
  t = await startBridge({ LICENSE_VENDOR_ACCOUNT: 'vendor', LICENSE_PURCHASES_PER_MINUTE: 0 });
  await t.signup('vendor');
  const res = await t.request('POST', '/license/v1/admin/products', {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: { slug: 'my-app', name: 'My App', price_sats: 100 },
  });
  expect(res.status).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

describe('malformed purchase, poll and webhook requests', () => {
  it(`${cases.length} cases: each the documented 4xx with {ok: false, error, message}`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
    const results = new Map<string, Outcome>();
    const health = async (when: string) => {
      const res = await t.request('POST', '/license/v1/purchase', { body: VALID });
      expect(res.status, `a normal purchase ${when}`).toBe(200);
    };
    await sendInBatches(cases, undefined, { url: t.url, httpPort: t.info.httpPort }, health, results);
    const wrong: string[] = [];
    for (const c of cases) {
      const outcome = results.get(c.name);
      if (outcome?.kind !== 'answer') {
        wrong.push(`${c.name}: ${describeOutcome(outcome)}`);
        continue;
      }
      const { status, text } = outcome.answer;
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // reported below
      }
      const keys = Object.keys(body).sort().join(',');
      if (status !== c.status || body['error'] !== c.error || body['ok'] !== false || keys !== 'error,message,ok' || typeof body['message'] !== 'string') {
        wrong.push(`${c.name}: expected ${c.status} ${c.error}, got ${describeOutcome(outcome)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
