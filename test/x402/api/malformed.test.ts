/**
 * Malformed requests to every endpoint of the x402 family, against a real listening bridge. The cases
 * are generated from tables: for /verify and /settle, every part of a v1 and a v2 body broken in turn
 * (INVALID_REQUEST for the body and the requirements, INVALID_PAYLOAD for a payload that cannot be
 * decoded); every credential variant against every endpoint behind a user token, a client key or the
 * admin token (401, or 403 for a key without the scope); every body field of the user, client, resource
 * and admin endpoints with wrong types and ranges; bad queries, ids, methods and paths. Each must get
 * its documented 4xx with the x402 error body (`{code, message, details}`; the refresh endpoint's own
 * `{message, details}`), never a 5xx or a hang, and a normal request keeps answering between batches.
 * (The body parser's own matrix — syntax, content types, encodings, sizes — runs once per family in
 * test/http/malformed-families.test.ts; here each POST endpoint gets a few of it to prove its wiring.)
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSecrets } from '../../../bridge/secrets.js';
import { deriveKey } from '../../../bridge/x402/users/tokens.js';
import type { TestBridge } from '../../helpers/bridge.js';
import { b64url, describeOutcome, type Outcome, type Send, sendFetch, sendInBatches } from '../../helpers/http-probe.js';
import { ADMIN_TOKEN, client, PASSWORD, person, startX402Bridge, type Client, type Person } from './helpers.js';

interface Fixture {
  user: Person;
  other: Person;
  key: Client;
  verifyOnly: Client;
  otherResourceId: number;
  ownResourceId: number;
  clientId: string;
  machineKey: string;
  tokens: Record<string, string>;
}

type Shape = 'x402' | 'session';
interface Case {
  name: string;
  send: (fx: Fixture) => Send;
  status: number;
  codes: readonly string[];
  shape?: Shape;
}

const CASES: Case[] = [];
const add = (c: Case) => CASES.push(c);

const ADDR = '0x2222222222222222222222222222222222222222';
const ASSET = '0x036CbD53842c5426634e7929541eC2318f3dCF7e';
const AUTH = {
  from: '0x1111111111111111111111111111111111111111',
  to: ADDR,
  value: '1000',
  validAfter: '0',
  validBefore: '99999999999',
  nonce: `0x${'33'.repeat(32)}`,
};
const EXACT = { signature: `0x${'11'.repeat(65)}`, authorization: AUTH };
const REQ_V1 = {
  scheme: 'exact',
  network: 'base-sepolia',
  maxAmountRequired: '1000',
  resource: '/api/protected',
  description: 'Access',
  mimeType: 'application/json',
  payTo: ADDR,
  maxTimeoutSeconds: 60,
  asset: ASSET,
};
const REQ_V2 = { scheme: 'exact', network: 'eip155:84532', amount: '1000', asset: ASSET, payTo: ADDR, maxTimeoutSeconds: 60 };
const V1 = { x402Version: 1, paymentPayload: { x402Version: 1, scheme: 'exact', network: 'base-sepolia', payload: EXACT }, paymentRequirements: REQ_V1 };
const V2 = { x402Version: 2, paymentPayload: { x402Version: 2, accepted: REQ_V2, payload: EXACT }, paymentRequirements: REQ_V2 };

const without = (o: Record<string, unknown>, k: string) => Object.fromEntries(Object.entries(o).filter(([key]) => key !== k));
const clientHeaders = (c: Client) => ({ 'x-client-id': c.clientId, 'x-client-token': c.token });

// ------------------------------------------------------------------ /verify and /settle bodies

const INVALID_REQUEST = ['INVALID_REQUEST'] as const;
const INVALID_PAYLOAD = ['INVALID_PAYLOAD'] as const;

const facilitatorBodies: [string, unknown, readonly string[]][] = [
  ['empty object', {}, INVALID_REQUEST],
  ['array body', [V1], INVALID_REQUEST],
  ['paymentPayload missing', without(V1, 'paymentPayload'), INVALID_REQUEST],
  ['paymentPayload null', { ...V1, paymentPayload: null }, INVALID_REQUEST],
  ['paymentPayload number', { ...V1, paymentPayload: 5 }, INVALID_REQUEST],
  ['paymentPayload array', { ...V1, paymentPayload: [] }, INVALID_REQUEST],
  ['paymentPayload true', { ...V1, paymentPayload: true }, INVALID_REQUEST],
  ['paymentPayload garbage string', { ...V1, paymentPayload: '!!!' }, INVALID_PAYLOAD],
  ['paymentPayload base64 of text', { ...V1, paymentPayload: Buffer.from('hello').toString('base64') }, INVALID_PAYLOAD],
  ['paymentPayload base64 of an array', { ...V1, paymentPayload: Buffer.from('[1]').toString('base64') }, INVALID_PAYLOAD],
  ['paymentPayload empty string', { ...V1, paymentPayload: '' }, INVALID_PAYLOAD],
  ['paymentRequirements missing', without(V1, 'paymentRequirements'), INVALID_REQUEST],
  ['paymentRequirements null', { ...V1, paymentRequirements: null }, INVALID_REQUEST],
  ['paymentRequirements string', { ...V1, paymentRequirements: 'exact' }, INVALID_REQUEST],
  ['paymentRequirements array', { ...V1, paymentRequirements: [REQ_V1] }, INVALID_REQUEST],
  ['x402Version 3', { ...V1, x402Version: 3 }, INVALID_REQUEST],
  ['x402Version "1"', { ...V1, x402Version: '1' }, INVALID_REQUEST],
  ['x402Version 1 vs payload 2', { ...V2, x402Version: 1 }, INVALID_REQUEST],
  ['payload x402Version missing', { ...V1, x402Version: undefined, paymentPayload: without(V1.paymentPayload, 'x402Version') }, INVALID_REQUEST],
  ['payload x402Version 0', { ...V1, x402Version: undefined, paymentPayload: { ...V1.paymentPayload, x402Version: 0 } }, INVALID_REQUEST],
  ['payload x402Version 1.5', { ...V1, x402Version: undefined, paymentPayload: { ...V1.paymentPayload, x402Version: 1.5 } }, INVALID_REQUEST],
  ['payload scheme missing', { ...V1, paymentPayload: without(V1.paymentPayload, 'scheme') }, INVALID_REQUEST],
  ['payload scheme empty', { ...V1, paymentPayload: { ...V1.paymentPayload, scheme: '' } }, INVALID_REQUEST],
  ['payload network number', { ...V1, paymentPayload: { ...V1.paymentPayload, network: 84532 } }, INVALID_REQUEST],
  ['payload.payload missing', { ...V1, paymentPayload: without(V1.paymentPayload, 'payload') }, INVALID_PAYLOAD],
  ['payload.payload not base64', { ...V1, paymentPayload: { ...V1.paymentPayload, payload: '%%%' } }, INVALID_PAYLOAD],
  ['payload.payload base64 of nonsense', { ...V1, paymentPayload: { ...V1.paymentPayload, payload: b64url({ x: 1 }) } }, INVALID_PAYLOAD],
  ['payload.payload number', { ...V1, paymentPayload: { ...V1.paymentPayload, payload: 7 } }, INVALID_PAYLOAD],
  ['signature missing', { ...V1, paymentPayload: { ...V1.paymentPayload, payload: { authorization: AUTH } } }, INVALID_PAYLOAD],
  ['signature not hex', { ...V1, paymentPayload: { ...V1.paymentPayload, payload: { ...EXACT, signature: '0xzz' } } }, INVALID_PAYLOAD],
  ['signature odd length', { ...V1, paymentPayload: { ...V1.paymentPayload, payload: { ...EXACT, signature: '0x123' } } }, INVALID_PAYLOAD],
  ['signature without 0x', { ...V1, paymentPayload: { ...V1.paymentPayload, payload: { ...EXACT, signature: '11'.repeat(65) } } }, INVALID_PAYLOAD],
  ['signature 20 KB', { ...V1, paymentPayload: { ...V1.paymentPayload, payload: { ...EXACT, signature: `0x${'ab'.repeat(10_000)}` } } }, INVALID_PAYLOAD],
  ['authorization missing', { ...V1, paymentPayload: { ...V1.paymentPayload, payload: { signature: EXACT.signature } } }, INVALID_PAYLOAD],
  ['authorization array', { ...V1, paymentPayload: { ...V1.paymentPayload, payload: { ...EXACT, authorization: [] } } }, INVALID_PAYLOAD],
];
const authBad: [string, unknown][] = [
  ['from short', '0x1234'],
  ['to not hex', `0x${'zz'.repeat(20)}`],
  ['value negative', '-1'],
  ['value fraction', '1.5'],
  ['value hex', '0x10'],
  ['value over uint256', (1n << 256n).toString()],
  ['validAfter text', 'soon'],
  ['validBefore null', null],
  ['nonce short', '0x1234'],
  ['nonce number', 5],
];
for (const [label, value] of authBad) {
  const field = label.split(' ')[0] as keyof typeof AUTH;
  facilitatorBodies.push([
    `authorization.${label}`,
    { ...V1, paymentPayload: { ...V1.paymentPayload, payload: { ...EXACT, authorization: { ...AUTH, [field]: value } } } },
    INVALID_PAYLOAD,
  ]);
}
for (const field of Object.keys(AUTH)) {
  facilitatorBodies.push([
    `authorization.${field} missing`,
    { ...V1, paymentPayload: { ...V1.paymentPayload, payload: { ...EXACT, authorization: without(AUTH, field) } } },
    INVALID_PAYLOAD,
  ]);
}
const reqBad: [string, unknown][] = [
  ['scheme', ''],
  ['network', 42],
  ['maxAmountRequired', 'lots'],
  ['resource', { url: '/x' }],
  ['description', 5],
  ['mimeType', null],
  ['payTo', 'merchant'],
  ['maxTimeoutSeconds', -1],
  ['asset', 'USDC'],
  ['extra', 'x'],
];
for (const [field, value] of reqBad)
  facilitatorBodies.push([`v1 requirements.${field} wrong`, { ...V1, paymentRequirements: { ...REQ_V1, [field]: value } }, INVALID_REQUEST]);
for (const field of ['scheme', 'network', 'maxAmountRequired', 'payTo', 'asset', 'maxTimeoutSeconds']) {
  facilitatorBodies.push([`v1 requirements.${field} missing`, { ...V1, paymentRequirements: without(REQ_V1, field) }, INVALID_REQUEST]);
}
for (const field of ['amount', 'asset', 'payTo', 'maxTimeoutSeconds']) {
  facilitatorBodies.push([`v2 requirements.${field} missing`, { ...V2, paymentRequirements: without(REQ_V2, field) }, INVALID_REQUEST]);
  facilitatorBodies.push([
    `v2 accepted.${field} missing`,
    { ...V2, paymentPayload: { ...V2.paymentPayload, accepted: without(REQ_V2, field) } },
    INVALID_PAYLOAD,
  ]);
}
facilitatorBodies.push(
  ['v2 accepted missing', { ...V2, paymentPayload: without(V2.paymentPayload, 'accepted') }, INVALID_PAYLOAD],
  ['v2 resource not an object', { ...V2, paymentPayload: { ...V2.paymentPayload, resource: 'http://x' } }, INVALID_PAYLOAD],
  ['v2 extensions a string', { ...V2, paymentPayload: { ...V2.paymentPayload, extensions: 'none' } }, INVALID_PAYLOAD],
  ['v2 payload missing', { ...V2, paymentPayload: without(V2.paymentPayload, 'payload') }, INVALID_PAYLOAD],
);

for (const path of ['verify', 'settle']) {
  for (const [label, json, codes] of facilitatorBodies) {
    add({
      name: `POST /${path}: ${label}`,
      send: (fx) => ({ via: 'fetch', method: 'POST', path: `/x402/api/v1/${path}`, json, headers: clientHeaders(fx.key) }),
      status: 400,
      codes,
    });
  }
}

// ------------------------------------------------------------------ client-key credentials

const CLIENT_ENDPOINTS = [
  { scope: 'verify', method: 'POST', path: '/x402/api/v1/verify', json: V1 },
  { scope: 'settle', method: 'POST', path: '/x402/api/v1/settle', json: V1 },
  { scope: 'supported', method: 'GET', path: '/x402/api/v1/supported', json: undefined },
] as const;
const clientCredentials: [string, (fx: Fixture) => Record<string, string>][] = [
  ['no headers', () => ({})],
  ['only X-Client-ID', (fx) => ({ 'x-client-id': fx.key.clientId })],
  ['only X-Client-Token', (fx) => ({ 'x-client-token': fx.key.token })],
  ['empty token', (fx) => ({ 'x-client-id': fx.key.clientId, 'x-client-token': '' })],
  ['token of 3 KB', (fx) => ({ 'x-client-id': fx.key.clientId, 'x-client-token': 'a'.repeat(3_000) })],
  ['id of another key', (fx) => ({ 'x-client-id': fx.verifyOnly.clientId, 'x-client-token': fx.key.token })],
  ['unknown id', (fx) => ({ 'x-client-id': 'zzzzzzzzzzzzzzzzzzzz', 'x-client-token': fx.key.token })],
  ['tampered signature', (fx) => ({ 'x-client-id': fx.key.clientId, 'x-client-token': `${fx.key.token.slice(0, -2)}AA` })],
  [
    'tampered random',
    (fx) => ({ 'x-client-id': fx.key.clientId, 'x-client-token': fx.key.token.replace(/\.(.)/, (_m, c: string) => `.${c === 'A' ? 'B' : 'A'}`) }),
  ],
  ['deleted key', (fx) => ({ 'x-client-id': fx.clientId, 'x-client-token': fx.tokens['deletedClient'] as string })],
  ['bearer user token instead', (fx) => ({ authorization: `Bearer ${fx.user.access}` })],
  ['machine API key instead', (fx) => ({ authorization: `Bearer ${fx.machineKey}` })],
];
for (const ep of CLIENT_ENDPOINTS) {
  for (const [label, headers] of clientCredentials) {
    add({
      name: `${ep.method} ${ep.path.slice(5)}: ${label}`,
      send: (fx) => ({ via: 'fetch', method: ep.method, path: ep.path, headers: headers(fx), ...(ep.json ? { json: ep.json } : {}) }),
      status: 401,
      codes: ['UNAUTHORIZED'],
    });
  }
  if (ep.scope !== 'verify') {
    add({
      name: `${ep.method} ${ep.path.slice(5)}: a key without the ${ep.scope} scope`,
      send: (fx) => ({ via: 'fetch', method: ep.method, path: ep.path, headers: clientHeaders(fx.verifyOnly), ...(ep.json ? { json: ep.json } : {}) }),
      status: 403,
      codes: ['FORBIDDEN'],
    });
  }
}

// ------------------------------------------------------------------ user tokens

const RESOURCE = { resource: '/api/x', accepts: [{ scheme: 'exact', network: 'base-sepolia' }] };
const USER_ENDPOINTS: { method: string; path: (fx: Fixture) => string; json?: unknown }[] = [
  { method: 'POST', path: () => '/x402/api/v1/clients', json: { title: 't' } },
  { method: 'GET', path: () => '/x402/api/v1/clients' },
  { method: 'DELETE', path: (fx) => `/x402/api/v1/clients/${fx.key.clientId}` },
  { method: 'POST', path: () => '/x402/api/v1/resources', json: RESOURCE },
  { method: 'PUT', path: (fx) => `/x402/api/v1/resources/${fx.ownResourceId}`, json: RESOURCE },
  { method: 'GET', path: () => '/x402/api/v1/users/resources' },
  { method: 'POST', path: () => '/x402/api/v1/users/me/api-key', json: {} },
  ...['metrics', 'x402-metrics'].flatMap((m) => ['daily', 'monthly', 'summary'].map((p) => ({ method: 'GET', path: () => `/x402/api/v1/${m}/${p}` }))),
];
const userCredentials: [string, (fx: Fixture) => Record<string, string>][] = [
  ['no Authorization', () => ({})],
  ['Basic scheme', (fx) => ({ authorization: `Basic ${fx.user.access}` })],
  ['bare token without Bearer', (fx) => ({ authorization: fx.user.access })],
  ['Bearer and nothing', () => ({ authorization: 'Bearer ' })],
  ['a refresh token', (fx) => ({ authorization: `Bearer ${fx.user.refresh}` })],
  ['forged signature', (fx) => ({ authorization: `Bearer ${fx.tokens['forged']}` })],
  ['alg none', (fx) => ({ authorization: `Bearer ${fx.tokens['algNone']}` })],
  ['expired', (fx) => ({ authorization: `Bearer ${fx.tokens['expired']}` })],
  ['wrong audience', (fx) => ({ authorization: `Bearer ${fx.tokens['wrongAudience']}` })],
  ['a user that does not exist', (fx) => ({ authorization: `Bearer ${fx.tokens['noSuchUser']}` })],
  ['subject not a number', (fx) => ({ authorization: `Bearer ${fx.tokens['badSubject']}` })],
  ['machine API key', (fx) => ({ authorization: `Bearer ${fx.machineKey}` })],
  ['the admin token', () => ({ authorization: `Bearer ${ADMIN_TOKEN}` })],
];
for (const ep of USER_ENDPOINTS) {
  for (const [label, headers] of userCredentials) {
    add({
      name: `${ep.method} ${ep.path({ key: { clientId: ':id' }, ownResourceId: ':id' } as unknown as Fixture).slice(5)}: ${label}`,
      send: (fx) => ({ via: 'fetch', method: ep.method, path: ep.path(fx), headers: headers(fx), ...(ep.json === undefined ? {} : { json: ep.json }) }),
      status: 401,
      codes: ['UNAUTHORIZED'],
    });
  }
}

// ------------------------------------------------------------------ the admin token

const ADMIN_ENDPOINTS = [
  { method: 'POST', path: '/x402/admin/users', json: { email: 'n@example.com', password: PASSWORD } },
  { method: 'GET', path: '/x402/admin/users', json: undefined },
  { method: 'POST', path: '/x402/admin/assets', json: { network: 'base', asset: ASSET, symbol: 'USDC', decimals: 6 } },
  { method: 'GET', path: '/x402/admin/assets', json: undefined },
];
const adminCredentials: [string, (fx: Fixture) => Record<string, string>][] = [
  ['no Authorization', () => ({})],
  ['wrong token', () => ({ authorization: `Bearer ${ADMIN_TOKEN}x` })],
  ['token without Bearer', () => ({ authorization: ADMIN_TOKEN })],
  ['lowercase token', () => ({ authorization: `Bearer ${ADMIN_TOKEN.toUpperCase()}` })],
  ['a user token', (fx) => ({ authorization: `Bearer ${fx.user.access}` })],
  ['an admin user token', (fx) => ({ authorization: `Bearer ${fx.tokens['adminUser']}` })],
  ['a client key', (fx) => clientHeaders(fx.key)],
];
for (const ep of ADMIN_ENDPOINTS) {
  for (const [label, headers] of adminCredentials) {
    add({
      name: `${ep.method} ${ep.path.slice(5)}: ${label}`,
      send: (fx) => ({ via: 'fetch', method: ep.method, path: ep.path, headers: headers(fx), ...(ep.json ? { json: ep.json } : {}) }),
      status: 401,
      codes: ['UNAUTHORIZED'],
    });
  }
}

// ------------------------------------------------------------------ bodies of the user, client, resource and admin endpoints

const userToken = (fx: Fixture) => ({ authorization: `Bearer ${fx.user.access}` });
const adminToken = () => ({ authorization: `Bearer ${ADMIN_TOKEN}` });
const none = () => ({});

const BODY_TABLES: { method: string; path: (fx: Fixture) => string; headers: (fx: Fixture) => Record<string, string>; bodies: [string, unknown][] }[] = [
  {
    method: 'POST',
    path: () => '/x402/api/v1/signup',
    headers: none,
    bodies: [
      ['email missing', { password: PASSWORD }],
      ['password missing', { email: 'a@example.com' }],
      ['email number', { email: 5, password: PASSWORD }],
      ['email without @', { email: 'example.com', password: PASSWORD }],
      ['email with spaces', { email: 'a b@example.com', password: PASSWORD }],
      ['email 300 characters', { email: `${'a'.repeat(290)}@example.com`, password: PASSWORD }],
      ['password 7 characters', { email: 'a@example.com', password: 'Short1!' }],
      ['password 257 characters', { email: 'a@example.com', password: 'x'.repeat(257) }],
      ['password number', { email: 'a@example.com', password: 12345678 }],
      ['is_admin smuggled in', { email: 'a@example.com', password: PASSWORD, is_admin: true }],
      ['null body members', { email: null, password: null }],
    ],
  },
  {
    method: 'POST',
    path: () => '/x402/api/v1/login',
    headers: none,
    bodies: [
      ['email missing', { password: PASSWORD }],
      ['password missing', { email: 'a@example.com' }],
      ['email array', { email: ['a@example.com'], password: PASSWORD }],
      ['password object', { email: 'a@example.com', password: { $ne: '' } }],
      ['email 400 characters', { email: 'a'.repeat(400), password: PASSWORD }],
      ['unknown member', { email: 'a@example.com', password: PASSWORD, remember: true }],
    ],
  },
  {
    method: 'POST',
    path: () => '/x402/api/v1/token/refresh',
    headers: none,
    bodies: [
      ['refresh_token missing', {}],
      ['refresh_token empty', { refresh_token: '' }],
      ['refresh_token number', { refresh_token: 1 }],
      ['refresh_token 9 KB', { refresh_token: 'a'.repeat(9_000) }],
      ['access_token instead', { access_token: 'x' }],
    ],
  },
  {
    method: 'POST',
    path: () => '/x402/api/v1/token/revoke',
    headers: none,
    bodies: [
      ['refresh_token missing', {}],
      ['refresh_token null', { refresh_token: null }],
    ],
  },
  {
    method: 'POST',
    path: () => '/x402/api/v1/clients',
    headers: userToken,
    bodies: [
      ['title missing', {}],
      ['title empty', { title: '' }],
      ['title 101 characters', { title: 'x'.repeat(101) }],
      ['title with a control character', { title: 'a\u0007b' }],
      ['title number', { title: 7 }],
      ['scope unknown operation', { title: 't', scope: 'verify,refund' }],
      ['scope only commas', { title: 't', scope: ',,' }],
      ['scope array', { title: 't', scope: ['verify'] }],
      ['ttl_hours zero', { title: 't', ttl_hours: 0 }],
      ['ttl_hours negative', { title: 't', ttl_hours: -1 }],
      ['ttl_hours string', { title: 't', ttl_hours: '24' }],
      ['ttl_hours beyond 100 years', { title: 't', ttl_hours: 1e9 }],
      ['unknown member', { title: 't', owner: 1 }],
    ],
  },
  {
    method: 'POST',
    path: () => '/x402/api/v1/resources',
    headers: userToken,
    bodies: [
      ['empty', {}],
      ['resource missing', { accepts: RESOURCE.accepts }],
      ['resource empty', { ...RESOURCE, resource: '' }],
      ['resource 3 KB', { ...RESOURCE, resource: `/${'x'.repeat(3_000)}` }],
      ['accepts missing', { resource: '/x' }],
      ['accepts empty', { ...RESOURCE, accepts: [] }],
      ['accepts object', { ...RESOURCE, accepts: { scheme: 'exact' } }],
      ['accepts of strings', { ...RESOURCE, accepts: ['exact'] }],
      ['accept without scheme', { ...RESOURCE, accepts: [{ network: 'base' }] }],
      ['accept without network', { ...RESOURCE, accepts: [{ scheme: 'exact' }] }],
      ['accept nested 12 deep', { ...RESOURCE, accepts: [{ scheme: 'exact', network: 'b', x: JSON.parse(`${'{"a":'.repeat(12)}1${'}'.repeat(12)}`) }] }],
      ['21 accepts', { ...RESOURCE, accepts: Array.from({ length: 21 }, () => RESOURCE.accepts[0]) }],
      ['x402Version 0', { ...RESOURCE, x402Version: 0 }],
      ['x402Version "1"', { ...RESOURCE, x402Version: '1' }],
      ['type empty', { ...RESOURCE, type: '' }],
      ['metadata array', { ...RESOURCE, metadata: [] }],
      ['metadata 5 KB', { ...RESOURCE, metadata: { a: 'x'.repeat(5_000) } }],
      ['unknown member', { ...RESOURCE, owner: 2 }],
    ],
  },
  {
    method: 'PUT',
    path: (fx) => `/x402/api/v1/resources/${fx.ownResourceId}`,
    headers: userToken,
    bodies: [
      ['empty', {}],
      ['accepts empty', { ...RESOURCE, accepts: [] }],
      ['resource number', { ...RESOURCE, resource: 5 }],
      ['unknown member', { ...RESOURCE, id: 99 }],
    ],
  },
  {
    method: 'POST',
    path: () => '/x402/api/v1/users/me/api-key',
    headers: userToken,
    bodies: [
      ['label empty', { label: '' }],
      ['label number', { label: 1 }],
      ['scope smuggled in', { scope: 'full' }],
    ],
  },
  {
    method: 'POST',
    path: () => '/x402/admin/users',
    headers: adminToken,
    bodies: [
      ['empty', {}],
      ['email bad', { email: 'nope', password: PASSWORD }],
      ['password short', { email: 'a@example.com', password: 'x' }],
      ['is_admin string', { email: 'a@example.com', password: PASSWORD, is_admin: 'true' }],
      ['is_admin number', { email: 'a@example.com', password: PASSWORD, is_admin: 1 }],
      ['unknown member', { email: 'a@example.com', password: PASSWORD, role: 'root' }],
    ],
  },
  {
    method: 'POST',
    path: () => '/x402/admin/assets',
    headers: adminToken,
    bodies: [
      ['empty', {}],
      ['network missing', { asset: ASSET, symbol: 'USDC', decimals: 6 }],
      ['network with spaces', { network: 'base sepolia', asset: ASSET, symbol: 'USDC', decimals: 6 }],
      ['network CAIP-2 not EVM', { network: 'solana:mainnet', asset: ASSET, symbol: 'USDC', decimals: 6 }],
      ['asset short', { network: 'base', asset: '0x1234', symbol: 'USDC', decimals: 6 }],
      ['asset not hex', { network: 'base', asset: `0x${'g'.repeat(40)}`, symbol: 'USDC', decimals: 6 }],
      ['symbol missing', { network: 'base', asset: ASSET, decimals: 6 }],
      ['symbol 17 characters', { network: 'base', asset: ASSET, symbol: 'S'.repeat(17), decimals: 6 }],
      ['decimals negative', { network: 'base', asset: ASSET, symbol: 'USDC', decimals: -1 }],
      ['decimals 37', { network: 'base', asset: ASSET, symbol: 'USDC', decimals: 37 }],
      ['decimals fraction', { network: 'base', asset: ASSET, symbol: 'USDC', decimals: 1.5 }],
      ['decimals string', { network: 'base', asset: ASSET, symbol: 'USDC', decimals: '6' }],
      ['active string', { network: 'base', asset: ASSET, symbol: 'USDC', decimals: 6, active: 'no' }],
      ['unknown member', { network: 'base', asset: ASSET, symbol: 'USDC', decimals: 6, chainId: 1 }],
    ],
  },
];
/** A few syntax and content-type errors per POST/PUT endpoint: each is wired to the family's body parser. */
const PARSER: [string, string, Record<string, string> | undefined, number][] = [
  ['truncated JSON', '{"a":', undefined, 400],
  ['top-level number', '42', undefined, 400],
  ['single quotes', "{'a':1}", undefined, 400],
  ['text/plain body', '{"a":1}', { 'content-type': 'text/plain' }, 415],
];
for (const t of BODY_TABLES) {
  const shown = t.path({ ownResourceId: ':id' } as unknown as Fixture).slice(5);
  for (const [label, json] of t.bodies) {
    add({
      name: `${t.method} ${shown}: ${label}`,
      send: (fx) => ({ via: 'fetch', method: t.method, path: t.path(fx), headers: t.headers(fx), json }),
      status: 400,
      codes: INVALID_REQUEST,
    });
  }
  for (const [label, raw, headers, status] of PARSER) {
    add({
      name: `${t.method} ${shown}: ${label}`,
      send: (fx) => ({ via: 'fetch', method: t.method, path: t.path(fx), headers: { ...t.headers(fx), ...headers }, raw }),
      status,
      codes: INVALID_REQUEST,
    });
  }
}
for (const path of ['verify', 'settle']) {
  for (const [label, raw, headers, status] of PARSER) {
    add({
      name: `POST /${path}: ${label}`,
      send: (fx) => ({ via: 'fetch', method: 'POST', path: `/x402/api/v1/${path}`, headers: { ...clientHeaders(fx.key), ...headers }, raw }),
      status,
      codes: INVALID_REQUEST,
    });
  }
}

