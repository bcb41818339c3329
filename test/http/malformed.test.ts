/**
 * Malformed requests against a real listening bridge. Every case must be refused with a 4xx carrying
 * the documented error body (`{error, message}`, plus `event_id` on 409) and one of the codes allowed
 * for that case; none may get a 5xx, hang, or take the server down. Between batches of cases (and
 * racing them) a normal request must keep answering 200.
 *
 * What is decided once for every endpoint runs once: the body parser's matrix (syntax, content
 * types, encodings, sizes, invalid UTF-8) and each endpoint's wiring to the parser, the
 * authenticator and validation are in `malformed-families.test.ts`; here the API key and session
 * token authenticator's matrix runs against one endpoint, the id validator's against one endpoint,
 * and what differs per endpoint (each body field's types and ranges, credentials and references in
 * bodies, query parameters, unknown ids, methods and paths) runs where it applies.
 *
 * Requests fetch cannot make (malformed HTTP, lying Content-Length, bodies on GET, truncated or
 * multi-MiB streams, non-ASCII header bytes) go over raw sockets. Node's own HTTP parser answers
 * some of those with a bare 400/413/431/417 before the app sees them: those need no JSON body.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSecrets } from '../../bridge/secrets.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import {
  b64url,
  bodySend,
  deepArray,
  describeOutcome,
  HEX64,
  type Outcome,
  rawHead,
  REQUEST_TIMEOUT_MS,
  type Send,
  sendFetch,
  sendInBatches,
  sized,
  UNKNOWN_ID,
  UNKNOWN_KEY,
} from '../helpers/http-probe.js';

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/** What the cases need from the running bridge: keys, ids and tokens made in `beforeAll`. */
interface Fixture {
  /** Full key of the main account (most authenticated cases). */
  key: string;
  userId: string;
  /** Read-only key of the main account. */
  readKey: string;
  /** The main account's asset, and one it created then deleted. */
  assetId: string;
  deletedAssetId: string;
  /** An event of the main account and its external_id (for 409). */
  eventId: string;
  externalId: string;
  /** Another account: its key, key id, asset and event. It has no webhook. */
  otherKey: string;
  otherKeyId: string;
  otherAssetId: string;
  otherEventId: string;
  /** An account whose only key is used to try revoking itself. */
  selfKey: string;
  selfKeyId: string;
  /** A live key only ever sent inside malformed Authorization headers. */
  probeKey: string;
  /** A key revoked by rotation, and a session token exchanged for it before. */
  revokedKey: string;
  revokedSession: string;
  /** A valid session token of the main account (to tamper with). */
  session: string;
  jwt: {
    otherSecret: string;
    expired: string;
    unknownKid: string;
    noKid: string;
    wrongAudience: string;
    wrongIssuer: string;
    hs512: string;
    keyOfOtherAccount: string;
    algNone: string;
    algNoneSigned: string;
    tamperedPayload: string;
  };
}

interface Expect {
  /** The status, one of several, or any 4xx. */
  status: number | readonly number[] | '4xx';
  /** Allowed `error` codes (default: any documented 4xx code). */
  codes?: readonly string[];
  /** For 405: methods the Allow header must list. */
  allow?: readonly string[];
  /** Node's HTTP parser may answer before the app: then no JSON body is required. */
  nodeMayAnswer?: boolean;
  /** The connection may be closed without an answer (only where Node itself does so). */
  closedOk?: boolean;
}

interface Case {
  name: string;
  group: string;
  send: (fx: Fixture) => Send;
  expect: Expect;
}

/** Every 4xx code the API documents (spec table) or uses (implementation extras). */
const DOCUMENTED_4XX = [
  'invalid_body',
  'invalid_json',
  'missing_token',
  'invalid_token',
  'invalid_key',
  'asset_not_owned',
  'insufficient_scope',
  'asset_not_found',
  'event_not_found',
  'key_not_found',
  'webhook_not_found',
  'not_found',
  'method_not_allowed',
  'duplicate_event',
  'rate_limited',
] as const;

const INVALID_JSON = { status: 400, codes: ['invalid_json'] } as const satisfies Expect;
const INVALID_BODY = { status: 400, codes: ['invalid_body'] } as const satisfies Expect;
const TOO_LARGE = { status: 413, codes: ['invalid_body'] } as const satisfies Expect;
const UNSUPPORTED = { status: 415, codes: ['invalid_body'] } as const satisfies Expect;
const MISSING_TOKEN = { status: 401, codes: ['missing_token'] } as const satisfies Expect;
const INVALID_TOKEN = { status: 401, codes: ['invalid_token'] } as const satisfies Expect;
const INVALID_KEY = { status: 401, codes: ['invalid_key'] } as const satisfies Expect;
const NOT_FOUND = { status: 404, codes: ['not_found'] } as const satisfies Expect;
const NODE_4XX = { status: '4xx', nodeMayAnswer: true } as const satisfies Expect;

const CASES: Case[] = [];
const NAMES = new Set<string>();
function add(group: string, name: string, send: (fx: Fixture) => Send, expectation: Expect): void {
  const full = `${group}: ${name}`;
  if (NAMES.has(full)) throw new Error(`duplicate case name ${full}`);
  NAMES.add(full);
  CASES.push({ name: full, group, send, expect: expectation });
}

const DISCARD_HOOK = 'http://127.0.0.1:9/hook';
const MIB = 1024 * 1024;

// --- Endpoints that take a body -----------------------------------------------------------------

interface BodyEndpoint {
  id: string;
  method: string;
  path: (fx: Fixture) => string;
  token?: (fx: Fixture) => string;
  /** A body this endpoint accepts. */
  valid: (fx: Fixture) => Record<string, unknown>;
}

const BODY_ENDPOINTS: BodyEndpoint[] = [
  {
    id: 'POST /api/v1/accounts',
    method: 'POST',
    path: () => '/api/v1/accounts',
    valid: () => ({ label: 'malformed-ok' }),
  },
  {
    id: 'POST /api/v1/auth/exchange',
    method: 'POST',
    path: () => '/api/v1/auth/exchange',
    valid: (fx) => ({ api_key: fx.key }),
  },
  {
    id: 'POST /api/v1/assets',
    method: 'POST',
    path: () => '/api/v1/assets',
    token: (fx) => fx.key,
    valid: () => ({ name: 'Coffee machine', price_sats: 1500 }),
  },
  {
    id: 'PATCH /api/v1/assets/{id}',
    method: 'PATCH',
    path: (fx) => `/api/v1/assets/${fx.assetId}`,
    token: (fx) => fx.key,
    valid: () => ({ price_sats: 1600 }),
  },
  {
    id: 'PUT /api/v1/assets/{id}',
    method: 'PUT',
    path: (fx) => `/api/v1/assets/${fx.assetId}`,
    token: (fx) => fx.key,
    valid: () => ({ name: 'Coffee machine', price_sats: 1500 }),
  },
  {
    id: 'POST /api/public/events',
    method: 'POST',
    path: () => '/api/public/events',
    token: (fx) => fx.key,
    valid: () => ({ type: 'custom' }),
  },
  {
    id: 'POST /api/v1/accounts/me/keys',
    method: 'POST',
    path: () => '/api/v1/accounts/me/keys',
    token: (fx) => fx.key,
    valid: () => ({ scope: 'read' }),
  },
  {
    id: 'PUT /api/v1/accounts/me/webhook',
    method: 'PUT',
    path: () => '/api/v1/accounts/me/webhook',
    token: (fx) => fx.key,
    valid: () => ({ url: DISCARD_HOOK }),
  },
];

// --- Wrong types, ranges and formats, field by field --------------------------------------------

type FieldCases = [field: string, values: [label: string, value: unknown][]][];

