/**
 * Malformed requests to every license-server endpoint this branch owns, against a real listening
 * bridge, generated from tables: every bad value of every field of every body, bad and unknown path
 * ids and slugs, bad queries, missing and wrong admin tokens, wrong methods, body-parser garbage on
 * the two public POST routes. Each must get the documented 4xx in `{ok: false, error, message}`, or, on
 * the validate and deactivate routes (always 200), `{ok: false, reason: "bad_format"}`; never a 5xx,
 * a hang or a closed connection. A license health check races and follows every batch of 50.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../helpers/bridge.js';
import {
  describeOutcome,
  LIMIT,
  rawHead,
  sendFetch,
  sendInBatches,
  sized,
  SYNTAX_ERRORS,
  WRONG_CONTENT_TYPES,
  type Outcome,
  type Send,
} from '../helpers/http-probe.js';
import { startLicenseBridge, type LicenseBridge } from './helpers.js';

interface Fixture {
  productId: string;
  licenseId: string;
  key: string;
}

type Expect = { status: 200; badFormat: true } | { status: number; code: string };

interface Case {
  name: string;
  send: (fx: Fixture) => Send;
  expect: Expect;
}

const CASES: Case[] = [];
const NAMES = new Set<string>();
function add(name: string, send: (fx: Fixture) => Send, expectation: Expect): void {
  if (NAMES.has(name)) throw new Error(`duplicate case ${name}`);
  NAMES.add(name);
  CASES.push({ name, send, expect: expectation });
}

const P = '/license';
const BAD_FORMAT: Expect = { status: 200, badFormat: true };
const BAD_REQUEST: Expect = { status: 400, code: 'bad_request' };
const UNAUTHORIZED: Expect = { status: 401, code: 'unauthorized' };
const NOT_FOUND: Expect = { status: 404, code: 'not_found' };
const METHOD: Expect = { status: 405, code: 'method_not_allowed' };
const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000';

const admin = (method: string, path: string, json?: unknown): Send => ({
  via: 'fetch',
  method,
  path: `${P}${path}`,
  token: ADMIN_TOKEN,
  ...(json === undefined ? {} : { json }),
});
const anon = (method: string, path: string, json?: unknown): Send => ({ via: 'fetch', method, path: `${P}${path}`, ...(json === undefined ? {} : { json }) });

/** Values that are not what a field wants, by what they are. */
const NOT_STRING: [string, unknown][] = [
  ['number', 5],
  ['boolean', true],
  ['null', null],
  ['array', ['x']],
  ['object', { x: 1 }],
];

// --- POST /v1/validate and /v1/deactivate: JSON that is not a request is bad_format (HTTP 200) ------

const KEY_NOT_FORMAT: [string, string][] = [
  ['empty', ''],
  ['spaces', '   '],
  ['prefix only', 'LIC1-'],
  ['no parts', 'LIC1'],
  ['wrong prefix', 'LIC2-AEAQ-AAAA'],
  ['one part', 'LIC1-AEAW6RVE6YGS6SRI'],
  ['three parts', 'LIC1-AAAA-BBBB-CCCC'],
  ['digits 0 and 1', 'LIC1-0101-0101'],
  ['padding', 'LIC1-AE======-AA======'],
  ['impossible base32 length', 'LIC1-A-B'],
  ['unicode', 'LIC1-ÄÖÜ-ÄÖÜ'],
  ['emoji', 'LIC1-🔑-🔑'],
  ['NUL', 'LIC1-\u0000-\u0000'],
  ['over 4096 characters', `LIC1-${'A'.repeat(4100)}-AA`],
  ['a UUID', UNKNOWN_UUID],
  ['a JWT', 'eyJhbGciOiJIUzI1NiJ9.e30.sig'],
  ['an API key', `lib_${'ab'.repeat(32)}`],
  ['short signature', `LIC1-${'AE'.repeat(60)}-${'A'.repeat(50)}`],
  ['version 9 payload', `LIC1-BE${'A'.repeat(117)}-${'A'.repeat(103)}`],
  ['SQL', "LIC1-' OR 1=1 --"],
  ['path', '../../etc/passwd'],
  ['newline inside', 'LIC1-AAAA\n-BBBB'],
];

