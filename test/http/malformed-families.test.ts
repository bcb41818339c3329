/**
 * Malformed input once per API family and once per endpoint, against a real listening bridge.
 *
 * - The body matrix: every API family reads bodies through the same parser (`bridge/http/body.ts`,
 *   composed by `bridge/http/family.ts`), so every kind of malformed body (syntax errors, wrong
 *   content types and encodings, corrupt or bomb-sized gzip, invalid UTF-8, over-limit sizes, torn
 *   streams) is sent once to one endpoint of each family and must come back as that family's
 *   documented 4xx: machine payments `{error, message}`, LNURL `{status: "ERROR", reason}` (LUD-06),
 *   x402 `{code, message, details}`, license `{ok: false, error, message}`. What a route's schema
 *   decides (wrong structure, deep nesting, `__proto__`, unknown members) runs on the machine-payments
 *   representative, POST /api/v1/assets, whose schema has free text and a free-form object.
 * - The wiring check: for every endpoint of the docs catalogue, that it sits behind the family's
 *   body parser (a bad JSON body gets 400 invalid_json), its authenticator (no token: 401
 *   missing_token), its scope check (a read-only key on a write: 403 insufficient_scope) and its
 *   validation (a bad path id, an unknown query parameter, an unknown body member: 400
 *   invalid_body), each with a code `errorsOf` documents for it, never a 5xx.
 *
 * The authenticators' own matrices (every garbled, foreign, expired or revoked credential) run once
 * each: the API key and session token in `malformed.test.ts`, the admin token in
 * `malformed-lightning.test.ts`. A normal request of each family races and follows every batch.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINTS, errorsOf, type Endpoint } from '../../bridge/docs/endpoints.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import {
  bodySend,
  BOM,
  chunked,
  deepArray,
  deepObject,
  describeOutcome,
  INVALID_UTF8,
  LIMIT,
  MIB,
  type Outcome,
  rawHead,
  REQUEST_TIMEOUT_MS,
  type Send,
  sendFetch,
  sendInBatches,
  sized,
  SYNTAX_ERRORS,
  UNKNOWN_ID,
  withProto,
  WRONG_CONTENT_ENCODINGS,
  WRONG_CONTENT_TYPES,
} from '../helpers/http-probe.js';

// ---------------------------------------------------------------------------------------------
// Families and their error shapes
// ---------------------------------------------------------------------------------------------

interface Fixture {
  key: string;
  readKey: string;
  linkId: string;
}

/** What a case expects, in machine-payments codes; each family's shape translates them. */
interface Expect {
  status: number | readonly number[];
  codes: readonly string[];
}

interface Family {
  name: 'machines' | 'lnurl' | 'x402' | 'license';
  /** The endpoint that receives the body matrix, and the body it accepts. */
  method: string;
  path: (fx: Fixture) => string;
  token?: (fx: Fixture) => string;
  valid: () => Record<string, unknown>;
  /** Problems with an error body, given the machine-payments codes it stands for. */
  shape: (body: Record<string, unknown>, codes: readonly string[]) => string[];
}

const keysAre = (body: Record<string, unknown>, want: string): string[] => {
  const keys = Object.keys(body).sort().join(',');
  return keys === want ? [] : [`error body keys [${keys}], expected [${want}]`];
};
const nonEmpty = (body: Record<string, unknown>, field: string): string[] =>
  typeof body[field] === 'string' && body[field] !== '' ? [] : [`${field} is not a non-empty string`];
const codeIn = (actual: unknown, allowed: readonly string[]): string[] =>
  typeof actual === 'string' && allowed.includes(actual) ? [] : [`error code ${JSON.stringify(actual)}, expected ${allowed.join(' | ')}`];

/** The codes the bridge's body parser and request validation use, as each family spells them (bridge/families.ts). */
const X402_CODE: Record<string, string> = { invalid_json: 'INVALID_REQUEST', invalid_body: 'INVALID_REQUEST' };
const LICENSE_CODE: Record<string, string> = { invalid_json: 'bad_request', invalid_body: 'bad_request' };