const STRING_TYPES: [string, unknown][] = [
  ['number', 42],
  ['float', 1.5],
  ['true', true],
  ['false', false],
  ['null', null],
  ['empty array', []],
  ['array of strings', ['x']],
  ['empty object', {}],
  ['object', { a: 1 }],
];
const controls = (max: number): [string, unknown][] => [
  ['empty string', ''],
  ['blank string', '   '],
  [`${max + 1} characters`, 'x'.repeat(max + 1)],
  ['5,000 characters', 'x'.repeat(5_000)],
  ['NUL', 'a\u0000b'],
  ['newline', 'a\nb'],
  ['carriage return', 'a\r\nb'],
  ['tab', 'a\tb'],
  ['escape', 'a\u001b[31mb'],
  ['DEL', 'a\u007fb'],
  ['bell', '\u0007ring'],
];
const INT_BAD: [string, unknown][] = [
  ['numeric string', '1500'],
  ['exponent string', '1e3'],
  ['float', 1.5],
  ['small float', 0.1],
  ['null', null],
  ['true', true],
  ['array', [1500]],
  ['object', { value: 1500 }],
  ['empty string', ''],
];
const OBJECT_BAD: [string, unknown][] = [
  ['array', []],
  ['array of objects', [{}]],
  ['string', 'x'],
  ['number', 1],
  ['true', true],
];

const FIELD_CASES: Record<string, FieldCases> = {
  'POST /api/v1/accounts': [
    ['label', [...STRING_TYPES, ...controls(64), ['missing', undefined]]],
    [
      'lightning_address',
      [
        ['number', 7],
        ['true', true],
        ['array', []],
        ['object', {}],
        ['no @', 'not-an-address'],
        ['no dot in domain', 'a@b'],
        ['empty local part', '@example.com'],
        ['empty domain', 'you@'],
        ['two @', 'you@@example.com'],
        ['space in domain', 'you@exa mple.com'],
        ['local part of 300 characters', `${'x'.repeat(300)}@example.com`],
        ['non-ASCII local part', 'yóu@example.com'],
        ['NUL', 'you@example.com\u0000'],
        ['URL', 'https://example.com/you'],
      ],
    ],
  ],
  'POST /api/v1/auth/exchange': [
    [
      'api_key',
      [
        ['number', 1],
        ['true', true],
        ['null', null],
        ['array', []],
        ['array holding the key', ['KEY']],
        ['object', {}],
        ['201 characters', 'x'.repeat(201)],
        ['missing', undefined],
      ],
    ],
  ],
  'POST /api/v1/assets': [
    ['name', [...STRING_TYPES.slice(0, 7), ...controls(100).slice(0, 6), ['missing', undefined]]],
    [
      'price_sats',
      [
        ...INT_BAD,
        ['zero', 0],
        ['negative', -1],
        ['large negative', -1500],
        ['above the maximum', 2_100_000_000_001],
        ['huge', 1e300],
        ['beyond 2^53', 2 ** 53 + 2],
        ['missing', undefined],
      ],
    ],
    ['duration_ms', [...INT_BAD, ['negative', -1], ['above a day', 86_400_001]]],
    ['metadata', [...OBJECT_BAD, ['null', null], ['over 4 KiB', { blob: 'x'.repeat(5_000) }]]],
  ],
  'PATCH /api/v1/assets/{id}': [
    [
      'name',
      [
        ['number', 1],
        ['null', null],
        ['object', {}],
        ['empty string', ''],
        ['101 characters', 'x'.repeat(101)],
        ['NUL', 'a\u0000b'],
      ],
    ],
    [
      'price_sats',
      [
        ['numeric string', '1600'],
        ['float', 1.5],
        ['zero', 0],
        ['negative', -5],
        ['above the maximum', 2_100_000_000_001],
        ['null', null],
      ],
    ],
    [
      'duration_ms',
      [
        ['float', 0.5],
        ['negative', -1],
        ['above a day', 86_400_001],
        ['string', '1000'],
      ],
    ],
    ['metadata', [...OBJECT_BAD, ['over 4 KiB', { blob: 'x'.repeat(5_000) }]]],
  ],
  'PUT /api/v1/assets/{id}': [
    [
      'name',
      [
        ['missing', undefined],
        ['number', 1],
        ['null', null],
        ['NUL', 'a\u0000b'],
      ],
    ],
    [
      'price_sats',
      [
        ['missing', undefined],
        ['numeric string', '1500'],
        ['float', 10.25],
        ['zero', 0],
        ['negative', -1],
      ],
    ],
    [
      'metadata',
      [
        ['array', []],
        ['string', 'x'],
      ],
    ],
  ],
  'POST /api/public/events': [
    [
      'type',
      [
        ['unknown type', 'bogus'],
        ['upper case', 'PAID'],
        ['trailing space', 'paid '],
        ['empty string', ''],
        ['null', null],
        ['number', 1],
        ['true', true],
        ['array', ['paid']],
        ['object', {}],
        ['missing', undefined],
      ],
    ],
    ['data', [...OBJECT_BAD, ['over 16 KiB', { blob: 'x'.repeat(17_000) }]]],
    [
      'asset_id',
      [
        ['number', 1],
        ['true', true],
        ['object', {}],
        ['array', []],
        ['65 characters', 'x'.repeat(65)],
      ],
    ],
    [
      'external_id',
      [
        ['empty string', ''],
        ['blank', '  '],
        ['number', 1],
        ['object', {}],
        ['array', []],
        ['129 characters', 'x'.repeat(129)],
        ['NUL', 'a\u0000b'],
        ['newline', 'a\nb'],
      ],
    ],
  ],
  'POST /api/v1/accounts/me/keys': [
    [
      'scope',
      [
        ['unknown scope', 'admin'],
        ['write', 'write'],
        ['upper case', 'READ'],
        ['empty string', ''],
        ['null', null],
        ['number', 1],
        ['array', ['read']],
        ['object', {}],
      ],
    ],
    [
      'label',
      [
        ['empty string', ''],
        ['number', 1],
        ['true', true],
        ['array', []],
        ['object', {}],
        ['65 characters', 'x'.repeat(65)],
        ['NUL', 'a\u0000b'],
        ['escape', '\u001b[2J'],
      ],
    ],
  ],
  'PUT /api/v1/accounts/me/webhook': [
    [
      'url',
      [
        ['number', 1],
        ['null', null],
        ['true', true],
        ['array', []],
        ['object', {}],
        ['empty string', ''],
        ['not a URL', 'not a url'],
        ['ftp URL', 'ftp://example.com/hook'],
        ['javascript URL', 'javascript:alert(1)'],
        ['file URL', 'file:///etc/passwd'],
        ['URL with credentials', 'https://user:pw@example.com/hook'],
        ['relative path', '/relative/hook'],
        ['2,100 characters', `https://example.com/${'a'.repeat(2_100)}`],
        ['missing', undefined],
      ],
    ],
    [
      'events',
      [
        ['string', 'paid'],
        ['unknown type', ['bogus']],
        ['number in array', [1]],
        ['null in array', [null]],
        ['object', {}],
        ['five entries', ['paid', 'paid', 'paid', 'paid', 'paid']],
        ['nested array', [['paid']]],
      ],
    ],
  ],
};

for (const ep of BODY_ENDPOINTS) {
  for (const [field, values] of FIELD_CASES[ep.id] ?? []) {
    for (const [label, value] of values) {
      add(
        `wrong type ${ep.id}`,
        `${field} ${label}`,
        (fx) => {
          const body: Record<string, unknown> = ep.id === 'PATCH /api/v1/assets/{id}' ? {} : { ...ep.valid(fx) };
          if (value === undefined) delete body[field];
          else body[field] = Array.isArray(value) && value[0] === 'KEY' ? [fx.key] : value;
          return bodySend(ep, fx, { json: body });
        },
        INVALID_BODY,
      );
    }
  }
}