for (const route of ['validate', 'deactivate'] as const) {
  const path = `/v1/${route}`;
  const base = (fx: Fixture) => (route === 'validate' ? { key: fx.key } : { key: fx.key, fingerprint: 'fp' });
  for (const [what, key] of KEY_NOT_FORMAT) add(`${route}: key ${what}`, (fx) => anon('POST', path, { ...base(fx), key }), BAD_FORMAT);
  for (const [what, value] of NOT_STRING) add(`${route}: key is a ${what}`, (fx) => anon('POST', path, { ...base(fx), key: value }), BAD_FORMAT);
  for (const [what, value] of [...NOT_STRING, ['empty', ''], ['257 characters', 'f'.repeat(257)]] as [string, unknown][]) {
    add(`${route}: fingerprint is ${what}`, (fx) => anon('POST', path, { ...base(fx), fingerprint: value }), BAD_FORMAT);
  }
  add(`${route}: no key`, () => anon('POST', path, { fingerprint: 'fp' }), BAD_FORMAT);
  add(`${route}: empty object`, () => anon('POST', path, {}), BAD_FORMAT);
  add(`${route}: empty array`, () => anon('POST', path, []), BAD_FORMAT);
  add(`${route}: the request in an array`, (fx) => anon('POST', path, [base(fx)]), BAD_FORMAT);
  add(`${route}: the key nested`, (fx) => anon('POST', path, { license: base(fx) }), BAD_FORMAT);
  // The family body parser refuses what is not a JSON object or array, as every family does.
  for (const [name, make] of SYNTAX_ERRORS)
    add(`${route}: body ${name}`, (fx) => ({ ...anon('POST', path), raw: make(JSON.stringify(base(fx))) }), BAD_REQUEST);
  for (const [label, type] of WRONG_CONTENT_TYPES) {
    add(`${route}: content type ${label}`, (fx) => ({ ...anon('POST', path), raw: JSON.stringify(base(fx)), headers: { 'content-type': type } }), {
      status: 415,
      code: 'bad_request',
    });
  }
  add(`${route}: 64 KiB + 1`, () => ({ ...anon('POST', path), raw: sized(LIMIT + 1) }), { status: 413, code: 'bad_request' });
  add(
    `${route}: 100 GB Content-Length (raw socket)`,
    () => ({ via: 'socket', bytes: `${rawHead('POST', `${P}${path}`, { 'Content-Type': 'application/json', 'Content-Length': 100_000_000_000 })}{}` }),
    {
      status: 413,
      code: 'bad_request',
    },
  );
}
add('validate: product_slug is a number', (fx) => anon('POST', '/v1/validate', { key: fx.key, product_slug: 5 }), BAD_FORMAT);
add('validate: product_slug is empty', (fx) => anon('POST', '/v1/validate', { key: fx.key, product_slug: '' }), BAD_FORMAT);
add('validate: product_slug is 101 characters', (fx) => anon('POST', '/v1/validate', { key: fx.key, product_slug: 'a'.repeat(101) }), BAD_FORMAT);
add('validate: product_slug is an array', (fx) => anon('POST', '/v1/validate', { key: fx.key, product_slug: ['a'] }), BAD_FORMAT);

// --- Admin bodies: every bad value of every field --------------------------------------------------

interface BodyRoute {
  name: string;
  method: string;
  path: (fx: Fixture) => string;
  valid: () => Record<string, unknown>;
  bad: Record<string, unknown[]>;
}