const FAMILIES: Family[] = [
  {
    name: 'machines',
    method: 'POST',
    path: () => '/api/v1/assets',
    token: (fx) => fx.key,
    valid: () => ({ name: 'Coffee machine', price_sats: 1500 }),
    shape: (body, codes) => [...keysAre(body, 'error,message'), ...codeIn(body['error'], codes), ...nonEmpty(body, 'message')],
  },
  {
    // LNURL routes are GET only, but the family parses a body before it routes (as every family does).
    name: 'lnurl',
    method: 'POST',
    path: (fx) => `/lnurl/pay/${fx.linkId}/callback`,
    valid: () => ({ amount: 21_000 }),
    shape: (body) => [
      ...keysAre(body, 'reason,status'),
      ...(body['status'] === 'ERROR' ? [] : [`LNURL status ${JSON.stringify(body['status'])}, expected "ERROR"`]),
      ...nonEmpty(body, 'reason'),
    ],
  },
  {
    name: 'x402',
    method: 'POST',
    path: () => '/x402/health',
    valid: () => ({ x: 1 }),
    shape: (body, codes) => [
      ...keysAre(body, 'code,details,message'),
      ...codeIn(
        body['code'],
        codes.map((c) => X402_CODE[c] ?? c),
      ),
      ...nonEmpty(body, 'message'),
      ...(typeof body['details'] === 'string' ? [] : ['details is not a string']),
    ],
  },
  {
    name: 'license',
    method: 'POST',
    path: () => '/license/healthz',
    valid: () => ({ x: 1 }),
    shape: (body, codes) => [
      ...keysAre(body, 'error,message,ok'),
      ...(body['ok'] === false ? [] : ['ok is not false']),
      ...codeIn(
        body['error'],
        codes.map((c) => LICENSE_CODE[c] ?? c),
      ),
      ...nonEmpty(body, 'message'),
    ],
  },
];
const MACHINES = FAMILIES[0] as Family;

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

interface Case {
  name: string;
  group: string;
  family: Family;
  send: (fx: Fixture) => Send;
  expect: Expect;
  /** The documented codes of the endpoint (wiring cases), checked besides `expect`. */
  documented?: readonly string[];
}

const CASES: Case[] = [];
const NAMES = new Set<string>();
function add(group: string, name: string, family: Family, send: (fx: Fixture) => Send, expectation: Expect, documented?: readonly string[]): void {
  const full = `${group}: ${name}`;
  if (NAMES.has(full)) throw new Error(`duplicate case name ${full}`);
  NAMES.add(full);
  CASES.push({ name: full, group, family, send, expect: expectation, ...(documented ? { documented } : {}) });
}

const INVALID_JSON = { status: 400, codes: ['invalid_json'] } as const satisfies Expect;
const INVALID_BODY = { status: 400, codes: ['invalid_body'] } as const satisfies Expect;
/** Refused as a bad body, whichever of the two 400 codes. */
const BAD_BODY = { status: 400, codes: ['invalid_json', 'invalid_body'] } as const satisfies Expect;
const TOO_LARGE = { status: 413, codes: ['invalid_body'] } as const satisfies Expect;
const UNSUPPORTED = { status: 415, codes: ['invalid_body'] } as const satisfies Expect;
const JSON_TYPE = { 'content-type': 'application/json' };

// --- The parser's matrix, once per family ----------------------------------------------------------