// Numbers only expressible as raw JSON text.
const assetsEp = BODY_ENDPOINTS[2] as BodyEndpoint;
add('wrong type POST /api/v1/assets', 'price_sats 1e400 (Infinity)', (fx) => bodySend(assetsEp, fx, { raw: '{"name":"x","price_sats":1e400}' }), INVALID_BODY);
add('wrong type POST /api/v1/assets', 'price_sats -0.0000001', (fx) => bodySend(assetsEp, fx, { raw: '{"name":"x","price_sats":-1e-7}' }), INVALID_BODY);
add(
  'wrong type POST /api/v1/assets',
  'duplicate key, last one a string',
  (fx) => bodySend(assetsEp, fx, { raw: '{"name":"x","price_sats":1,"price_sats":"2"}' }),
  INVALID_BODY,
);
add(
  'wrong type POST /api/v1/assets',
  'metadata 3,000 levels deep (over 4 KiB)',
  (fx) => bodySend(assetsEp, fx, { raw: `{"name":"x","price_sats":1,"metadata":{"a":${deepArray(3_000)}}}` }),
  INVALID_BODY,
);

// --- Body fields that are credentials or references ----------------------------------------------

const exchangeEp = BODY_ENDPOINTS[1] as BodyEndpoint;
const eventsEp = BODY_ENDPOINTS[5] as BodyEndpoint;
/** A malformed api_key in the exchange body: 401 invalid_token (the key is malformed) or 400. */
const MALFORMED_CREDENTIAL = { status: [400, 401], codes: ['invalid_body', 'invalid_token'] } as const satisfies Expect;
const badExchangeKeys: [string, (fx: Fixture) => string][] = [
  ['empty string', () => ''],
  ['lib_short', () => 'lib_short'],
  ['non-hex key', () => `lib_${'g'.repeat(64)}`],
  ['63 hex digits', () => `lib_${HEX64.slice(1)}`],
  ['65 hex digits', () => `lib_${HEX64}a`],
  ['upper-case hex', (fx) => `lib_${fx.key.slice(4).toUpperCase()}`],
  ['upper-case prefix', (fx) => `LIB_${fx.key.slice(4)}`],
  ['Bearer-prefixed key', (fx) => `Bearer ${fx.key}`],
  ['key with trailing space', (fx) => `${fx.key} `],
  ['key with trailing NUL', (fx) => `${fx.key}\u0000`],
  ['a session token', (fx) => fx.session],
];
for (const [label, make] of badExchangeKeys) {
  add('credentials in body', `exchange api_key ${label}`, (fx) => bodySend(exchangeEp, fx, { json: { api_key: make(fx) } }), MALFORMED_CREDENTIAL);
}
add('credentials in body', 'exchange api_key unknown', (fx) => bodySend(exchangeEp, fx, { json: { api_key: UNKNOWN_KEY } }), INVALID_KEY);
add('credentials in body', 'exchange api_key revoked', (fx) => bodySend(exchangeEp, fx, { json: { api_key: fx.revokedKey } }), INVALID_KEY);

add('references in body', 'event for an unknown asset', (fx) => bodySend(eventsEp, fx, { json: { type: 'paid', asset_id: UNKNOWN_ID } }), {
  status: 404,
  codes: ['asset_not_found'],
});
add('references in body', 'event for a deleted asset', (fx) => bodySend(eventsEp, fx, { json: { type: 'paid', asset_id: fx.deletedAssetId } }), {
  status: 404,
  codes: ['asset_not_found'],
});
add('references in body', 'event for __proto__ asset', (fx) => bodySend(eventsEp, fx, { json: { type: 'paid', asset_id: '__proto__' } }), {
  status: 404,
  codes: ['asset_not_found'],
});
add('references in body', 'event for constructor asset', (fx) => bodySend(eventsEp, fx, { json: { type: 'paid', asset_id: 'constructor' } }), {
  status: 404,
  codes: ['asset_not_found'],
});
add('references in body', "event for another account's asset", (fx) => bodySend(eventsEp, fx, { json: { type: 'paid', asset_id: fx.otherAssetId } }), {
  status: 403,
  codes: ['asset_not_owned'],
});
add('references in body', 'event with an existing external_id', (fx) => bodySend(eventsEp, fx, { json: { type: 'custom', external_id: fx.externalId } }), {
  status: 409,
  codes: ['duplicate_event'],
});
add(
  'references in body',
  'event with an existing external_id and another type',
  (fx) => bodySend(eventsEp, fx, { json: { type: 'paid', external_id: fx.externalId, data: { n: 2 } } }),
  { status: 409, codes: ['duplicate_event'] },
);

// --- The API key and session token authenticator, once ------------------------------------------
// Every bearer endpoint goes through the same authenticator (`authenticate` in the REST kit): its
// whole matrix runs against one endpoint; malformed-families.test.ts checks every endpoint of the
// catalogue is behind it (no token: 401 missing_token; a read-only key on a write: 403).

const AUTHED = { method: 'GET', path: '/api/v1/accounts/me' };

/** Authorization header values (undefined: no header) and the expected answer. */
const AUTH_VARIANTS: [string, (fx: Fixture) => string | undefined, Expect][] = [
  ['no Authorization header', () => undefined, MISSING_TOKEN],
  ['empty Authorization header', () => '', MISSING_TOKEN],
  ['blank Authorization header', () => '   ', { status: 401, codes: ['missing_token', 'invalid_token'] }],
  ['Bearer alone', () => 'Bearer', INVALID_TOKEN],
  ['Bearer and tabs', () => 'Bearer\t\t', INVALID_TOKEN],
  ['Basic credentials', () => `Basic ${Buffer.from('user:pass').toString('base64')}`, INVALID_TOKEN],
  ['Basic with a live key', (fx) => `Basic ${fx.probeKey}`, INVALID_TOKEN],
  ['Token scheme with a live key', (fx) => `Token ${fx.probeKey}`, INVALID_TOKEN],
  ['Bearer Bearer key', (fx) => `Bearer Bearer ${fx.probeKey}`, INVALID_TOKEN],
  ['key then Bearer', (fx) => `${fx.probeKey} Bearer`, INVALID_TOKEN],
  ['two keys', (fx) => `Bearer ${fx.probeKey} ${fx.probeKey}`, INVALID_TOKEN],
  ['several spaces and tabs around garbage', (fx) => `Bearer  \t ${fx.probeKey} \t x`, INVALID_TOKEN],
  ['key with trailing comma', (fx) => `Bearer ${fx.probeKey},`, INVALID_TOKEN],
  ['quoted key', (fx) => `Bearer "${fx.probeKey}"`, INVALID_TOKEN],
  ['Bearer lib_short', () => 'Bearer lib_short', INVALID_TOKEN],
  ['Bearer lib_ alone', () => 'Bearer lib_', INVALID_TOKEN],
  ['non-hex key', () => `Bearer lib_${'z'.repeat(64)}`, INVALID_TOKEN],
  ['63 hex digits', () => `Bearer lib_${HEX64.slice(1)}`, INVALID_TOKEN],
  ['65 hex digits', () => `Bearer lib_${HEX64}0`, INVALID_TOKEN],
  ['upper-case hex', (fx) => `Bearer lib_${fx.probeKey.slice(4).toUpperCase()}`, INVALID_TOKEN],
  ['upper-case prefix', (fx) => `Bearer LIB_${fx.probeKey.slice(4)}`, INVALID_TOKEN],
  ['key without prefix', (fx) => `Bearer ${fx.probeKey.slice(4)}`, INVALID_TOKEN],
  ['8 KiB token', () => `Bearer lib_${'a'.repeat(8_192)}`, INVALID_TOKEN],
  ['garbage three-part token', () => 'Bearer abc.def.ghi', INVALID_TOKEN],
  ['three-part token with JSON header', () => `Bearer ${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({})}.AAAA`, INVALID_TOKEN],
  ['four-part token', () => 'Bearer a.b.c.d', INVALID_TOKEN],
  ['two-part token', () => 'Bearer a.b', INVALID_TOKEN],
  ['JWT signed with another secret', (fx) => `Bearer ${fx.jwt.otherSecret}`, INVALID_TOKEN],
  ['alg none, empty signature', (fx) => `Bearer ${fx.jwt.algNone}`, INVALID_TOKEN],
  ['alg none with a signature', (fx) => `Bearer ${fx.jwt.algNoneSigned}`, INVALID_TOKEN],
  ['expired session token', (fx) => `Bearer ${fx.jwt.expired}`, INVALID_TOKEN],
  ['session token for an unknown key', (fx) => `Bearer ${fx.jwt.unknownKid}`, INVALID_TOKEN],
  ['session token without kid', (fx) => `Bearer ${fx.jwt.noKid}`, INVALID_TOKEN],
  ["session token naming another account's key", (fx) => `Bearer ${fx.jwt.keyOfOtherAccount}`, INVALID_TOKEN],
  ['session token for another audience', (fx) => `Bearer ${fx.jwt.wrongAudience}`, INVALID_TOKEN],
  ['session token from another issuer', (fx) => `Bearer ${fx.jwt.wrongIssuer}`, INVALID_TOKEN],
  ['HS512 session token', (fx) => `Bearer ${fx.jwt.hs512}`, INVALID_TOKEN],
  ['session token with a swapped payload', (fx) => `Bearer ${fx.jwt.tamperedPayload}`, INVALID_TOKEN],
  ['session token with a truncated signature', (fx) => `Bearer ${fx.session.slice(0, -4)}`, INVALID_TOKEN],
  ['session token of a revoked key', (fx) => `Bearer ${fx.revokedSession}`, INVALID_TOKEN],
  ['well-formed unknown key', () => `Bearer ${UNKNOWN_KEY}`, INVALID_KEY],
  ['bare unknown key', () => UNKNOWN_KEY, INVALID_KEY],
  ['revoked key', (fx) => `Bearer ${fx.revokedKey}`, INVALID_KEY],
  ['the admin token', () => `Bearer ${ADMIN_TOKEN}`, INVALID_TOKEN],
];