// ------------------------------------------------------------------ refresh tokens that are not valid (the endpoint's own 401 body)

const refreshTokens: [string, (fx: Fixture) => string][] = [
  ['not a JWT', () => 'hello'],
  ['an access token', (fx) => fx.user.access],
  ['forged signature', (fx) => fx.tokens['forgedRefresh'] as string],
  ['alg none', (fx) => fx.tokens['algNone'] as string],
  ['a rotated one', (fx) => fx.tokens['rotatedRefresh'] as string],
  ['expired', (fx) => fx.tokens['expiredRefresh'] as string],
];
for (const path of ['refresh', 'revoke']) {
  for (const [label, token] of refreshTokens) {
    if (path === 'revoke' && label === 'a rotated one') continue;
    add({
      name: `POST /token/${path}: ${label}`,
      send: (fx) => ({ via: 'fetch', method: 'POST', path: `/x402/api/v1/token/${path}`, json: { refresh_token: token(fx) } }),
      status: 401,
      codes: [],
      shape: 'session',
    });
  }
}

// ------------------------------------------------------------------ queries, ids, methods, paths

const PAGED = [
  { path: '/x402/api/v1/clients', headers: userToken },
  { path: '/x402/api/v1/resources', headers: none },
  { path: '/x402/api/v1/users/resources', headers: userToken },
  { path: '/x402/admin/users', headers: adminToken },
];
for (const ep of PAGED) {
  for (const q of ['offset=-1', 'offset=x', 'limit=0', 'limit=1001', 'limit=2.5', 'limit=1&limit=2', 'cursor=abc']) {
    add({
      name: `GET ${ep.path.slice(5)}?${q}`,
      send: (fx) => ({ via: 'fetch', method: 'GET', path: `${ep.path}?${q}`, headers: ep.headers(fx) }),
      status: 400,
      codes: INVALID_REQUEST,
    });
  }
}
for (const m of ['metrics', 'x402-metrics']) {
  for (const p of ['daily', 'monthly', 'summary']) {
    for (const q of ['from=yesterday', 'to=2026-13-01', 'from=2026-02-01&to=2026-01-01', 'from=2026-01-01&from=2026-01-02', 'period=day']) {
      add({
        name: `GET /api/v1/${m}/${p}?${q}`,
        send: (fx) => ({ via: 'fetch', method: 'GET', path: `/x402/api/v1/${m}/${p}?${q}`, headers: userToken(fx) }),
        status: 400,
        codes: INVALID_REQUEST,
      });
    }
  }
}
for (const path of ['/api/v1/status', '/api/v1/networks', '/api/v1/assets', '/api/v1/networks/base-sepolia']) {
  add({ name: `GET ${path}?debug=1`, send: () => ({ via: 'fetch', method: 'GET', path: `/x402${path}?debug=1` }), status: 400, codes: INVALID_REQUEST });
}
add({
  name: 'GET /api/v1/supported?x=1',
  send: (fx) => ({ via: 'fetch', method: 'GET', path: '/x402/api/v1/supported?x=1', headers: clientHeaders(fx.key) }),
  status: 400,
  codes: INVALID_REQUEST,
});
for (const id of ['unknown', 'eip155:1', 'BASE-SEPOLIA', '%00']) {
  add({
    name: `GET /api/v1/networks/${id}`,
    send: () => ({ via: 'fetch', method: 'GET', path: `/x402/api/v1/networks/${encodeURIComponent(id)}` }),
    status: 400,
    codes: INVALID_REQUEST,
  });
}
for (const id of ['0', '-3', 'abc', '1e3', '99999999999999999']) {
  add({
    name: `PUT /api/v1/resources/${id}`,
    send: (fx) => ({ via: 'fetch', method: 'PUT', path: `/x402/api/v1/resources/${id}`, headers: userToken(fx), json: RESOURCE }),
    status: 400,
    codes: INVALID_REQUEST,
  });
}
add({
  name: 'PUT /api/v1/resources/:id of another user',
  send: (fx) => ({ via: 'fetch', method: 'PUT', path: `/x402/api/v1/resources/${fx.otherResourceId}`, headers: userToken(fx), json: RESOURCE }),
  status: 403,
  codes: ['FORBIDDEN'],
});
add({
  name: 'PUT /api/v1/resources/:id unknown',
  send: (fx) => ({ via: 'fetch', method: 'PUT', path: '/x402/api/v1/resources/987654', headers: userToken(fx), json: RESOURCE }),
  status: 404,
  codes: ['NOT_FOUND'],
});
for (const id of ['short', 'UPPERCASEUPPERCASEUP', 'zzzzzzzzzzzzzzzzzzzz']) {
  add({
    name: `DELETE /api/v1/clients/${id}`,
    send: (fx) => ({ via: 'fetch', method: 'DELETE', path: `/x402/api/v1/clients/${id}`, headers: userToken(fx) }),
    status: id === 'zzzzzzzzzzzzzzzzzzzz' ? 404 : 400,
    codes: id === 'zzzzzzzzzzzzzzzzzzzz' ? ['NOT_FOUND'] : INVALID_REQUEST,
  });
}
add({
  name: 'DELETE /api/v1/clients/:id of another user',
  send: (fx) => ({ via: 'fetch', method: 'DELETE', path: `/x402/api/v1/clients/${fx.tokens['otherClientId']}`, headers: userToken(fx) }),
  status: 404,
  codes: ['NOT_FOUND'],
});
const WRONG_METHODS: [string, string][] = [
  ['DELETE', '/api/v1/verify'],
  ['GET', '/api/v1/verify'],
  ['GET', '/api/v1/settle'],
  ['POST', '/api/v1/supported'],
  ['POST', '/api/v1/status'],
  ['PUT', '/api/v1/networks'],
  ['GET', '/api/v1/signup'],
  ['GET', '/api/v1/login'],
  ['PATCH', '/api/v1/clients'],
  ['PATCH', '/api/v1/resources/1'],
  ['DELETE', '/api/v1/resources/1'],
  ['POST', '/api/v1/metrics/daily'],
  ['DELETE', '/admin/users'],
  ['PUT', '/admin/assets'],
  ['POST', '/health'],
];
for (const [method, path] of WRONG_METHODS) {
  add({ name: `${method} ${path} (wrong method)`, send: () => ({ via: 'fetch', method, path: `/x402${path}` }), status: 405, codes: ['METHOD_NOT_ALLOWED'] });
}
for (const path of [
  '/api/v1',
  '/api/v2/verify',
  '/api/v1/verify/extra',
  '/admin',
  '/admin/clients',
  '/api/v1/users',
  '/api/v1/clients/a/b',
  '/api/v1/x402-metrics',
]) {
  add({ name: `GET ${path} (no such endpoint)`, send: () => ({ via: 'fetch', method: 'GET', path: `/x402${path}` }), status: 404, codes: ['NOT_FOUND'] });
}