for (const fam of FAMILIES) {
  const g = `body parser (${fam.name}) ${fam.method} ${fam.path({ key: '', readKey: '', linkId: '{link}' })}`;
  const ep = { method: fam.method, path: fam.path, ...(fam.token ? { token: fam.token } : {}) };
  const plain = () => JSON.stringify(fam.valid());
  const socketHead = (fx: Fixture, headers: Record<string, string | number>) =>
    rawHead(fam.method, fam.path(fx), { ...(fam.token ? { Authorization: `Bearer ${fam.token(fx)}` } : {}), ...headers });

  for (const [name, make] of SYNTAX_ERRORS) add(g, name, fam, (fx) => bodySend(ep, fx, { raw: make(plain()) }), INVALID_JSON);
  add(
    g,
    'invalid UTF-8 bytes outside strings',
    fam,
    (fx) => bodySend(ep, fx, { raw: Buffer.concat([Buffer.from(plain()), Buffer.from([0xff, 0xfe])]) }),
    INVALID_JSON,
  );
  add(
    g,
    'UTF-16LE encoded body',
    fam,
    (fx) => bodySend(ep, fx, { raw: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(plain(), 'utf16le')]) }),
    BAD_BODY,
  );
  // RFC 8259 §8.1: JSON exchanged between systems MUST be UTF-8. Bytes that are not UTF-8 inside
  // a string must not be silently replaced by U+FFFD and stored.
  for (const [what, bytes] of INVALID_UTF8) {
    add(
      g,
      `invalid UTF-8 (${what}) inside a string`,
      fam,
      (fx) => bodySend(ep, fx, { raw: Buffer.concat([Buffer.from('{"name":"Coffee '), Buffer.from(bytes), Buffer.from('","price_sats":1500}')]) }),
      BAD_BODY,
    );
  }

  // Sizes: the limit holds whether the length is declared, chunked, compressed or a lie.
  add(g, '64 KiB + 1 byte with Content-Length', fam, (fx) => bodySend(ep, fx, { raw: sized(LIMIT + 1) }), TOO_LARGE);
  add(g, '64 KiB + 1 byte of invalid JSON', fam, (fx) => bodySend(ep, fx, { raw: `{${'x'.repeat(LIMIT)}` }), TOO_LARGE);
  add(g, '1 MiB with Content-Length', fam, (fx) => bodySend(ep, fx, { raw: sized(MIB) }), TOO_LARGE);
  add(g, 'valid fields padded past 64 KiB', fam, (fx) => bodySend(ep, fx, { json: { ...fam.valid(), pad: 'x'.repeat(LIMIT) } }), TOO_LARGE);
  add(
    g,
    '4 MiB with Content-Length (raw socket)',
    fam,
    (fx) => {
      const body = Buffer.from(sized(4 * MIB));
      return {
        via: 'socket',
        bytes: Buffer.concat([Buffer.from(socketHead(fx, { 'Content-Type': 'application/json', 'Content-Length': body.length })), body]),
      };
    },
    TOO_LARGE,
  );
  add(
    g,
    '4 MiB chunked, no Content-Length (raw socket)',
    fam,
    (fx) => ({
      via: 'socket',
      bytes: Buffer.concat([
        Buffer.from(socketHead(fx, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' })),
        chunked(Buffer.from(sized(4 * MIB))),
      ]),
    }),
    TOO_LARGE,
  );
  add(
    g,
    '64 KiB + 1 chunked (raw socket)',
    fam,
    (fx) => ({
      via: 'socket',
      bytes: Buffer.concat([
        Buffer.from(socketHead(fx, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' })),
        chunked(Buffer.from(sized(LIMIT + 1)), 1_000),
      ]),
    }),
    TOO_LARGE,
  );
  add(
    g,
    'Content-Length of 100 GB, tiny body (raw socket)',
    fam,
    (fx) => ({ via: 'socket', bytes: `${socketHead(fx, { 'Content-Type': 'application/json', 'Content-Length': 100_000_000_000 })}{}` }),
    TOO_LARGE,
  );
  add(
    g,
    'Expect: 100-continue with 50 MB Content-Length (raw socket)',
    fam,
    (fx) => ({
      via: 'socket',
      bytes: socketHead(fx, { 'Content-Type': 'application/json', Expect: '100-continue', 'Content-Length': 50_000_000 }),
    }),
    TOO_LARGE,
  );
  add(
    g,
    'gzip bomb: 8 MiB of spaces, compressed',
    fam,
    (fx) => bodySend(ep, fx, { raw: gzipSync(Buffer.alloc(8 * MIB, 0x20)) }, { ...JSON_TYPE, 'content-encoding': 'gzip' }),
    TOO_LARGE,
  );

  // Content types and encodings.
  for (const [label, type] of WRONG_CONTENT_TYPES)
    add(g, `content type ${label}`, fam, (fx) => bodySend(ep, fx, { raw: plain() }, { 'content-type': type }), UNSUPPORTED);
  add(g, 'no Content-Type', fam, (fx) => bodySend(ep, fx, { raw: Buffer.from(plain()) }, undefined, true), UNSUPPORTED);
  add(
    g,
    'form body as form',
    fam,
    (fx) => bodySend(ep, fx, { raw: 'label=x&price_sats=1' }, { 'content-type': 'application/x-www-form-urlencoded' }),
    UNSUPPORTED,
  );
  add(
    g,
    'multipart body',
    fam,
    (fx) =>
      bodySend(
        ep,
        fx,
        { raw: '------x\r\nContent-Disposition: form-data; name="label"\r\n\r\nx\r\n------x--\r\n' },
        { 'content-type': 'multipart/form-data; boundary=----x' },
      ),
    UNSUPPORTED,
  );
  for (const encoding of WRONG_CONTENT_ENCODINGS)
    add(g, `Content-Encoding ${encoding}`, fam, (fx) => bodySend(ep, fx, { raw: plain() }, { ...JSON_TYPE, 'content-encoding': encoding }), UNSUPPORTED);
  // Supported encodings with bodies that are not what they claim: a bad body, not a server error.
  add(g, 'gzip header, plain JSON body', fam, (fx) => bodySend(ep, fx, { raw: Buffer.from(plain()) }, { ...JSON_TYPE, 'content-encoding': 'gzip' }), BAD_BODY);
  add(
    g,
    'deflate header, plain JSON body',
    fam,
    (fx) => bodySend(ep, fx, { raw: Buffer.from(plain()) }, { ...JSON_TYPE, 'content-encoding': 'deflate' }),
    BAD_BODY,
  );
  // Fixed bytes that are no brotli stream (one random 64-byte string in thirty decodes to nothing).
  add(g, 'br header, garbage body', fam, (fx) => bodySend(ep, fx, { raw: Buffer.alloc(64, 0xff) }, { ...JSON_TYPE, 'content-encoding': 'br' }), BAD_BODY);
  add(
    g,
    'truncated gzip stream',
    fam,
    (fx) => bodySend(ep, fx, { raw: gzipSync(plain()).subarray(0, 12) }, { ...JSON_TYPE, 'content-encoding': 'gzip' }),
    BAD_BODY,
  );
  add(g, 'gzip of invalid JSON', fam, (fx) => bodySend(ep, fx, { raw: gzipSync('{oops') }, { ...JSON_TYPE, 'content-encoding': 'gzip' }), INVALID_JSON);
  add(
    g,
    'deflate of a top-level string',
    fam,
    (fx) => bodySend(ep, fx, { raw: deflateSync('"x"') }, { ...JSON_TYPE, 'content-encoding': 'deflate' }),
    INVALID_JSON,
  );
}

// --- What a route's schema decides, on the machine-payments representative -------------------------

{
  const fam = MACHINES;
  const g = 'body schema (machines) POST /api/v1/assets';
  const ep = { method: fam.method, path: fam.path, token: fam.token as (fx: Fixture) => string };
  const valid = fam.valid();
  const withObject = (json: string) => `{"name":"Coffee machine","price_sats":1500,"metadata":${json}}`;
  add(g, 'top-level empty array', fam, (fx) => bodySend(ep, fx, { raw: '[]' }), BAD_BODY);
  add(g, 'valid body wrapped in an array', fam, (fx) => bodySend(ep, fx, { json: [valid] }), BAD_BODY);
  add(g, 'arrays nested 10,000 deep', fam, (fx) => bodySend(ep, fx, { raw: deepArray(10_000) }), BAD_BODY);
  add(g, 'objects nested 10,000 deep', fam, (fx) => bodySend(ep, fx, { raw: deepObject(10_000) }), BAD_BODY);
  add(g, '__proto__ key (prototype poisoning)', fam, (fx) => bodySend(ep, fx, { raw: withProto(valid) }), BAD_BODY);
  add(g, 'escaped __proto__ key', fam, (fx) => bodySend(ep, fx, { raw: `{"\\u005f_proto__":{"pwned_by_malformed_test":true}}` }), BAD_BODY);
  add(
    g,
    'constructor.prototype key',
    fam,
    (fx) => bodySend(ep, fx, { json: { ...valid, constructor: { prototype: { pwned_by_malformed_test: true } } } }),
    INVALID_BODY,
  );
  add(g, 'BOM then an unknown field', fam, (fx) => bodySend(ep, fx, { raw: `${BOM}${JSON.stringify({ ...valid, zz_unknown: 1 })}` }), BAD_BODY);
  add(
    g,
    'br of an unknown field',
    fam,
    (fx) => bodySend(ep, fx, { raw: brotliCompressSync(JSON.stringify({ ...valid, zz: 1 })) }, { ...JSON_TYPE, 'content-encoding': 'br' }),
    INVALID_BODY,
  );
  add(g, 'unknown field', fam, (fx) => bodySend(ep, fx, { json: { ...valid, admin: true } }), INVALID_BODY);
  add(g, 'unknown field user_id', fam, (fx) => bodySend(ep, fx, { json: { ...valid, user_id: 'u' } }), INVALID_BODY);
  add(g, 'unknown field null', fam, (fx) => bodySend(ep, fx, { json: { ...valid, extra: null } }), INVALID_BODY);
  add(g, 'empty object', fam, (fx) => bodySend(ep, fx, { raw: '{}' }), INVALID_BODY);
  add(g, 'BOM then empty object', fam, (fx) => bodySend(ep, fx, { raw: `${BOM}{}` }), BAD_BODY);
  add(g, 'empty body with JSON content type', fam, (fx) => bodySend(ep, fx, { raw: '' }), INVALID_BODY);
  add(g, 'free-form object nested 10,000 deep', fam, (fx) => bodySend(ep, fx, { raw: withObject(deepObject(10_000)) }), INVALID_BODY);
  add(g, 'free-form object holding arrays nested 20,000 deep', fam, (fx) => bodySend(ep, fx, { raw: withObject(`{"a":${deepArray(20_000)}}`) }), INVALID_BODY);
  add(
    g,
    'free-form object with nested __proto__',
    fam,
    (fx) => bodySend(ep, fx, { raw: withObject('{"list":[{"__proto__":{"pwned_by_malformed_test":true}}]}') }),
    BAD_BODY,
  );
}

// --- One wiring check per endpoint of the docs catalogue --------------------------------------------

/** The endpoint's path with its example ids, one of them replaced by `badParam` when given. */
function pathOf(e: Endpoint, badParam?: string): string {
  let path = e.path;
  const names = Object.keys(e.params ?? {});
  for (const name of names) path = path.replace(`{${name}}`, name === badParam ? '%00' : (e.params?.[name]?.example ?? UNKNOWN_ID));
  return path;
}

function wiring(e: Endpoint): void {
  const documented: readonly string[] = errorsOf(e);
  const method = e.method.toUpperCase();
  const id = `${method} ${e.path}`;
  const g = `wiring ${id}`;
  const token = (fx: Fixture): string | undefined => (e.auth === 'bearer' ? fx.key : e.auth === 'admin' ? ADMIN_TOKEN : undefined);
  const send = (fx: Fixture, over: Partial<Extract<Send, { via: 'fetch' }>> = {}): Send => {
    const s: Send = { via: 'fetch', method, path: pathOf(e), ...(e.body ? { json: e.body.example } : {}) };
    const tk = token(fx);
    if (tk !== undefined) s.token = tk;
    return { ...s, ...over } as Send;
  };
  if (e.body) add(g, 'bad JSON body: the body parser', MACHINES, (fx) => send(fx, { json: undefined, raw: '{oops' }), INVALID_JSON, documented);
  if (e.auth !== 'public') {
    add(
      g,
      'no token: the authenticator',
      MACHINES,
      (fx) => {
        const s = send(fx) as Extract<Send, { via: 'fetch' }>;
        delete s.token;
        return s;
      },
      { status: 401, codes: ['missing_token'] },
      documented,
    );
  }
  if (e.headers) {
    // A signed public endpoint: its signature is its authenticator, and nothing behind it is read unsigned.
    add(g, 'no signature: the signature check', MACHINES, (fx) => send(fx), { status: 401, codes: ['invalid_signature'] }, documented);
    return;
  }
  if (e.writes)
    add(g, 'read-only key: the scope check', MACHINES, (fx) => send(fx, { token: fx.readKey }), { status: 403, codes: ['insufficient_scope'] }, documented);
  if (e.plain) {
    // Documents take no input (and document no errors), but a body sent along still goes through the
    // family's parser like any request's (GET: over a raw socket).
    add(
      g,
      'bad JSON body: the body parser',
      MACHINES,
      () => ({ via: 'socket', bytes: `${rawHead(method, pathOf(e), { 'Content-Type': 'application/json', 'Content-Length': 5 })}{oops` }),
      INVALID_JSON,
      [...documented, 'invalid_json'],
    );
    return;
  }
  for (const name of Object.keys(e.params ?? {})) {
    add(g, `bad ${name} (%00): the path validation`, MACHINES, (fx) => send(fx, { path: pathOf(e, name) }), INVALID_BODY, documented);
  }
  add(
    g,
    'unknown query parameter: the query validation',
    MACHINES,
    (fx) => send(fx, { path: `${pathOf(e)}${e.query ? `?${new URLSearchParams(e.query.example as Record<string, string>).toString()}&` : '?'}zz_unknown=1` }),
    INVALID_BODY,
    documented,
  );
  if (e.body) {
    const example = e.body.example;
    // A strict schema refuses an unknown member; a loose one (the BTCPay webhook payload) goes on to its next check.
    const strict = !e.body.schema.safeParse({ ...example, zz_unknown: 1 }).success;
    add(
      g,
      'unknown body member: the body validation',
      MACHINES,
      (fx) => send(fx, { json: { ...example, zz_unknown: 1 } }),
      strict ? INVALID_BODY : { status: [400, 401, 403, 404, 409], codes: documented },
      documented,
    );
  }
}
for (const e of ENDPOINTS) wiring(e);

// ---------------------------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------------------------

function problemsOf(c: Case, outcome: Outcome | undefined): string[] {
  if (!outcome) return ['case was not run'];
  if (outcome.kind === 'timeout') return [`no answer within ${REQUEST_TIMEOUT_MS} ms (hang)`];
  if (outcome.kind === 'closed') return [`connection closed without an answer: ${outcome.detail}`];
  const { status, headers, text } = outcome.answer;
  const problems: string[] = [];
  if (status >= 500) problems.push(`server error ${status}`);
  else if (status < 400) problems.push(`not refused: ${status}`);
  const wanted = typeof c.expect.status === 'number' ? [c.expect.status] : c.expect.status;
  if (!wanted.includes(status)) problems.push(`status ${status}, expected ${wanted.join(' or ')}`);
  if (!(headers['content-type'] ?? '').includes('application/json'))
    return [...problems, `not the JSON error body (content-type ${headers['content-type'] ?? 'none'})`];
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [...problems, 'content-type says JSON but the body does not parse'];
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [...problems, 'error body is not an object'];
  problems.push(...c.family.shape(body as Record<string, unknown>, c.expect.codes));
  const code = (body as Record<string, unknown>)['error'];
  if (c.documented && !c.documented.includes(code as string)) problems.push(`code ${JSON.stringify(code)} is not among the endpoint's documented codes`);
  if (status === 401 && !headers['www-authenticate'] && !text.includes('"invalid_signature"')) problems.push('401 without WWW-Authenticate');
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The run: 8 at a time, one normal request per family racing and following every batch of 50
// ---------------------------------------------------------------------------------------------

let t: TestBridge;
let fx: Fixture;
const results = new Map<string, Outcome>();
const healthChecks: { when: string; family: string; ok: boolean }[] = [];

async function must(method: string, path: string, options: { json?: unknown; token?: string }, status: number): Promise<any> {
  const outcome = await sendFetch(t.url, { via: 'fetch', method, path, ...options });
  if (outcome.kind !== 'answer' || outcome.answer.status !== status) throw new Error(`fixture ${method} ${path}: ${describeOutcome(outcome)}`);
  return JSON.parse(outcome.answer.text);
}

async function healthCheck(when: string): Promise<void> {
  const probes: [string, string, string | undefined, (body: any) => boolean][] = [
    ['machines', '/api/v1/accounts/me', fx.key, (b) => typeof b.user_id === 'string'],
    ['lnurl', `/lnurl/pay/${fx.linkId}`, undefined, (b) => b.tag === 'payRequest'],
    ['x402', '/x402/health', undefined, (b) => b.status === 'healthy'],
    ['license', '/license/healthz', undefined, (b) => b.ok === true],
  ];
  await Promise.all(
    probes.map(async ([family, path, token, good]) => {
      const o = await sendFetch(t.url, { via: 'fetch', method: 'GET', path, ...(token === undefined ? {} : { token }) });
      let ok = false;
      try {
        ok = o.kind === 'answer' && o.answer.status === 200 && good(JSON.parse(o.answer.text));
      } catch {
        ok = false;
      }
      healthChecks.push({ when, family, ok });
    }),
  );
}

describe('malformed input once per family, and every endpoint wired to its parser, authenticator and validation', () => {
  beforeAll(async () => {
    const startedAt = Date.now();
    t = await startBridge({ RATE_LIMIT_PER_MINUTE: 0, SIGNUPS_PER_HOUR: 0, LNURL_CALLBACKS_PER_MINUTE: 0 });
    const signup = await must('POST', '/api/v1/accounts', { json: { label: 'families-malformed' } }, 201);
    const key = signup.api_key as string;
    const readKey = (await must('POST', '/api/v1/accounts/me/keys', { json: { scope: 'read' }, token: key }, 201)).api_key as string;
    const asset = await must('POST', '/api/v1/assets', { json: { name: 'Health', price_sats: 21 }, token: key }, 201);
    const link = await must('POST', `/api/v1/assets/${asset.asset_id}/payment-link`, { json: {}, token: key }, 201);
    fx = { key, readKey, linkId: link.link_id };
    await sendInBatches(CASES, fx, { url: t.url, httpPort: t.info.httpPort }, healthCheck, results);
    const failing = CASES.filter((c) => problemsOf(c, results.get(c.name)).length > 0).length;
    const wiring = CASES.filter((c) => c.documented).length;
    console.log(
      `malformed-families: ${CASES.length} cases (${wiring} wiring, ${ENDPOINTS.length} endpoints) in ${Date.now() - startedAt} ms; ${failing} failing; health checks ${healthChecks.filter((h) => h.ok).length}/${healthChecks.length}`,
    );
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('covers every family and every endpoint of the catalogue, with unique case names', () => {
    expect(NAMES.size).toBe(CASES.length);
    expect(new Set(CASES.map((c) => c.family.name))).toEqual(new Set(['machines', 'lnurl', 'x402', 'license']));
    const wired = new Set(CASES.filter((c) => c.documented).map((c) => c.group));
    expect(wired.size).toBe(ENDPOINTS.length);
  });

  it('keeps answering on every family before, during, after every 50 cases and at the end', async () => {
    await healthCheck('at the end');
    expect(healthChecks.filter((h) => !h.ok)).toEqual([]);
  });

  it('leaves Object.prototype unpolluted', () => {
    expect(Object.prototype).not.toHaveProperty('pwned_by_malformed_test');
  });

  for (const c of CASES.filter((x) => !x.documented)) {
    it(c.name, () => {
      const outcome = results.get(c.name);
      expect(problemsOf(c, outcome), describeOutcome(outcome)).toEqual([]);
    });
  }

  // One check per endpoint: all its wiring cases must hold.
  for (const group of new Set(CASES.filter((c) => c.documented).map((c) => c.group))) {
    it(group, () => {
      const failures = CASES.filter((c) => c.group === group).flatMap((c) => {
        const outcome = results.get(c.name);
        const problems = problemsOf(c, outcome);
        return problems.length === 0 ? [] : [`${c.name.slice(group.length + 2)}: ${problems.join('; ')} (${describeOutcome(outcome).slice(0, 200)})`];
      });
      expect(failures).toEqual([]);
    });
  }
});