{
  const g = `auth ${AUTHED.method} ${AUTHED.path}`;
  for (const [label, header, expectation] of AUTH_VARIANTS) {
    add(
      g,
      label,
      (fx) => {
        const value = header(fx);
        return { via: 'fetch', method: AUTHED.method, path: AUTHED.path, headers: value === undefined ? {} : { authorization: value } };
      },
      expectation,
    );
  }
  // Bytes fetch refuses to put in a header: UTF-8 and Latin-1 non-ASCII, sent over a raw socket.
  add(
    g,
    'unicode key (raw UTF-8 bytes)',
    () => ({
      via: 'socket',
      bytes: Buffer.from(rawHead(AUTHED.method, AUTHED.path, { Authorization: 'Bearer lib_ü€😀'.padEnd(40, 'é') }), 'utf8'),
    }),
    INVALID_TOKEN,
  );
  add(
    g,
    'Latin-1 byte in key',
    (fx) => ({
      via: 'socket',
      bytes: Buffer.from(rawHead(AUTHED.method, AUTHED.path, { Authorization: `Bearer ${fx.probeKey.slice(0, -1)}\u00e9` }), 'latin1'),
    }),
    INVALID_TOKEN,
  );
  // A write, with a body the parser accepts: the token is judged all the same.
  add(
    'auth POST /api/v1/assets',
    'session token of a revoked key, valid body',
    (fx) => ({ via: 'fetch', method: 'POST', path: '/api/v1/assets', token: fx.revokedSession, json: { name: 'x', price_sats: 1 } }),
    INVALID_TOKEN,
  );
  add(
    'auth POST /api/v1/assets',
    'JWT signed with another secret, valid body',
    (fx) => ({ via: 'fetch', method: 'POST', path: '/api/v1/assets', token: fx.jwt.otherSecret, json: { name: 'x', price_sats: 1 } }),
    INVALID_TOKEN,
  );
}

// --- Read-only keys writing (insufficient_scope): every write endpoint is in the wiring checks ----

const SCOPE = { status: 403, codes: ['insufficient_scope'] } as const satisfies Expect;
const readWrites: [string, string, (fx: Fixture) => string, unknown?][] = [
  ['create asset', 'POST', () => '/api/v1/assets', { name: 'x', price_sats: 1 }],
  ['create a full key (escalation)', 'POST', () => '/api/v1/accounts/me/keys', { scope: 'full' }],
];

// --- Query strings -------------------------------------------------------------------------------

const badEventQueries: [string, string][] = [
  ['unknown param', 'foo=1'],
  ['unknown param with empty value', 'foo='],
  ['unknown flag', 'debug'],
  ['repeated limit', 'limit=1&limit=2'],
  ['repeated type', 'type=paid&type=action'],
  ['repeated cursor', 'cursor=czE&cursor=czI'],
  ['limit=0', 'limit=0'],
  ['limit=-1', 'limit=-1'],
  ['limit=abc', 'limit=abc'],
  ['limit=100000', 'limit=100000'],
  ['limit=201', 'limit=201'],
  ['limit=1.5', 'limit=1.5'],
  ['limit=1e2', 'limit=1e2'],
  ['limit empty', 'limit='],
  ['limit with spaces', 'limit=%2010%20'],
  ['limit of 400 digits', `limit=${'9'.repeat(400)}`],
  ['limit bad percent-encoding', 'limit=%ZZ'],
  ['limit as array syntax', 'limit[]=5'],
  ['limit as object syntax', 'limit[a]=5'],
  ['LIMIT upper case', 'LIMIT=5'],
  ['since=yesterday', 'since=yesterday'],
  ['since month 13', 'since=2025-13-45T00:00:00Z'],
  ['since epoch seconds', 'since=1700000000'],
  ['since date only', 'since=2025-01-31'],
  ['since empty', 'since='],
  ['type=bogus', 'type=bogus'],
  ['type upper case', 'type=PAID'],
  ['type empty', 'type='],
  ['type with NUL', 'type=paid%00'],
  ['type invalid UTF-8', 'type=%FF'],
  ['asset_id of 65 characters', `asset_id=${'a'.repeat(65)}`],
  ['cursor of random base64', `cursor=${Buffer.from('hello world').toString('base64url')}`],
  ['cursor random bytes', `cursor=${Buffer.from([0x01, 0x02, 0xff, 0xfe, 0x80]).toString('base64url')}`],
  ['cursor=%00', 'cursor=%00'],
  ['cursor empty', 'cursor='],
  ['cursor of 65 characters', `cursor=${'A'.repeat(65)}`],
  ['cursor s0', `cursor=${Buffer.from('s0').toString('base64url')}`],
  ['cursor s-1', `cursor=${Buffer.from('s-1').toString('base64url')}`],
  ['cursor s1e5', `cursor=${Buffer.from('s1e5').toString('base64url')}`],
  ['cursor of 17 digits', `cursor=${Buffer.from(`s${'9'.repeat(17)}`).toString('base64url')}`],
  ['cursor with a newline', `cursor=${Buffer.from('s1\n').toString('base64url')}`],
  ['cursor JSON', `cursor=${Buffer.from('{"seq":1}').toString('base64url')}`],
  ['cursor SQL', "cursor='%20OR%201=1--"],
  ['__proto__ param', '__proto__=x'],
  ['__proto__ object param', '__proto__[limit]=1'],
  ['constructor param', 'constructor=x'],
  ['toString param', 'toString=1'],
  ['1,200 unknown params', Array.from({ length: 1_200 }, (_, i) => `p${i}=1`).join('&')],
];
for (const [label, query] of badEventQueries) {
  add('query GET /api/public/events', label, (fx) => ({ via: 'fetch', method: 'GET', path: `/api/public/events?${query}`, token: fx.key }), INVALID_BODY);
}
const badDeliveryQueries: [string, string][] = [
  ['unknown param', 'foo=1'],
  ['type is not a deliveries param', 'type=paid'],
  ['status=bogus', 'status=bogus'],
  ['status upper case', 'status=DELIVERED'],
  ['repeated status', 'status=failed&status=pending'],
  ['limit=0', 'limit=0'],
  ['limit=-1', 'limit=-1'],
  ['limit=abc', 'limit=abc'],
  ['limit=100000', 'limit=100000'],
  ['limit=2.5', 'limit=2.5'],
  ['cursor of random base64', `cursor=${Buffer.from('not a cursor').toString('base64url')}`],
  ['cursor=%00', 'cursor=%00'],
  ['cursor s0', `cursor=${Buffer.from('s0').toString('base64url')}`],
  ['since is not a deliveries param', 'since=2025-01-31T12:00:00Z'],
  ['__proto__ param', '__proto__=x'],
];
for (const [label, query] of badDeliveryQueries) {
  add(
    'query GET /api/v1/accounts/me/webhook/deliveries',
    label,
    (fx) => ({ via: 'fetch', method: 'GET', path: `/api/v1/accounts/me/webhook/deliveries?${query}`, token: fx.key }),
    INVALID_BODY,
  );
}
// Endpoints that take no query: malformed-families.test.ts sends each an unknown parameter.