const NAMES = new Set(CASES.map((c) => c.name));

// ------------------------------------------------------------------ judging

function problemsOf(c: Case, outcome: Outcome | undefined): string[] {
  if (!outcome) return ['not run'];
  if (outcome.kind !== 'answer') return [outcome.kind === 'timeout' ? 'no answer (hang)' : `connection closed: ${outcome.detail}`];
  const { status, text } = outcome.answer;
  const problems: string[] = [];
  if (status >= 500) problems.push(`server error ${status}`);
  if (status !== c.status) problems.push(`status ${status}, expected ${c.status}`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return [...problems, 'body is not JSON'];
  }
  const keys = Object.keys(body).sort().join(',');
  if ((c.shape ?? 'x402') === 'x402') {
    if (keys !== 'code,details,message') problems.push(`body keys [${keys}], expected [code,details,message]`);
    if (!c.codes.includes(body['code'] as string)) problems.push(`code ${JSON.stringify(body['code'])}, expected ${c.codes.join(' | ')}`);
    if (typeof body['message'] !== 'string' || body['message'] === '') problems.push('message is not a non-empty string');
    if (typeof body['details'] !== 'string') problems.push('details is not a string');
  } else {
    if (keys !== 'details,message') problems.push(`body keys [${keys}], expected [details,message]`);
    if (body['message'] !== 'invalid session token') problems.push(`message ${JSON.stringify(body['message'])}`);
  }
  return problems;
}