const BAD_SLUGS: unknown[] = ['', 'UPPER', '-lead', 'trail-', 'a b', 'a_b', 'x'.repeat(65), 'é', '../x', 'a/b', 5, null, [], {}];
const BODY_ROUTES: BodyRoute[] = [
  {
    name: 'create product',
    method: 'POST',
    path: () => '/v1/admin/products',
    valid: () => ({ slug: 'fresh', name: 'Fresh', price_sats: 1 }),
    bad: {
      slug: BAD_SLUGS,
      name: ['', '   ', 'n'.repeat(201), 5, null, [], {}],
      description: ['d'.repeat(2001), 5, [], {}, true],
      price_sats: [-1, 1.5, '5', null, 1e30, true, [], {}, 'NaN'],
      metadata: ['x', 5, [], null, true],
    },
  },
  {
    name: 'product active',
    method: 'PATCH',
    path: (fx) => `/v1/admin/products/${fx.productId}/active`,
    valid: () => ({ active: false }),
    bad: { active: ['false', 0, 1, null, [], {}, 'yes'] },
  },
  {
    name: 'issue',
    method: 'POST',
    path: () => '/v1/admin/licenses',
    valid: () => ({ product_slug: 'target' }),
    bad: {
      product_slug: BAD_SLUGS,
      note: ['n'.repeat(1001), 5, [], {}],
      expires_at: ['tomorrow', '2030-01-01', '2030-13-01T00:00:00Z', '2020-01-01T00:00:00Z', 5, '', [], {}, true],
      trial: ['yes', 1, 0, null, [], {}],
      entitlements: ['pro', 5, [5], [''], [' pro'], ['pro '], ['é'], ['e'.repeat(65)], Array.from({ length: 33 }, (_, i) => `e${i}`), [null], {}],
      max_machines: [0, -1, 1.5, 10_001, '2', null, [], {}, true],
      fingerprint: ['', 'f'.repeat(257), 5, null, [], {}],
    },
  },
  {
    name: 'revoke',
    method: 'POST',
    path: (fx) => `/v1/admin/licenses/${fx.licenseId}/revoke`,
    valid: () => ({ reason: 'r' }),
    bad: { reason: [5, 'r'.repeat(501), [], {}, true] },
  },
  {
    name: 'suspend',
    method: 'POST',
    path: (fx) => `/v1/admin/licenses/${fx.licenseId}/suspend`,
    valid: () => ({ reason: 'r' }),
    bad: { reason: [5, 'r'.repeat(501), [], {}, true] },
  },
  { name: 'reinstate', method: 'POST', path: (fx) => `/v1/admin/licenses/${fx.licenseId}/reinstate`, valid: () => ({}), bad: {} },
];

for (const r of BODY_ROUTES) {
  for (const [field, values] of Object.entries(r.bad)) {
    values.forEach((value, i) =>
      add(
        `${r.name}: ${field} #${i} ${JSON.stringify(value).slice(0, 40)}`,
        (fx) => admin(r.method, r.path(fx), { ...r.valid(), [field]: value }),
        BAD_REQUEST,
      ),
    );
  }
  const required = Object.keys(r.valid());
  if (r.name !== 'revoke' && r.name !== 'suspend')
    for (const field of required) add(`${r.name}: without ${field}`, (fx) => admin(r.method, r.path(fx), { ...r.valid(), [field]: undefined }), BAD_REQUEST);
  add(`${r.name}: an unknown member`, (fx) => admin(r.method, r.path(fx), { ...r.valid(), zz_unknown: 1 }), BAD_REQUEST);
  add(`${r.name}: an array body`, (fx) => admin(r.method, r.path(fx), [r.valid()]), BAD_REQUEST);
  add(`${r.name}: invalid JSON`, (fx) => ({ ...admin(r.method, r.path(fx)), raw: '{oops' }), BAD_REQUEST);
  add(`${r.name}: __proto__ member`, (fx) => ({ ...admin(r.method, r.path(fx)), raw: `{"__proto__":{"pwned_by_license_test":true}}` }), BAD_REQUEST);
}

// --- Path ids and slugs -------------------------------------------------------------------------------

const BAD_IDS = [
  'x',
  '123',
  'ABCDEF00-0000-4000-8000-00000000ABCD',
  `${UNKNOWN_UUID}0`,
  UNKNOWN_UUID.replaceAll('-', ''),
  '%00',
  '..%2F..%2Fetc',
  'a'.repeat(100),
  "1'%20OR%201=1",
];
const ID_ROUTES: [string, string, (id: string) => string, unknown?][] = [
  ['product active', 'PATCH', (id) => `/v1/admin/products/${id}/active`, { active: true }],
  ['get license', 'GET', (id) => `/v1/admin/licenses/${id}`],
  ['revoke', 'POST', (id) => `/v1/admin/licenses/${id}/revoke`, {}],
  ['suspend', 'POST', (id) => `/v1/admin/licenses/${id}/suspend`, {}],
  ['reinstate', 'POST', (id) => `/v1/admin/licenses/${id}/reinstate`, {}],
];
for (const [name, method, path, json] of ID_ROUTES) {
  BAD_IDS.forEach((id, i) => add(`${name}: bad id #${i} ${id.slice(0, 30)}`, () => admin(method, path(id), json), BAD_REQUEST));
  add(`${name}: unknown id`, () => admin(method, path(UNKNOWN_UUID), json), NOT_FOUND);
}
for (const slug of ['UPPER', '-x', 'x'.repeat(65), '%00', 'a%20b', '%C3%A9'])
  add(`product by slug: bad slug ${slug.slice(0, 20)}`, () => anon('GET', `/v1/products/${slug}`), BAD_REQUEST);