// --- Path ids ------------------------------------------------------------------------------------

interface IdEndpoint {
  label: string;
  method: string;
  path: (id: string) => string;
  body?: unknown;
  notFound: string;
}
const ID_ENDPOINTS: IdEndpoint[] = [
  { label: 'GET /api/v1/assets/{id}', method: 'GET', path: (id) => `/api/v1/assets/${id}`, notFound: 'asset_not_found' },
  { label: 'PATCH /api/v1/assets/{id}', method: 'PATCH', path: (id) => `/api/v1/assets/${id}`, body: { price_sats: 7 }, notFound: 'asset_not_found' },
  { label: 'PUT /api/v1/assets/{id}', method: 'PUT', path: (id) => `/api/v1/assets/${id}`, body: { name: 'x', price_sats: 7 }, notFound: 'asset_not_found' },
  { label: 'DELETE /api/v1/assets/{id}', method: 'DELETE', path: (id) => `/api/v1/assets/${id}`, notFound: 'asset_not_found' },
  { label: 'GET /api/public/events/{id}', method: 'GET', path: (id) => `/api/public/events/${id}`, notFound: 'event_not_found' },
  { label: 'DELETE /api/v1/accounts/me/keys/{id}', method: 'DELETE', path: (id) => `/api/v1/accounts/me/keys/${id}`, notFound: 'key_not_found' },
];
const BAD_IDS: [string, string][] = [
  ['NUL (%00)', '%00'],
  ['65 characters', 'a'.repeat(65)],
  ['4,000 characters', 'a'.repeat(4_000)],
  ['..%2F..%2Fetc%2Fpasswd', '..%2F..%2Fetc%2Fpasswd'],
  ['encoded slash', 'a%2Fb'],
  ['unicode (été)', '%C3%A9t%C3%A9'],
  ['emoji', '%F0%9F%98%80'],
  ['invalid percent-encoding %ZZ', '%ZZ'],
  ['truncated percent-encoding', '%E0%A4%A'],
  ['invalid UTF-8 %FF', '%FF'],
  ['encoded space', '%20'],
  ['dot', 'a.b'],
  ['semicolon', 'a%3Bb'],
  ['SQL', "'%20OR%201=1--"],
  ['CRLF', '%0d%0aSet-Cookie:%20x=1'],
  ['tilde', '~root'],
];
const UNKNOWN_IDS: [string, string][] = [
  ['unknown id', UNKNOWN_ID],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['toString', 'toString'],
  ['64 characters', 'a'.repeat(64)],
];
for (const ep of ID_ENDPOINTS) {
  const g = `path id ${ep.label}`;
  const send = (fx: Fixture, id: string, token = fx.key): Send => {
    const s: Send = { via: 'fetch', method: ep.method, path: ep.path(id), token };
    if (ep.body !== undefined) s.json = ep.body;
    return s;
  };
  // Ids are checked by one shared validator: its matrix runs on the first endpoint (each endpoint's
  // wiring check in malformed-families.test.ts sends it one bad id).
  if (ep === ID_ENDPOINTS[0]) {
    for (const [label, id] of BAD_IDS) add(g, label, (fx) => send(fx, id), INVALID_BODY);
    add(
      g,
      '%2e%2e (raw socket)',
      (fx) => ({ via: 'socket', bytes: rawHead(ep.method, ep.path('%2e%2e'), { Authorization: `Bearer ${fx.key}` }) }),
      INVALID_BODY,
    );
  }
  for (const [label, id] of UNKNOWN_IDS) add(g, label, (fx) => send(fx, id), { status: 404, codes: [ep.notFound] });
}
for (const ep of ID_ENDPOINTS.slice(0, 4)) {
  const g = `path id ${ep.label}`;
  add(
    g,
    'deleted asset',
    (fx) => ({ via: 'fetch', method: ep.method, path: ep.path(fx.deletedAssetId), token: fx.key, ...(ep.body === undefined ? {} : { json: ep.body }) }),
    { status: 404, codes: ['asset_not_found'] },
  );
}
add(
  'path id GET /api/public/events/{id}',
  "another account's event",
  (fx) => ({ via: 'fetch', method: 'GET', path: `/api/public/events/${fx.otherEventId}`, token: fx.key }),
  { status: 404, codes: ['event_not_found'] },
);
add(
  'path id DELETE /api/v1/accounts/me/keys/{id}',
  "another account's key",
  (fx) => ({ via: 'fetch', method: 'DELETE', path: `/api/v1/accounts/me/keys/${fx.otherKeyId}`, token: fx.key }),
  { status: 404, codes: ['key_not_found'] },
);
add(
  'path id DELETE /api/v1/accounts/me/keys/{id}',
  'the calling key itself',
  (fx) => ({ via: 'fetch', method: 'DELETE', path: `/api/v1/accounts/me/keys/${fx.selfKeyId}`, token: fx.selfKey }),
  INVALID_BODY,
);
add('not found', 'GET webhook that is not set', (fx) => ({ via: 'fetch', method: 'GET', path: '/api/v1/accounts/me/webhook', token: fx.otherKey }), {
  status: 404,
  codes: ['webhook_not_found'],
});
add('not found', 'DELETE webhook that is not set', (fx) => ({ via: 'fetch', method: 'DELETE', path: '/api/v1/accounts/me/webhook', token: fx.otherKey }), {
  status: 404,
  codes: ['webhook_not_found'],
});

// --- Wrong methods and unknown paths -----------------------------------------------------------