// ------------------------------------------------------------------ the run

let t: TestBridge;
let fx: Fixture;
const results = new Map<string, Outcome>();
const healthChecks: { when: string; ok: boolean }[] = [];

async function healthCheck(when: string): Promise<void> {
  const outcome = await sendFetch(t.url, { via: 'fetch', method: 'GET', path: '/x402/health' });
  healthChecks.push({ when, ok: outcome.kind === 'answer' && outcome.answer.status === 200 });
}

async function setUp(): Promise<Fixture> {
  const user = await person(t);
  const other = await person(t);
  const key = await client(t, user);
  const verifyOnly = await client(t, user, { scope: 'verify' });
  const deleted = await client(t, user);
  await t.request('DELETE', `/x402/api/v1/clients/${deleted.clientId}`, { token: user.access });
  const otherClient = await client(t, other);
  const own = await t.request('POST', '/x402/api/v1/resources', { token: user.access, body: RESOURCE });
  const theirs = await t.request('POST', '/x402/api/v1/resources', { token: other.access, body: RESOURCE });
  const { key: machineKey } = await t.signup('machine');
  const admin = await t.request('POST', '/x402/admin/users', {
    token: ADMIN_TOKEN,
    body: { email: `root-${process.pid}@example.com`, password: PASSWORD, is_admin: true },
  });
  const adminLogin = await t.request('POST', '/x402/api/v1/login', { body: { email: admin.body.data.user.email, password: PASSWORD } });
  const rotated = await person(t);
  await t.request('POST', '/x402/api/v1/token/refresh', { body: { refresh_token: rotated.refresh } });

  const secrets = await loadSecrets(t.dataDir, ADMIN_TOKEN);
  const accessKey = deriveKey(secrets.sessionSecret, 'access-token');
  const refreshKey = deriveKey(secrets.sessionSecret, 'refresh-token');
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown>, k: Uint8Array, o: { aud?: string; exp?: number; sub?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(o.sub ?? String(user.id))
      .setIssuer('paywire')
      .setAudience(o.aud ?? 'paywire:x402:access')
      .setIssuedAt(now - 7_200)
      .setExpirationTime(o.exp ?? now + 600)
      .sign(k);
  const [h, p] = user.access.split('.') as [string, string];
  const [rh, rp] = user.refresh.split('.') as [string, string];
  return {
    user,
    other,
    key,
    verifyOnly,
    otherResourceId: theirs.body.data.id,
    ownResourceId: own.body.data.id,
    clientId: deleted.clientId,
    machineKey,
    tokens: {
      deletedClient: deleted.token,
      otherClientId: otherClient.clientId,
      adminUser: adminLogin.body.data.access_token,
      forged: `${h}.${p}.${'C'.repeat(43)}`,
      forgedRefresh: `${rh}.${rp}.${'D'.repeat(43)}`,
      algNone: `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: String(user.id), iss: 'paywire', aud: 'paywire:x402:access', exp: now + 600 })}.`,
      expired: await sign({}, accessKey, { exp: now - 60 }),
      wrongAudience: await sign({}, refreshKey, { aud: 'paywire:x402:refresh' }),
      noSuchUser: await sign({}, accessKey, { sub: '999999' }),
      badSubject: await sign({}, accessKey, { sub: 'admin' }),
      rotatedRefresh: rotated.refresh,
      expiredRefresh: await sign({ fam: 'f' }, refreshKey, { aud: 'paywire:x402:refresh', exp: now - 60 }),
    },
  };
}

describe('malformed requests to the x402 family', () => {
  beforeAll(async () => {
    const started = Date.now();
    t = await startX402Bridge();
    fx = await setUp();
    await sendInBatches(CASES, fx, { url: t.url, httpPort: t.info.httpPort }, healthCheck, results);
    const counts = new Map<string, number>();
    for (const c of CASES) {
      const o = results.get(c.name);
      const k = !o ? 'not run' : o.kind === 'answer' ? String(o.answer.status) : o.kind;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const failing = CASES.filter((c) => problemsOf(c, results.get(c.name)).length > 0).length;
    console.log(
      `x402 malformed: ${CASES.length} cases in ${Date.now() - started} ms; status ${[...counts]
        .sort()
        .map(([k, n]) => `${k}×${n}`)
        .join(' ')}; ${failing} failing`,
    );
  }, 120_000);
  afterAll(() => t?.close());

  it('sends at least 300 malformed requests, with unique names', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(300);
    expect(NAMES.size).toBe(CASES.length);
  });

  it('keeps answering a normal request before, during and after every batch', async () => {
    await healthCheck('at the end');
    expect(healthChecks.filter((h) => !h.ok)).toEqual([]);
  });

  it('still accepts the well-formed requests the cases are variations of', async () => {
    expect((await t.request('GET', '/x402/api/v1/supported', { headers: clientHeaders(fx.key) })).status).toBe(200);
    expect((await t.request('GET', '/x402/api/v1/clients', { token: fx.user.access })).status).toBe(200);
    expect((await t.request('POST', '/x402/api/v1/verify', { headers: clientHeaders(fx.key), body: V1 })).status).toBe(200);
    expect((await t.request('POST', '/x402/api/v1/verify', { headers: clientHeaders(fx.key), body: V2 })).status).toBe(200);
    expect((await t.request('GET', '/x402/admin/users', { token: ADMIN_TOKEN })).status).toBe(200);
  });

  for (const c of CASES) {
    it(c.name, () => {
      const outcome = results.get(c.name);
      expect(problemsOf(c, outcome), describeOutcome(outcome)).toEqual([]);
    });
  }
});