add('product by slug: unknown', () => anon('GET', '/v1/products/no-such-product'), NOT_FOUND);

// --- Queries -------------------------------------------------------------------------------------------

add('list licenses: no product_id', () => admin('GET', '/v1/admin/licenses'), BAD_REQUEST);
add('list licenses: product_id not a UUID', () => admin('GET', '/v1/admin/licenses?product_id=x'), BAD_REQUEST);
add('list licenses: product_id twice', (fx) => admin('GET', `/v1/admin/licenses?product_id=${fx.productId}&product_id=${fx.productId}`), BAD_REQUEST);
add('list licenses: unknown parameter', (fx) => admin('GET', `/v1/admin/licenses?product_id=${fx.productId}&zz=1`), BAD_REQUEST);
add('list licenses: empty product_id', () => admin('GET', '/v1/admin/licenses?product_id='), BAD_REQUEST);
for (const [what, q] of [
  ['limit 0', 'limit=0'],
  ['limit 1001', 'limit=1001'],
  ['limit x', 'limit=x'],
  ['limit 1.5', 'limit=1.5'],
  ['cursor not ours', 'cursor=nope'],
  ['cursor of 0', `cursor=${Buffer.from('s0').toString('base64url')}`],
] as const) {
  add(`list licenses: ${what}`, (fx) => admin('GET', `/v1/admin/licenses?product_id=${fx.productId}&${q}`), BAD_REQUEST);
}
add('list licenses: unknown product', () => admin('GET', `/v1/admin/licenses?product_id=${UNKNOWN_UUID}`), NOT_FOUND);

// --- The admin token on every admin route ---------------------------------------------------------------

const ADMIN_ROUTES: [string, string, (fx: Fixture) => string, unknown?][] = [
  ['create product', 'POST', () => '/v1/admin/products', { slug: 'x', name: 'x', price_sats: 1 }],
  ['product active', 'PATCH', (fx) => `/v1/admin/products/${fx.productId}/active`, { active: true }],
  ['list licenses', 'GET', (fx) => `/v1/admin/licenses?product_id=${fx.productId}`],
  ['issue', 'POST', () => '/v1/admin/licenses', { product_slug: 'target' }],
  ['get license', 'GET', (fx) => `/v1/admin/licenses/${fx.licenseId}`],
  ['revoke', 'POST', (fx) => `/v1/admin/licenses/${fx.licenseId}/revoke`, {}],
  ['suspend', 'POST', (fx) => `/v1/admin/licenses/${fx.licenseId}/suspend`, {}],
  ['reinstate', 'POST', (fx) => `/v1/admin/licenses/${fx.licenseId}/reinstate`, {}],
];
const BAD_AUTH: [string, string | undefined][] = [
  ['no Authorization', undefined],
  ['wrong token', 'Bearer not-the-admin-token-0123456789'],
  ['Basic scheme', `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`],
  ['Bearer and nothing', 'Bearer'],
  ['the token with a suffix', `Bearer ${ADMIN_TOKEN}x`],
  ['the token in lower case of a prefix', `Bearer ${ADMIN_TOKEN.toUpperCase()}`],
  ['two tokens', `Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}`],
];
for (const [name, method, path, json] of ADMIN_ROUTES) {
  for (const [what, header] of BAD_AUTH) {
    add(
      `${name}: ${what}`,
      (fx) => ({ ...anon(method, path(fx), json), ...(header === undefined ? {} : { headers: { authorization: header } }) }),
      UNAUTHORIZED,
    );
  }
}