const WRONG_METHODS: [string, string, readonly string[]][] = [
  ['GET', '/api/v1/accounts', ['POST']],
  ['PUT', '/api/v1/accounts', ['POST']],
  ['PATCH', '/api/v1/accounts', ['POST']],
  ['DELETE', '/api/v1/accounts', ['POST']],
  ['GET', '/api/v1/auth/exchange', ['POST']],
  ['DELETE', '/api/v1/auth/exchange', ['POST']],
  ['POST', '/api/v1/accounts/me', ['GET']],
  ['PUT', '/api/v1/accounts/me', ['GET']],
  ['PATCH', '/api/v1/accounts/me', ['GET']],
  ['DELETE', '/api/v1/accounts/me', ['GET']],
  ['GET', '/api/v1/accounts/me/rotate-key', ['POST']],
  ['PUT', '/api/v1/accounts/me/rotate-key', ['POST']],
  ['PUT', '/api/v1/accounts/me/keys', ['GET', 'POST']],
  ['PATCH', '/api/v1/accounts/me/keys', ['GET', 'POST']],
  ['DELETE', '/api/v1/accounts/me/keys', ['GET', 'POST']],
  ['GET', '/api/v1/accounts/me/keys/abc', ['DELETE']],
  ['POST', '/api/v1/accounts/me/keys/abc', ['DELETE']],
  ['PATCH', '/api/v1/accounts/me/keys/abc', ['DELETE']],
  ['PUT', '/api/v1/assets', ['GET', 'POST']],
  ['PATCH', '/api/v1/assets', ['GET', 'POST']],
  ['DELETE', '/api/v1/assets', ['GET', 'POST']],
  ['POST', '/api/v1/assets/abc', ['GET', 'PATCH', 'PUT', 'DELETE']],
  ['PUT', '/api/public/events', ['GET', 'POST']],
  ['PATCH', '/api/public/events', ['GET', 'POST']],
  ['DELETE', '/api/public/events', ['GET', 'POST']],
  ['POST', '/api/public/events/abc', ['GET']],
  ['PUT', '/api/public/events/abc', ['GET']],
  ['PATCH', '/api/public/events/abc', ['GET']],
  ['DELETE', '/api/public/events/abc', ['GET']],
  ['POST', '/api/v1/accounts/me/webhook', ['GET', 'PUT', 'DELETE']],
  ['PATCH', '/api/v1/accounts/me/webhook', ['GET', 'PUT', 'DELETE']],
  ['POST', '/api/v1/accounts/me/webhook/deliveries', ['GET']],
  ['DELETE', '/api/v1/accounts/me/webhook/deliveries', ['GET']],
  ['POST', '/api/public/webhooks/public-key', ['GET']],
  ['DELETE', '/api/public/webhooks/public-key', ['GET']],
  ['POST', '/healthz', ['GET']],
  ['PROPFIND', '/api/v1/accounts/me', ['GET']],
  ['MKCOL', '/api/v1/assets', ['GET', 'POST']],
  ['LOCK', '/api/public/events', ['GET', 'POST']],
  ['PURGE', '/api/v1/accounts', ['POST']],
];
for (const [method, path, allow] of WRONG_METHODS) {
  add('wrong method', `${method} ${path}`, (fx) => ({ via: 'fetch', method, path, token: fx.key }), { status: 405, codes: ['method_not_allowed'], allow });
}
add('wrong method', 'DELETE /api/v1/accounts without auth', () => ({ via: 'fetch', method: 'DELETE', path: '/api/v1/accounts' }), {
  status: 405,
  codes: ['method_not_allowed'],
  allow: ['POST'],
});
add(
  'wrong method',
  'PUT /api/v1/assets with a JSON body',
  (fx) => ({ via: 'fetch', method: 'PUT', path: '/api/v1/assets', token: fx.key, json: { name: 'x', price_sats: 1 } }),
  { status: 405, codes: ['method_not_allowed'], allow: ['GET', 'POST'] },
);
add('wrong method', 'TRACE /api/v1/accounts/me (raw socket)', () => ({ via: 'socket', bytes: rawHead('TRACE', '/api/v1/accounts/me', {}) }), {
  status: 405,
  codes: ['method_not_allowed'],
  allow: ['GET'],
});
add('wrong method', 'PROPFIND on an unknown path', () => ({ via: 'fetch', method: 'PROPFIND', path: '/api/v1/nope' }), {
  status: [404, 405],
  codes: ['not_found', 'method_not_allowed'],
});

const UNKNOWN_PATHS: [string, string][] = [
  ['GET', '/'],
  ['GET', '/api'],
  ['GET', '/api/v1'],
  ['GET', '/api/v2/accounts'],
  ['GET', '/api/v1/nope'],
  ['POST', '/api/v1/nope'],
  ['DELETE', '/api/v1/nope'],
  ['GET', '/api/v1/accounts/me/nope'],
  ['GET', '/api/v1/accounts/me/keys/abc/def'],
  ['GET', '/api/v1/assets/abc/def'],
  ['GET', '/api/public'],
  ['GET', '/api/public/events/abc/def'],
  ['GET', '//api/v1/accounts/me'],
  ['GET', '/api/v1/accounts%2Fme'],
  ['GET', '/api/v1/accounts/me;jsessionid=1'],
  ['GET', '/.env'],
  ['GET', '/favicon.ico'],
  ['GET', '/%00'],
  ['GET', '/api/v1/%ZZ'],
  ['GET', `/api/v1/${'x'.repeat(5_000)}`],
  ['POST', '/api/v1/accounts/me/webhook/deliveries/abc'],
];
for (const [method, path] of UNKNOWN_PATHS) {
  add(
    'unknown path',
    `${method} ${path.length > 60 ? `${path.slice(0, 20)}…(${path.length} chars)` : path}`,
    (fx) => ({ via: 'fetch', method, path, token: fx.key }),
    NOT_FOUND,
  );
}
add('unknown path', 'GET * (raw socket)', () => ({ via: 'socket', bytes: rawHead('GET', '*', {}) }), NOT_FOUND);
add(
  'unknown path',
  'absolute-form target to another host (raw socket)',
  () => ({ via: 'socket', bytes: rawHead('GET', 'http://evil.example/api/v1/nope', {}) }),
  NOT_FOUND,
);

// --- Malformed HTTP over raw sockets -------------------------------------------------------------