// --- Methods and paths ----------------------------------------------------------------------------------

const METHODS: [string, string[]][] = [
  ['/', ['POST', 'PUT', 'DELETE', 'PATCH']],
  ['/healthz', ['POST', 'PUT', 'DELETE']],
  ['/v1/pubkey', ['POST', 'PUT', 'DELETE']],
  ['/v1/products', ['POST', 'PUT', 'DELETE']],
  ['/v1/products/target', ['POST', 'PUT', 'DELETE']],
  ['/v1/validate', ['GET', 'PUT', 'DELETE', 'PATCH']],
  ['/v1/deactivate', ['GET', 'PUT', 'DELETE']],
  ['/v1/admin/products', ['GET', 'PUT', 'DELETE']],
  ['/v1/admin/licenses', ['PUT', 'DELETE', 'PATCH']],
];
for (const [path, methods] of METHODS) for (const m of methods) add(`${m} ${path}`, () => ({ ...anon(m, path), ...(m === 'GET' ? {} : { json: {} }) }), METHOD);
for (const path of ['/v2/validate', '/v1/validate/x', '/v1/admin', '/v1/admin/licenses/x/y/z', '/v1/license', '/v1/validatex'])
  add(`unknown path ${path}`, () => anon('GET', path), NOT_FOUND);

// ---------------------------------------------------------------------------------------------------------

function problemsOf(c: Case, outcome: Outcome | undefined): string[] {
  if (!outcome) return ['not run'];
  if (outcome.kind !== 'answer') return [describeOutcome(outcome)];
  const { status, text } = outcome.answer;
  const problems: string[] = [];
  if (status >= 500) problems.push(`server error ${status}`);
  if (status !== c.expect.status) problems.push(`status ${status}, expected ${c.expect.status}`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return [...problems, 'not JSON'];
  }
  if ('badFormat' in c.expect) {
    if (JSON.stringify(body) !== '{"ok":false,"reason":"bad_format"}') problems.push(`body ${text.slice(0, 120)}, expected {ok: false, reason: "bad_format"}`);
    return problems;
  }
  if (Object.keys(body).sort().join(',') !== 'error,message,ok') problems.push(`error body keys ${Object.keys(body).join(',')}`);
  if (body['ok'] !== false) problems.push('ok is not false');
  if (body['error'] !== c.expect.code) problems.push(`error ${JSON.stringify(body['error'])}, expected ${c.expect.code}`);
  if (typeof body['message'] !== 'string' || body['message'] === '') problems.push('no message');
  return problems;
}

let t: LicenseBridge;
let fx: Fixture;
const results = new Map<string, Outcome>();
const health: boolean[] = [];

describe(`malformed requests to the license server (${CASES.length} cases)`, () => {
  beforeAll(async () => {
    t = await startLicenseBridge();
    const product = await t.product('target');
    const lic = await t.issue('target');
    fx = { productId: product.product_id, licenseId: lic.license_id, key: lic.license_key };
    const check = async () => {
      const o = await sendFetch(t.url, { via: 'fetch', method: 'POST', path: `${P}/v1/validate`, json: { key: fx.key } });
      health.push(o.kind === 'answer' && o.answer.status === 200 && JSON.parse(o.answer.text).ok === true);
    };
    await sendInBatches(CASES, fx, { url: t.url, httpPort: t.info.httpPort }, check, results);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  it('has 300 or more uniquely named cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(300);
    expect(NAMES.size).toBe(CASES.length);
  });

  it('kept validating before, during and after every batch', () => {
    expect(health.length).toBeGreaterThan(2);
    expect(health.every(Boolean)).toBe(true);
  });

  it('left Object.prototype alone and the fixture license untouched', async () => {
    expect(Object.prototype).not.toHaveProperty('pwned_by_license_test');
    expect((await t.validate({ key: fx.key })).ok).toBe(true);
  });

  it('answered every case as documented, never a 5xx', () => {
    const failures = CASES.flatMap((c) => {
      const p = problemsOf(c, results.get(c.name));
      return p.length === 0 ? [] : [`${c.name}: ${p.join('; ')} (${describeOutcome(results.get(c.name)).slice(0, 160)})`];
    });
    expect(failures).toEqual([]);
  });
});