const ME = '/api/v1/accounts/me';
const H = 'Host: 127.0.0.1\r\nConnection: close\r\n';
const JSON_POST = `POST /api/v1/accounts HTTP/1.1\r\n${H}Content-Type: application/json\r\n`;
const RAW: [string, (fx: Fixture) => Send, Expect][] = [
  ['garbage request line', () => ({ via: 'socket', bytes: 'HELLO\r\n\r\n' }), NODE_4XX],
  [
    'TLS ClientHello on the plain port',
    () => ({ via: 'socket', bytes: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0, 0, 0, 0]) }),
    NODE_4XX,
  ],
  ['HTTP/9.9', () => ({ via: 'socket', bytes: `GET ${ME} HTTP/9.9\r\n${H}\r\n` }), NODE_4XX],
  ['HTTP/1.2', () => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.2\r\n${H}\r\n` }), NODE_4XX],
  ['bare LF line endings', () => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.1\nHost: x\nConnection: close\n\n` }), NODE_4XX],
  ['header without colon', () => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.1\r\n${H}Authorization\r\n\r\n` }), NODE_4XX],
  ['header name with a space', () => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.1\r\n${H}Bad Header: x\r\n\r\n` }), NODE_4XX],
  ['control character in a header value', () => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.1\r\n${H}Authorization: Bearer \u0001lib\r\n\r\n` }), NODE_4XX],
  ['obs-fold continuation line', (fx) => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.1\r\n${H}Authorization: Bearer\r\n ${fx.key}\r\n\r\n` }), NODE_4XX],
  ['invalid method token', () => ({ via: 'socket', bytes: `G@T ${ME} HTTP/1.1\r\n${H}\r\n` }), NODE_4XX],
  ['unknown method BREW', () => ({ via: 'socket', bytes: `BREW ${ME} HTTP/1.1\r\n${H}\r\n` }), NODE_4XX],
  ['HTTP/1.1 without Host', () => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.1\r\nConnection: close\r\n\r\n` }), NODE_4XX],
  ['NUL in the path', () => ({ via: 'socket', bytes: `GET ${ME}\u0000 HTTP/1.1\r\n${H}\r\n` }), NODE_4XX],
  ['space in the path', () => ({ via: 'socket', bytes: `GET /api/v1/assets/a b HTTP/1.1\r\n${H}\r\n` }), NODE_4XX],
  [
    'raw UTF-8 in the path',
    (fx) => ({ via: 'socket', bytes: Buffer.from(`GET /api/v1/assets/été HTTP/1.1\r\n${H}Authorization: Bearer ${fx.key}\r\n\r\n`, 'utf8') }),
    NODE_4XX,
  ],
  ['headers over 16 KiB', () => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(20_000)}\r\n\r\n` }), NODE_4XX],
  ['Authorization over 16 KiB', () => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.1\r\n${H}Authorization: Bearer ${'a'.repeat(20_000)}\r\n\r\n` }), NODE_4XX],
  [
    'Content-Length and Transfer-Encoding',
    () => ({ via: 'socket', bytes: `${JSON_POST}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n` }),
    NODE_4XX,
  ],
  ['two different Content-Lengths', () => ({ via: 'socket', bytes: `${JSON_POST}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}` }), NODE_4XX],
  ['Content-Length abc', () => ({ via: 'socket', bytes: `${JSON_POST}Content-Length: abc\r\n\r\n{}` }), NODE_4XX],
  ['Content-Length -1', () => ({ via: 'socket', bytes: `${JSON_POST}Content-Length: -1\r\n\r\n{}` }), NODE_4XX],
  ['Transfer-Encoding gzip without chunked', () => ({ via: 'socket', bytes: `${JSON_POST}Transfer-Encoding: gzip\r\n\r\nabc` }), NODE_4XX],
  ['bad chunk size', () => ({ via: 'socket', bytes: `${JSON_POST}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n` }), NODE_4XX],
  [
    'chunk size larger than the data, then half-close',
    () => ({ via: 'socket', bytes: `${JSON_POST}Transfer-Encoding: chunked\r\n\r\n40\r\n{"label":`, halfClose: true }),
    NODE_4XX,
  ],
  [
    'huge chunk extension',
    () => ({ via: 'socket', bytes: `${JSON_POST}Transfer-Encoding: chunked\r\n\r\n2;${'a'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n` }),
    NODE_4XX,
  ],
  [
    'Content-Length larger than the body, then half-close',
    () => ({ via: 'socket', bytes: `${JSON_POST}Content-Length: 100\r\n\r\n{"label":`, halfClose: true }),
    NODE_4XX,
  ],
  // The bytes after the declared length are parsed as a next request: Node may answer that parse
  // error (bare 400, connection closed) before the app answers the first one with invalid_json.
  [
    'Content-Length smaller than the body',
    () => ({ via: 'socket', bytes: `${JSON_POST}Content-Length: 5\r\n\r\n{"label":"lying"}` }),
    { ...INVALID_JSON, nodeMayAnswer: true },
  ],
  [
    'Content-Length cutting a valid body short',
    () => ({ via: 'socket', bytes: `${JSON_POST}Content-Length: 12\r\n\r\n{"label":"x"}` }),
    { ...INVALID_JSON, nodeMayAnswer: true },
  ],
  ['Expect: bogus', () => ({ via: 'socket', bytes: `${JSON_POST}Expect: bogus\r\nContent-Length: 2\r\n\r\n{}` }), NODE_4XX],
  [
    'GET with a text body',
    (fx) => ({
      via: 'socket',
      bytes: `GET ${ME} HTTP/1.1\r\n${H}Authorization: Bearer ${fx.key}\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello`,
    }),
    UNSUPPORTED,
  ],
  [
    'GET with a body and no Content-Type',
    (fx) => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.1\r\n${H}Authorization: Bearer ${fx.key}\r\nContent-Length: 2\r\n\r\n{}` }),
    UNSUPPORTED,
  ],
  [
    'GET with an invalid JSON body',
    (fx) => ({
      via: 'socket',
      bytes: `GET ${ME} HTTP/1.1\r\n${H}Authorization: Bearer ${fx.key}\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{oops`,
    }),
    INVALID_JSON,
  ],
  [
    'GET with a 1 MiB body',
    (fx) => ({
      via: 'socket',
      bytes: `GET ${ME} HTTP/1.1\r\n${H}Authorization: Bearer ${fx.key}\r\nContent-Type: application/json\r\nContent-Length: ${MIB}\r\n\r\n${sized(MIB)}`,
    }),
    TOO_LARGE,
  ],
  [
    'DELETE with an invalid JSON body',
    (fx) => ({
      via: 'socket',
      bytes: `DELETE /api/v1/assets/${UNKNOWN_ID} HTTP/1.1\r\n${H}Authorization: Bearer ${fx.key}\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\nnull`,
    }),
    INVALID_JSON,
  ],
  [
    'two Authorization headers, first one bad',
    (fx) => ({ via: 'socket', bytes: `GET ${ME} HTTP/1.1\r\n${H}Authorization: Basic x\r\nAuthorization: Bearer ${fx.key}\r\n\r\n` }),
    INVALID_TOKEN,
  ],
  ['CONNECT to an API path', () => ({ via: 'socket', bytes: `CONNECT /api/v1/accounts HTTP/1.1\r\n${H}\r\n` }), { ...NODE_4XX, closedOk: true }],
];
for (const [label, send, expectation] of RAW) add('raw HTTP', label, send, expectation);

// Read-only key cases last: if one wrongly succeeded it would change the fixtures.
for (const [label, method, path, body] of readWrites) {
  add('read-only key', label, (fx) => ({ via: 'fetch', method, path: path(fx), token: fx.readKey, ...(body === undefined ? {} : { json: body }) }), SCOPE);
}
// Another account's asset, last for the same reason (DELETE would remove it).
for (const ep of ID_ENDPOINTS.slice(0, 4)) {
  add(
    `path id ${ep.label}`,
    "another account's asset",
    (fx) => ({ via: 'fetch', method: ep.method, path: ep.path(fx.otherAssetId), token: fx.key, ...(ep.body === undefined ? {} : { json: ep.body }) }),
    { status: 403, codes: ['asset_not_owned'] },
  );
}

// ---------------------------------------------------------------------------------------------
// Sending (test/helpers/http-probe.ts), 8 at a time, with a health check around every batch of 50
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------------------------

function problemsOf(c: Case, outcome: Outcome | undefined): string[] {
  if (!outcome) return ['case was not run'];
  if (outcome.kind === 'timeout') return [`no answer within ${REQUEST_TIMEOUT_MS} ms (hang)`];
  if (outcome.kind === 'closed') return c.expect.closedOk ? [] : [`connection closed without an answer: ${outcome.detail}`];
  const { status, headers, text } = outcome.answer;
  const problems: string[] = [];
  if (status >= 500) problems.push(`server error ${status}`);
  else if (status < 400) problems.push(`not refused: ${status}`);
  const want = c.expect.status;
  if (want !== '4xx') {
    const wanted = typeof want === 'number' ? [want] : want;
    if (!wanted.includes(status)) problems.push(`status ${status}, expected ${wanted.join(' or ')}`);
  }
  const isJson = (headers['content-type'] ?? '').includes('application/json');
  if (!isJson) {
    // Node's HTTP parser answers without a body before the app sees the request.
    if (!(c.expect.nodeMayAnswer && status >= 400 && status < 500))
      problems.push(`not the JSON error body (content-type ${headers['content-type'] ?? 'none'})`);
    return problems;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    problems.push('content-type says JSON but the body does not parse');
    return problems;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    problems.push('error body is not an object');
    return problems;
  }
  const record = body as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  const wantKeys = status === 409 ? ['error', 'event_id', 'message'] : ['error', 'message'];
  if (keys.join(',') !== wantKeys.join(',')) problems.push(`error body keys ${JSON.stringify(keys)}, expected ${JSON.stringify(wantKeys)}`);
  const allowed: readonly string[] = c.expect.codes ?? DOCUMENTED_4XX;
  if (typeof record['error'] !== 'string' || !allowed.includes(record['error']))
    problems.push(`error code ${JSON.stringify(record['error'])}, expected ${allowed.join(' | ')}`);
  if (typeof record['message'] !== 'string' || record['message'] === '') problems.push('message is not a non-empty string');
  if (status === 409 && typeof record['event_id'] !== 'string') problems.push('409 without a string event_id');
  if (status === 401 && !headers['www-authenticate']) problems.push('401 without WWW-Authenticate');
  if (status === 405 && c.expect.allow) {
    const allow = (headers['allow'] ?? '').split(',').map((m) => m.trim().toUpperCase());
    const missing = c.expect.allow.filter((m) => !allow.includes(m));
    if (missing.length > 0) problems.push(`Allow header ${JSON.stringify(headers['allow'] ?? null)} does not list ${missing.join(', ')}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

let t: TestBridge;
let fx: Fixture;
let healthKey: string;
let healthUserId: string;
const results = new Map<string, Outcome>();
const healthChecks: { when: string; status: number; ok: boolean }[] = [];

async function must(method: string, path: string, options: { json?: unknown; token?: string }, status: number): Promise<any> {
  const s: Send = { via: 'fetch', method, path };
  if (options.json !== undefined) s.json = options.json;
  if (options.token !== undefined) s.token = options.token;
  const outcome = await sendFetch(t.url, s);
  if (outcome.kind !== 'answer' || outcome.answer.status !== status) throw new Error(`fixture ${method} ${path}: ${describeOutcome(outcome)}`);
  return JSON.parse(outcome.answer.text);
}

async function healthCheck(when: string): Promise<void> {
  const outcome = await sendFetch(t.url, { via: 'fetch', method: 'GET', path: '/api/v1/accounts/me', token: healthKey });
  const status = outcome.kind === 'answer' ? outcome.answer.status : 0;
  let ok = false;
  if (status === 200 && outcome.kind === 'answer') {
    try {
      ok = (JSON.parse(outcome.answer.text) as { user_id?: unknown }).user_id === healthUserId;
    } catch {
      ok = false;
    }
  }
  healthChecks.push({ when, status, ok });
}

async function setUp(): Promise<void> {
  const signup = async (label: string) => {
    const body = await must('POST', '/api/v1/accounts', { json: { label } }, 201);
    return { key: body.api_key as string, userId: body.user_id as string };
  };
  const labels = ['malformed-main', 'malformed-health', 'malformed-other', 'malformed-self', 'malformed-probe', 'malformed-revoked'];
  const [main, health, other, self, probe, revoked] = await Promise.all(labels.map(signup));
  if (!main || !health || !other || !self || !probe || !revoked) throw new Error('signup failed');
  healthKey = health.key;
  healthUserId = health.userId;

  const asset = await must('POST', '/api/v1/assets', { json: { name: 'Coffee machine', price_sats: 1500 }, token: main.key }, 201);
  const gone = await must('POST', '/api/v1/assets', { json: { name: 'Gone', price_sats: 1 }, token: main.key }, 201);
  await must('DELETE', `/api/v1/assets/${gone.asset_id}`, { token: main.key }, 200);
  const otherAsset = await must('POST', '/api/v1/assets', { json: { name: 'Not yours', price_sats: 10 }, token: other.key }, 201);
  const externalId = 'malformed-dup-1';
  const event = await must('POST', '/api/public/events', { json: { type: 'custom', external_id: externalId }, token: main.key }, 201);
  const otherEvent = await must('POST', '/api/public/events', { json: { type: 'custom' }, token: other.key }, 201);
  const readKey = await must('POST', '/api/v1/accounts/me/keys', { json: { scope: 'read', label: 'read-only' }, token: main.key }, 201);
  const otherKeys = await must('GET', '/api/v1/accounts/me/keys', { token: other.key }, 200);
  const selfKeys = await must('GET', '/api/v1/accounts/me/keys', { token: self.key }, 200);
  const session = await must('POST', '/api/v1/auth/exchange', { json: { api_key: main.key } }, 200);
  const revokedSession = await must('POST', '/api/v1/auth/exchange', { json: { api_key: revoked.key } }, 200);
  await must('POST', '/api/v1/accounts/me/rotate-key', { token: revoked.key }, 200);
  const mainKeys = await must('GET', '/api/v1/accounts/me/keys', { token: main.key }, 200);
  const mainKeyId = (mainKeys.keys as { key_id: string; scope: string }[]).find((k) => k.scope === 'full')?.key_id ?? '';
  const otherKeyId = (otherKeys.keys as { key_id: string }[])[0]?.key_id ?? '';

  const secret = (await loadSecrets(t.dataDir, ADMIN_TOKEN)).sessionSecret;
  const now = Math.floor(Date.now() / 1000);
  const sign = (
    claims: Record<string, unknown>,
    options: { key?: Uint8Array; alg?: string; sub?: string; aud?: string; iss?: string; iat?: number; exp?: number } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
      .setSubject(options.sub ?? main.userId)
      .setIssuer(options.iss ?? 'paywire')
      .setAudience(options.aud ?? 'paywire:session')
      .setIssuedAt(options.iat ?? now)
      .setExpirationTime(options.exp ?? now + 3_600)
      .sign(options.key ?? secret);
  const claims = { kid: mainKeyId, scope: 'full' };
  const [header, , signature] = (session.token as string).split('.') as [string, string, string];
  const forgedPayload = b64url({ sub: other.userId, kid: otherKeyId, scope: 'full', iss: 'paywire', aud: 'paywire:session', iat: now, exp: now + 3_600 });

  fx = {
    key: main.key,
    userId: main.userId,
    readKey: readKey.api_key,
    assetId: asset.asset_id,
    deletedAssetId: gone.asset_id,
    eventId: event.event_id,
    externalId,
    otherKey: other.key,
    otherKeyId,
    otherAssetId: otherAsset.asset_id,
    otherEventId: otherEvent.event_id,
    selfKey: self.key,
    selfKeyId: (selfKeys.keys as { key_id: string }[])[0]?.key_id ?? '',
    probeKey: probe.key,
    revokedKey: revoked.key,
    revokedSession: revokedSession.token,
    session: session.token,
    jwt: {
      otherSecret: await sign(claims, { key: randomBytes(32) }),
      expired: await sign(claims, { iat: now - 7_200, exp: now - 3_600 }),
      unknownKid: await sign({ kid: UNKNOWN_ID, scope: 'full' }),
      noKid: await sign({ scope: 'full' }),
      wrongAudience: await sign(claims, { aud: 'someone-else' }),
      wrongIssuer: await sign(claims, { iss: 'not-paywire' }),
      hs512: await sign(claims, { alg: 'HS512' }),
      keyOfOtherAccount: await sign({ kid: otherKeyId, scope: 'full' }),
      algNone: `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: main.userId, kid: mainKeyId, iss: 'paywire', aud: 'paywire:session', exp: now + 3_600 })}.`,
      algNoneSigned: `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: main.userId, kid: mainKeyId, iss: 'paywire', aud: 'paywire:session', exp: now + 3_600 })}.${signature}`,
      tamperedPayload: `${header}.${forgedPayload}.${signature}`,
    },
  };
}

describe('malformed requests against a listening bridge', () => {
  let startedAt = 0;
  let elapsedMs = 0;

  beforeAll(async () => {
    startedAt = Date.now();
    t = await startBridge();
    await setUp();
    await sendInBatches(CASES, fx, { url: t.url, httpPort: t.info.httpPort }, healthCheck, results);
    elapsedMs = Date.now() - startedAt;

    const counts = new Map<string, number>();
    for (const c of CASES) {
      const o = results.get(c.name);
      const key = !o ? 'not run' : o.kind === 'answer' ? String(o.answer.status) : o.kind;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const summary = [...counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${k}×${n}`)
      .join(' ');
    const failing = CASES.filter((c) => problemsOf(c, results.get(c.name)).length > 0).length;
    const healthy = healthChecks.filter((h) => h.ok).length;
    console.log(
      `malformed: ${CASES.length} cases in ${elapsedMs} ms; status ${summary}; ${failing} failing; health checks ${healthy}/${healthChecks.length} answered 200`,
    );
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('sends at least 300 malformed requests, with unique names', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(300);
    expect(NAMES.size).toBe(CASES.length);
  });

  it('keeps answering a normal request before, during, after every 50 cases and at the end', async () => {
    await healthCheck('at the end');
    expect(healthChecks.filter((h) => !h.ok)).toEqual([]);
  });

  it('still accepts well-formed variants that are not malformed', async () => {
    for (const authorization of [`bearer ${healthKey}`, `BEARER ${healthKey}`, healthKey]) {
      const outcome = await sendFetch(t.url, { via: 'fetch', method: 'GET', path: '/api/v1/accounts/me', headers: { authorization } });
      expect(describeOutcome(outcome), authorization.slice(0, 10)).toMatch(/^200 /);
    }
  });

  it('leaves Object.prototype unpolluted', () => {
    expect(Object.prototype).not.toHaveProperty('pwned_by_malformed_test');
    expect(({} as Record<string, unknown>)['pwned_by_malformed_test']).toBeUndefined();
  });

  for (const c of CASES) {
    it(c.name, () => {
      const outcome = results.get(c.name);
      expect(problemsOf(c, outcome), describeOutcome(outcome)).toEqual([]);
    });
  }
});
