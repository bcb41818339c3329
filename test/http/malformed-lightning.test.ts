/**
 * Malformed requests against the Lightning rail of a real listening bridge, with the discipline of
 * `malformed.test.ts`: generated cases, limited concurrency, a normal request racing and following
 * every batch, one summary line. Two error families are involved:
 *
 * - machine payments (payment links, payments, checkout, the account's wallet, the dev settle, the
 *   BTCPay webhook, the new asset pricing fields): a 4xx with exactly `{error, message}` and one of
 *   the codes of `bridge/docs/errors.ts`;
 * - LNURL (public; `/lnurl/…` and `/.well-known/lnurlp/…`): a 4xx with exactly
 *   `{status: "ERROR", reason}` (LUD-06). A 503 would be right only for a failing backend, which no
 *   case here sets up.
 *
 * None may get a 5xx, hang or take the server down. Between batches a machine-payments request must
 * answer 200 and an LNURL callback for a valid amount must still answer `{pr, routes, successAction,
 * verify}`. Afterwards no refused request may have left a trace: no payment, wallet or link change.
 *
 * The body parser's matrix (both families) and every endpoint's wiring to the parser, the API key
 * authenticator and validation are in `malformed-families.test.ts`, the API key authenticator's own
 * matrix in `malformed.test.ts`; the admin token's authenticator has its matrix here.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../bridge/docs/errors.js';
import { MAX_PRICE_SATS } from '../../bridge/machines/schemas.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import {
  chunked,
  describeOutcome,
  HEX64,
  MIB,
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
  /** Main account: full key, id, username and a read-only key. */
  key: string;
  userId: string;
  username: string;
  readKey: string;
  /** Fixed price (1,500 sats); its link is named `coffee`, takes comments up to 10 characters and is the account's primary. */
  lnAssetId: string;
  lnLinkId: string;
  /** Variable price (100 sats per unit, 50 to 1,000 sats) and its link. */
  varAssetId: string;
  varLinkId: string;
  /** A link that takes no comments. */
  quietLinkId: string;
  /** An asset with a link (auto-named) that receives malformed provisioning bodies. */
  linkAssetId: string;
  linkAssetComment: number;
  /** An asset without a payment link. */
  unlinkedAssetId: string;
  /** An asset deleted after its link was made: the link's id and address name. */
  deletedAssetId: string;
  deadLinkId: string;
  deadName: string;
  /** Assets that receive malformed PATCH/PUT bodies: fixed (1,500 sats) and variable (100 sats, 50-1,000). */
  fixedAssetId: string;
  variableAssetId: string;
  /** The one pending payment made in setup (on the fixed link): never settled by a case. */
  paymentHash: string;
  /** An account (no lightning_address) whose wallet receives malformed PUT bodies. */
  walletKey: string;
  /** A BTCPay store configured on an account wallet, and the store's webhook secret. */
  storeId: string;
  webhookSecret: string;
  /** Another account: its key, username (it has no payment link) and asset. */
  otherKey: string;
  otherUsername: string;
  otherAssetId: string;
  /** A valid session token of the main account (refused by the admin authenticator). */
  session: string;
}

interface Expect {
  /** The status, one of several, or any 4xx. */
  status: number | readonly number[] | '4xx';
  /** LNURL family: the body must be exactly `{status: "ERROR", reason}`. Otherwise machine payments. */
  lnurl?: boolean;
  /** Machine payments: allowed `error` codes (default: any documented 4xx code). */
  codes?: readonly string[];
  /** LNURL: what the reason must say. */
  reason?: RegExp;
  /** For 405: methods the Allow header must list. */
  allow?: readonly string[];
  /** Node's HTTP parser may answer before the app: then no JSON body is required. */
  nodeMayAnswer?: boolean;
}

interface Case {
  name: string;
  group: string;
  send: (fx: Fixture) => Send;
  expect: Expect;
}

/** Every code of the machine-payments errors table sent with a 4xx status. */
const DOCUMENTED_4XX: readonly string[] = ERRORS.filter((e) => e.statuses.some((s) => s >= 400 && s < 500)).map((e) => e.code);

const INVALID_JSON = { status: 400, codes: ['invalid_json'] } as const satisfies Expect;
const INVALID_BODY = { status: 400, codes: ['invalid_body'] } as const satisfies Expect;
const UNSUPPORTED = { status: 415, codes: ['invalid_body'] } as const satisfies Expect;
const MISSING_TOKEN = { status: 401, codes: ['missing_token'] } as const satisfies Expect;
const INVALID_TOKEN = { status: 401, codes: ['invalid_token'] } as const satisfies Expect;
const BAD_SIGNATURE = { status: 401, codes: ['invalid_signature'] } as const satisfies Expect;
const NOT_FOUND = { status: 404, codes: ['not_found'] } as const satisfies Expect;
const ASSET_NOT_FOUND = { status: 404, codes: ['asset_not_found'] } as const satisfies Expect;
const NOT_OWNED = { status: 403, codes: ['asset_not_owned'] } as const satisfies Expect;
const SCOPE = { status: 403, codes: ['insufficient_scope'] } as const satisfies Expect;

/** An LNURL error: `{status: "ERROR", reason}` with this status (and reason, when given). */
function ln(status: number | readonly number[], reason?: RegExp): Expect {
  return reason ? { status, lnurl: true, reason } : { status, lnurl: true };
}
const LN_REQUIRED = ln(400, /amount is required/);
const LN_RANGE = ln(400, /amount must be between/);
const LN_WHOLE = ln(400, /whole number of sats/);
const LN_TWICE = ln(400, /given more than once/);
const LN_CONTROL = ln(400, /control characters/);
const LN_NO_COMMENTS = ln(400, /no comments/);
const LN_NOT_FOUND = ln(404);
const LN_UNKNOWN_LINK = ln(404, /Unknown payment link/);
const LN_UNKNOWN_ADDRESS = ln(404, /Unknown Lightning address/);
const LN_GONE = ln(404, /no longer takes payments/);
const LN_NO_ENDPOINT = ln(404, /No such endpoint/);
const LN_NODE_4XX = { status: '4xx', lnurl: true, nodeMayAnswer: true } as const satisfies Expect;

const CASES: Case[] = [];
const NAMES = new Set<string>();
function add(group: string, name: string, send: (fx: Fixture) => Send, expectation: Expect): void {
  const full = `${group}: ${name}`;
  if (NAMES.has(full)) throw new Error(`duplicate case name ${full}`);
  NAMES.add(full);
  CASES.push({ name: full, group, send, expect: expectation });
}

/** The fixed link's price in millisatoshis (1,500 sats). */
const MSAT = 1_500_000;
/** The fixed link's comment limit. */
const COMMENT_ALLOWED = 10;

type FetchSend = Extract<Send, { via: 'fetch' }>;
const get = (path: string): FetchSend => ({ via: 'fetch', method: 'GET', path });

/** `sha256=<hex HMAC-SHA256(secret, body)>`, the BTCPay-Sig of `body`. */
const btcpaySig = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;

// --- Wrong types, ranges and formats, field by field --------------------------------------------

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
const BOOL_BAD: [string, unknown][] = [
  ['string true', 'true'],
  ['string false', 'false'],
  ['number 1', 1],
  ['number 0', 0],
  ['null', null],
  ['yes', 'yes'],
  ['empty string', ''],
  ['array', [true]],
  ['object', {}],
];
const URL_BAD: [string, unknown][] = [
  ['number', 1],
  ['null', null],
  ['true', true],
  ['array', ['https://example.com']],
  ['object', {}],
  ['empty string', ''],
  ['not a URL', 'not a url'],
  ['ftp URL', 'ftp://example.com/x'],
  ['javascript URL', 'javascript:alert(1)'],
  ['file URL', 'file:///etc/passwd'],
  ['data URL', 'data:text/html,<b>x</b>'],
  ['relative path', '/thanks'],
  ['protocol-relative', '//example.com/thanks'],
  ['scheme only', 'http://'],
  ['2,001 characters', `https://example.com/${'a'.repeat(1_981)}`],
];

interface FieldEndpoint {
  id: string;
  method: string;
  path: (fx: Fixture) => string;
  token: (fx: Fixture) => string;
  /** The body the bad value is put into (a valid one, or `{}` for PATCH). */
  base: (fx: Fixture) => Record<string, unknown>;
}
type FieldCases = [field: string, values: [label: string, value: unknown][]][];

function fieldCases(ep: FieldEndpoint, fields: FieldCases, expectation: Expect = INVALID_BODY): void {
  for (const [field, values] of fields) {
    for (const [label, value] of values) {
      add(
        `wrong type ${ep.id}`,
        `${field} ${label}`,
        (fx) => {
          const body = { ...ep.base(fx) };
          if (value === undefined) delete body[field];
          else body[field] = value;
          return { via: 'fetch', method: ep.method, path: ep.path(fx), token: ep.token(fx), json: body };
        },
        expectation,
      );
    }
  }
}

const linkEp: FieldEndpoint = {
  id: 'POST /api/v1/assets/{id}/payment-link',
  method: 'POST',
  path: (fx) => `/api/v1/assets/${fx.linkAssetId}/payment-link`,
  token: (fx) => fx.key,
  base: () => ({}),
};
fieldCases(linkEp, [
  [
    'name',
    [
      ['number', 7],
      ['true', true],
      ['null', null],
      ['array', ['coffee']],
      ['object', {}],
      ['empty string', ''],
      ['upper case', 'Coffee'],
      ['starting with a dash', '-coffee'],
      ['starting with an underscore', '_coffee'],
      ['25 characters', 'a'.repeat(25)],
      ['with a dot', 'a.b'],
      ['with a space', 'a b'],
      ['with a slash', 'a/b'],
      ['with an @', 'a@b'],
      ['non-ASCII', 'café'],
      ['emoji', '☕'],
      ['NUL', 'a\u0000b'],
      ['trailing newline', 'coffee\n'],
      ['path traversal', '../coffee'],
    ],
  ],
  ['comment_allowed', [...INT_BAD, ['negative', -1], ['1,001', 1_001], ['huge', 1e300], ['beyond 2^53', 2 ** 53 + 2], ['false', false]]],
  [
    'success_message',
    [
      ['number', 1],
      ['null', null],
      ['true', true],
      ['array', ['x']],
      ['object', {}],
      ['empty string', ''],
      ['blank string', '   '],
      ['145 characters', 'x'.repeat(145)],
      ['5,000 characters', 'x'.repeat(5_000)],
      ['NUL', 'a\u0000b'],
      ['newline', 'a\nb'],
      ['carriage return', 'a\r\nb'],
      ['tab', 'a\tb'],
      ['escape', 'a\u001b[31mb'],
      ['DEL', 'a\u007fb'],
      ['bell', '\u0007ring'],
    ],
  ],
  ['primary', BOOL_BAD],
]);

const checkoutEp: FieldEndpoint = {
  id: 'POST /api/v1/assets/{id}/checkout',
  method: 'POST',
  path: (fx) => `/api/v1/assets/${fx.lnAssetId}/checkout`,
  token: (fx) => fx.key,
  base: () => ({}),
};
fieldCases(checkoutEp, [
  [
    'amount_sats',
    [
      ...INT_BAD,
      ['zero', 0],
      ['negative', -1],
      ['above the maximum', MAX_PRICE_SATS + 1],
      ['huge', 1e300],
      ['beyond 2^53', 2 ** 53 + 2],
      ['not the fixed price (one less)', 1_499],
      ['not the fixed price (one more)', 1_501],
      ['the price in millisatoshis', MSAT],
    ],
  ],
  ['redirect_url', URL_BAD],
]);
const varCheckoutEp: FieldEndpoint = {
  ...checkoutEp,
  id: 'POST /api/v1/assets/{id}/checkout (variable price)',
  path: (fx) => `/api/v1/assets/${fx.varAssetId}/checkout`,
};
fieldCases(varCheckoutEp, [
  [
    'amount_sats',
    [
      ['missing', undefined],
      ['below min_sats', 49],
      ['above max_sats', 1_001],
      ['zero', 0],
      ['float inside the range', 100.5],
      ['numeric string inside the range', '100'],
      ['null', null],
    ],
  ],
]);
add(
  'references in body',
  'checkout on an asset without a payment link',
  (fx) => ({ via: 'fetch', method: 'POST', path: `/api/v1/assets/${fx.unlinkedAssetId}/checkout`, token: fx.key, json: {} }),
  { status: 404, codes: ['payment_link_not_found'] },
);
add(
  'references in body',
  'payment link name taken by another link of the account',
  (fx) => ({ via: 'fetch', method: 'POST', path: `/api/v1/assets/${fx.linkAssetId}/payment-link`, token: fx.key, json: { name: 'coffee' } }),
  { status: 409, codes: ['name_taken'] },
);
add(
  'references in body',
  'payment link GET before the first POST',
  (fx) => ({ via: 'fetch', method: 'GET', path: `/api/v1/assets/${fx.unlinkedAssetId}/payment-link`, token: fx.key }),
  { status: 404, codes: ['payment_link_not_found'] },
);

// The wallet: `backend` chooses which fields are allowed; each kind's fields are validated.
const walletEp: FieldEndpoint = {
  id: 'PUT /api/v1/accounts/me/wallet',
  method: 'PUT',
  path: () => '/api/v1/accounts/me/wallet',
  token: (fx) => fx.walletKey,
  base: () => ({ backend: 'dev' }),
};
fieldCases(walletEp, [
  [
    'backend',
    [
      ['missing', undefined],
      ['unknown kind', 'bogus'],
      ['upper case', 'DEV'],
      ['mixed case', 'LNbits'],
      ['trailing space', 'dev '],
      ['empty string', ''],
      ['null', null],
      ['number', 1],
      ['true', true],
      ['array', ['dev']],
      ['object', { kind: 'dev' }],
      ['__proto__', '__proto__'],
      ['constructor', 'constructor'],
      ['x402 (not a Lightning backend)', 'x402'],
    ],
  ],
]);
const KIND_BASE: Record<string, Record<string, unknown>> = {
  dev: { backend: 'dev' },
  lnbits: { backend: 'lnbits', url: 'https://lnbits.example.com', invoice_key: 'a1b2c3d4e5f6' },
  lnd: { backend: 'lnd', url: 'https://node.example.com:8080', macaroon: '0201036c6e64'.padEnd(32, '0') },
  btcpay: { backend: 'btcpay', url: 'https://btcpay.example.com', store_id: 'Store1', api_key: 'api-key-1', webhook_secret: 'whsec-1' },
  lnaddress: { backend: 'lnaddress', address: 'someone@example.com' },
};
const FOREIGN_FIELDS: [string, unknown][] = [
  ['url', 'https://example.com'],
  ['invoice_key', 'k'],
  ['macaroon', '00'.repeat(16)],
  ['tls_cert', '-----BEGIN CERTIFICATE-----'],
  ['store_id', 'Store1'],
  ['api_key', 'k'],
  ['webhook_secret', 's'],
  ['address', 'someone@example.com'],
];
const OWN_FIELDS: Record<string, string[]> = {
  dev: [],
  lnbits: ['url', 'invoice_key'],
  lnd: ['url', 'macaroon', 'tls_cert'],
  btcpay: ['url', 'store_id', 'api_key', 'webhook_secret'],
  lnaddress: ['address'],
};
const SECRET_BAD = (max: number): [string, unknown][] => [
  ['missing', undefined],
  ['a number (secret as a number)', 123_456],
  ['a float', 1.5],
  ['null', null],
  ['true', true],
  ['an array', ['k']],
  ['an object', { value: 'k' }],
  ['empty string', ''],
  ['with a space', 'ab cd'],
  ['with a newline', 'ab\ncd'],
  ['non-ASCII', 'clé'],
  [`${max + 1} characters`, 'k'.repeat(max + 1)],
];
const WALLET_KINDS: [kind: string, fields: FieldCases][] = [
  ['dev', []],
  [
    'lnbits',
    [
      ['url', [['missing', undefined], ...URL_BAD.filter(([l]) => !['relative path', 'protocol-relative'].includes(l))]],
      ['invoice_key', SECRET_BAD(256)],
    ],
  ],
  [
    'lnd',
    [
      [
        'url',
        [
          ['missing', undefined],
          ['number', 8080],
          ['ftp URL', 'ftp://node.example.com'],
          ['not a URL', 'node:8080 x'],
        ],
      ],
      [
        'macaroon',
        [
          ['missing', undefined],
          ['a number (secret as a number)', 201036],
          ['null', null],
          ['array', ['02']],
          ['not hex', 'zz'.repeat(16)],
          ['odd number of hex digits', '0'.repeat(33)],
          ['7 bytes', '00'.repeat(7)],
          ['8,193 bytes', '00'.repeat(8_193)],
          ['base64 instead of hex', Buffer.from('macaroon-bytes-0123').toString('base64')],
        ],
      ],
      [
        'tls_cert',
        [
          ['number', 1],
          ['null', null],
          ['empty string', ''],
          ['not a PEM', 'not a certificate'],
          ['PEM frame around garbage', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'],
          ['a private key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'],
          ['20,001 characters', 'x'.repeat(20_001)],
        ],
      ],
    ],
  ],
  [
    'btcpay',
    [
      [
        'url',
        [
          ['missing', undefined],
          ['number', 1],
          ['javascript URL', 'javascript:alert(1)'],
        ],
      ],
      [
        'store_id',
        [
          ['missing', undefined],
          ['number', 1],
          ['empty string', ''],
          ['with a space', 'my store'],
          ['with a slash', 'a/b'],
          ['101 characters', 's'.repeat(101)],
          ['null', null],
        ],
      ],
      ['api_key', SECRET_BAD(512).slice(0, 9)],
      ['webhook_secret', SECRET_BAD(512)],
    ],
  ],
  [
    'lnaddress',
    [
      [
        'address',
        [
          ['missing (the account has no lightning_address)', undefined],
          ['null', null],
          ['number', 7],
          ['array', ['someone@example.com']],
          ['no @', 'not-an-address'],
          ['no dot in domain', 'a@b'],
          ['empty local part', '@example.com'],
          ['two @', 'you@@example.com'],
          ['space in domain', 'you@exa mple.com'],
          ['URL', 'https://example.com/you'],
          ['NUL', 'you@example.com\u0000'],
          ['local part of 65 characters', `${'x'.repeat(65)}@example.com`],
        ],
      ],
    ],
  ],
];
for (const [kind, fields] of WALLET_KINDS) {
  const ep: FieldEndpoint = { ...walletEp, id: `PUT /api/v1/accounts/me/wallet (${kind})`, base: () => ({ ...KIND_BASE[kind] }) };
  fieldCases(ep, fields);
  // Fields of another kind: `{backend: "dev", url: …}`, `{backend: "lnbits", macaroon: …}`, …
  for (const [field, value] of FOREIGN_FIELDS) {
    if (OWN_FIELDS[kind]?.includes(field)) continue;
    add(
      `wrong type ${ep.id}`,
      `field of another kind: ${field}`,
      (fx) => ({ via: 'fetch', method: 'PUT', path: '/api/v1/accounts/me/wallet', token: fx.walletKey, json: { ...KIND_BASE[kind], [field]: value } }),
      INVALID_BODY,
    );
  }
  add(
    `wrong type ${ep.id}`,
    'settings nested in an object',
    (fx) => ({
      via: 'fetch',
      method: 'PUT',
      path: '/api/v1/accounts/me/wallet',
      token: fx.walletKey,
      json: { backend: kind, settings: { ...KIND_BASE[kind], backend: undefined } },
    }),
    INVALID_BODY,
  );
  add(
    `wrong type ${ep.id}`,
    'backend given twice, the last one unknown',
    (fx) => ({
      via: 'fetch',
      method: 'PUT',
      path: '/api/v1/accounts/me/wallet',
      token: fx.walletKey,
      raw: `${JSON.stringify(KIND_BASE[kind]).slice(0, -1)},"backend":"bogus"}`,
    }),
    INVALID_BODY,
  );
}

// The BTCPay webhook. Unsigned or wrongly signed: 401 whatever the payload, once it names a store.
const WEBHOOK = '/api/public/lightning/btcpay/webhook';
/** A payload the webhook parses (still unsigned). */
const hookPayload = (fx: Fixture): Record<string, unknown> => ({
  storeId: fx.storeId,
  deliveryId: 'dlv-malformed',
  type: 'InvoiceSettled',
  invoiceId: 'inv-malformed',
});
const webhook = (body: string, sig: string | undefined): Send => ({
  via: 'fetch',
  method: 'POST',
  path: WEBHOOK,
  raw: body,
  ...(sig === undefined ? {} : { headers: { 'btcpay-sig': sig } }),
});
const hookBody = (fx: Fixture, extra: Record<string, unknown> = {}): string => JSON.stringify({ ...hookPayload(fx), ...extra });
const BAD_SIGS: [string, (fx: Fixture, body: string) => string][] = [
  ['empty BTCPay-Sig', () => ''],
  ['blank BTCPay-Sig', () => '   '],
  ['hex without the sha256= prefix', (fx, b) => btcpaySig(fx.webhookSecret, b).slice(7)],
  ['sha1= prefix', (fx, b) => `sha1=${btcpaySig(fx.webhookSecret, b).slice(7, 47)}`],
  ['sha512= prefix with the right hex', (fx, b) => `sha512=${btcpaySig(fx.webhookSecret, b).slice(7)}`],
  ['63 hex digits', (fx, b) => btcpaySig(fx.webhookSecret, b).slice(0, -1)],
  ['65 hex digits', (fx, b) => `${btcpaySig(fx.webhookSecret, b)}0`],
  ['non-hex', () => `sha256=${'zz'.repeat(32)}`],
  ['base64 of the HMAC', (fx, b) => `sha256=${createHmac('sha256', fx.webhookSecret).update(b).digest('base64')}`],
  ['two signatures, comma-separated', (fx, b) => `${btcpaySig(fx.webhookSecret, b)},${btcpaySig(fx.webhookSecret, b)}`],
  ['Bearer admin token', () => `Bearer ${ADMIN_TOKEN}`],
  ['signature of another body', (fx) => btcpaySig(fx.webhookSecret, '{}')],
  ['signature under another secret', (_fx, b) => btcpaySig('not-the-webhook-secret', b)],
  ['signature under an empty secret', (_fx, b) => btcpaySig('', b)],
  ['signature of the body without its last byte', (fx, b) => btcpaySig(fx.webhookSecret, b.slice(0, -1))],
  ['all zeros', () => `sha256=${'0'.repeat(64)}`],
  ['8 KiB header', () => `sha256=${'a'.repeat(8_192)}`],
];
add('webhook signature', 'no BTCPay-Sig header', (fx) => webhook(hookBody(fx), undefined), BAD_SIGNATURE);
add('webhook signature', 'no BTCPay-Sig header, unknown store', (fx) => webhook(hookBody(fx, { storeId: 'NoSuchStore' }), undefined), BAD_SIGNATURE);
add('webhook signature', 'valid-looking signature, unknown store', (fx) => webhook(hookBody(fx, { storeId: 'NoSuchStore' }), `sha256=${HEX64}`), BAD_SIGNATURE);
add(
  'webhook signature',
  "the store's signature, but the body names an unknown store",
  (fx) => {
    const body = hookBody(fx, { storeId: 'NoSuchStore' });
    return webhook(body, btcpaySig(fx.webhookSecret, body));
  },
  BAD_SIGNATURE,
);
add(
  'webhook signature',
  'signed, then a space appended to the body',
  (fx) => {
    const body = hookBody(fx);
    return webhook(`${body} `, btcpaySig(fx.webhookSecret, body));
  },
  BAD_SIGNATURE,
);
add(
  'webhook signature',
  'signed, then re-serialised with other spacing',
  (fx) => {
    const body = hookBody(fx);
    return webhook(JSON.stringify(JSON.parse(body), null, 1), btcpaySig(fx.webhookSecret, body));
  },
  BAD_SIGNATURE,
);
add('webhook signature', 'payload without deliveryId, unsigned', (fx) => webhook(JSON.stringify({ storeId: fx.storeId }), undefined), BAD_SIGNATURE);
for (const [label, sig] of BAD_SIGS) {
  add(
    'webhook signature',
    label,
    (fx) => {
      const body = hookBody(fx);
      return webhook(body, sig(fx, body));
    },
    BAD_SIGNATURE,
  );
}
// The store id is read before the signature (it chooses the secrets): a bad one is a bad body.
const BAD_STORE_IDS: [string, unknown][] = [
  ['missing', undefined],
  ['null', null],
  ['number', 1],
  ['true', true],
  ['array', ['Store1']],
  ['object', {}],
  ['empty string', ''],
  ['201 characters', 's'.repeat(201)],
];
for (const [label, value] of BAD_STORE_IDS) {
  add(
    'webhook payload',
    `storeId ${label}, unsigned`,
    (fx) => {
      const body: Record<string, unknown> = { ...hookPayload(fx) };
      if (value === undefined) delete body['storeId'];
      else body['storeId'] = value;
      return webhook(JSON.stringify(body), undefined);
    },
    INVALID_BODY,
  );
}
// Correctly signed by the store's secret, but the payload is malformed: 400 invalid_body.
const SIGNED_BAD: [string, Record<string, unknown>][] = [
  ['deliveryId missing', { deliveryId: undefined }],
  ['deliveryId number', { deliveryId: 1 }],
  ['deliveryId null', { deliveryId: null }],
  ['deliveryId empty', { deliveryId: '' }],
  ['deliveryId of 201 characters', { deliveryId: 'd'.repeat(201) }],
  ['type missing', { type: undefined }],
  ['type number', { type: 1 }],
  ['type empty', { type: '' }],
  ['type array', { type: ['InvoiceSettled'] }],
  ['type of 101 characters', { type: 'T'.repeat(101) }],
  ['invoiceId number', { invoiceId: 42 }],
  ['invoiceId object', { invoiceId: {} }],
  ['invoiceId of 201 characters', { invoiceId: 'i'.repeat(201) }],
  ['isRedelivery string', { isRedelivery: 'yes' }],
  ['isRedelivery number', { isRedelivery: 1 }],
  ['originalDeliveryId number', { originalDeliveryId: 1 }],
  ['originalDeliveryId of 201 characters', { originalDeliveryId: 'o'.repeat(201) }],
  ['metadata string', { metadata: 'orderId=1' }],
  ['metadata array', { metadata: [{ orderId: 'x' }] }],
  ['metadata number', { metadata: 1 }],
];
for (const [label, extra] of SIGNED_BAD) {
  add(
    'webhook payload',
    `${label}, correctly signed`,
    (fx) => {
      const body = hookBody(fx, extra);
      return webhook(body, btcpaySig(fx.webhookSecret, body));
    },
    INVALID_BODY,
  );
}

// --- New asset fields: pricing, min_sats, max_sats, refuse_when_offline -------------------------

const SATS_BAD: [string, unknown][] = [
  ...INT_BAD.filter(([l]) => l !== 'null'),
  ['false', false],
  ['zero', 0],
  ['negative', -1],
  ['above the maximum', MAX_PRICE_SATS + 1],
  ['huge', 1e300],
  ['beyond 2^53', 2 ** 53 + 2],
];
const PRICING_BAD: [string, unknown][] = [
  ['unknown', 'dynamic'],
  ['upper case', 'Fixed'],
  ['all caps', 'VARIABLE'],
  ['trailing space', 'fixed '],
  ['empty string', ''],
  ['null', null],
  ['number', 1],
  ['true', true],
  ['array', ['fixed']],
  ['object', {}],
];
const ASSET_FIELDS: FieldCases = [
  ['pricing', PRICING_BAD],
  ['min_sats', SATS_BAD],
  ['max_sats', SATS_BAD],
  ['refuse_when_offline', BOOL_BAD],
];
fieldCases(
  {
    id: 'POST /api/v1/assets',
    method: 'POST',
    path: () => '/api/v1/assets',
    token: (fx) => fx.key,
    base: () => ({ name: 'Range test', price_sats: 100, pricing: 'variable' }),
  },
  ASSET_FIELDS,
);
fieldCases(
  { id: 'PATCH /api/v1/assets/{id} (fixed)', method: 'PATCH', path: (fx) => `/api/v1/assets/${fx.fixedAssetId}`, token: (fx) => fx.key, base: () => ({}) },
  ASSET_FIELDS.map(([f, v]) => [f, v.slice(0, 5)]),
);
fieldCases(
  {
    id: 'PUT /api/v1/assets/{id} (variable)',
    method: 'PUT',
    path: (fx) => `/api/v1/assets/${fx.variableAssetId}`,
    token: (fx) => fx.key,
    base: () => ({ name: 'EV charger', price_sats: 100, pricing: 'variable' }),
  },
  ASSET_FIELDS.map(([f, v]) => [f, v.slice(0, 4)]),
);

/** Bodies that type-check but whose range contradicts the pricing: 400 invalid_body. */
const RANGES: [label: string, method: string, target: 'new' | 'fixed' | 'variable', body: Record<string, unknown>][] = [
  ['min_sats on a fixed price', 'POST', 'new', { name: 'r', price_sats: 100, min_sats: 10 }],
  ['max_sats on a fixed price', 'POST', 'new', { name: 'r', price_sats: 100, max_sats: 1_000 }],
  ['both on an explicit fixed price', 'POST', 'new', { name: 'r', price_sats: 100, pricing: 'fixed', min_sats: 100, max_sats: 100 }],
  ['min_sats above max_sats', 'POST', 'new', { name: 'r', price_sats: 100, pricing: 'variable', min_sats: 500, max_sats: 50 }],
  ['min_sats one above max_sats', 'POST', 'new', { name: 'r', price_sats: 100, pricing: 'variable', min_sats: 51, max_sats: 50 }],
  ['min_sats above the default max (100 × price)', 'POST', 'new', { name: 'r', price_sats: 10, pricing: 'variable', min_sats: 2_000 }],
  ['max_sats below the default min (the price)', 'POST', 'new', { name: 'r', price_sats: 1_500, pricing: 'variable', max_sats: 10 }],
  ['min_sats on a fixed asset', 'PATCH', 'fixed', { min_sats: 10 }],
  ['max_sats on a fixed asset', 'PATCH', 'fixed', { max_sats: 10_000 }],
  ['pricing fixed with min_sats', 'PATCH', 'fixed', { pricing: 'fixed', min_sats: 1_500 }],
  ['switch to variable with max_sats below the price', 'PATCH', 'fixed', { pricing: 'variable', max_sats: 1 }],
  ['switch to variable with min_sats above max_sats', 'PATCH', 'fixed', { pricing: 'variable', min_sats: 10, max_sats: 5 }],
  ['max_sats below the stored min_sats', 'PATCH', 'variable', { max_sats: 10 }],
  ['min_sats above the stored max_sats', 'PATCH', 'variable', { min_sats: 2_000 }],
  ['switch to fixed keeping a max_sats', 'PATCH', 'variable', { pricing: 'fixed', max_sats: 5 }],
  ['switch to fixed with min_sats', 'PATCH', 'variable', { pricing: 'fixed', min_sats: 50 }],
  ['replace with a range but no pricing (fixed)', 'PUT', 'variable', { name: 'EV charger', price_sats: 100, min_sats: 60 }],
  ['replace with max_sats but no pricing (fixed)', 'PUT', 'fixed', { name: 'Fixed', price_sats: 1_500, max_sats: 3_000 }],
  ['replace as variable with min_sats above max_sats', 'PUT', 'fixed', { name: 'Fixed', price_sats: 1_500, pricing: 'variable', min_sats: 100, max_sats: 50 }],
  ['replace as variable with max_sats below the price', 'PUT', 'fixed', { name: 'Fixed', price_sats: 1_500, pricing: 'variable', max_sats: 1 }],
];
for (const [label, method, target, body] of RANGES) {
  add(
    `pricing range ${method} /api/v1/assets${target === 'new' ? '' : '/{id}'}`,
    label,
    (fx) => {
      const path = target === 'new' ? '/api/v1/assets' : `/api/v1/assets/${target === 'fixed' ? fx.fixedAssetId : fx.variableAssetId}`;
      return { via: 'fetch', method, path, token: fx.key, json: body };
    },
    INVALID_BODY,
  );
}

// --- Authorization -------------------------------------------------------------------------------
// The API key and session token authenticator's matrix runs once, in malformed.test.ts; every
// Lightning endpoint's wiring to it (no token: 401; a read-only key on a write: 403) is checked in
// malformed-families.test.ts. The admin token's authenticator has its own matrix here.

// The dev settle takes the admin token only: every other credential is 401.
const settlePath = (hash: string): string => `/api/v1/dev/payments/${hash}/settle`;
const ADMIN_VARIANTS: [string, (fx: Fixture) => string | undefined, Expect][] = [
  ['no Authorization header', () => undefined, MISSING_TOKEN],
  ['empty Authorization header', () => '', MISSING_TOKEN],
  ['Bearer alone', () => 'Bearer', INVALID_TOKEN],
  ['wrong token', () => 'Bearer wrong-admin-token-0000000000', INVALID_TOKEN],
  ['admin token with one more character', () => `Bearer ${ADMIN_TOKEN}x`, INVALID_TOKEN],
  ['admin token without its last character', () => `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, INVALID_TOKEN],
  ['admin token in upper case', () => `Bearer ${ADMIN_TOKEN.toUpperCase()}`, INVALID_TOKEN],
  ['admin token twice', () => `Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}`, INVALID_TOKEN],
  ['quoted admin token', () => `Bearer "${ADMIN_TOKEN}"`, INVALID_TOKEN],
  ['Basic with the admin token', () => `Basic ${ADMIN_TOKEN}`, INVALID_TOKEN],
  ['Basic user:admin token', () => `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`, INVALID_TOKEN],
  ['Token scheme with the admin token', () => `Token ${ADMIN_TOKEN}`, INVALID_TOKEN],
  ['sha256 of the admin token', () => `Bearer ${createHmac('sha256', '').update(ADMIN_TOKEN).digest('hex')}`, INVALID_TOKEN],
  ["a user's full API key", (fx) => `Bearer ${fx.key}`, INVALID_TOKEN],
  ["a user's read-only key", (fx) => `Bearer ${fx.readKey}`, INVALID_TOKEN],
  ["a user's session token", (fx) => `Bearer ${fx.session}`, INVALID_TOKEN],
  ['well-formed unknown API key', () => `Bearer ${UNKNOWN_KEY}`, INVALID_TOKEN],
  ['8 KiB token', () => `Bearer ${'a'.repeat(8_192)}`, INVALID_TOKEN],
];
for (const [label, header, expectation] of ADMIN_VARIANTS) {
  add(
    'auth POST /api/v1/dev/payments/{hash}/settle',
    label,
    (fx) => {
      const value = header(fx);
      return { via: 'fetch', method: 'POST', path: settlePath(HEX64), headers: value === undefined ? {} : { authorization: value } };
    },
    expectation,
  );
}
add(
  'auth POST /api/v1/dev/payments/{hash}/settle',
  "a user's key, on a real pending payment",
  (fx) => ({ via: 'fetch', method: 'POST', path: settlePath(fx.paymentHash), token: fx.key }),
  INVALID_TOKEN,
);
add(
  'auth POST /api/v1/dev/payments/{hash}/settle',
  'no token, on a real pending payment',
  (fx) => ({ via: 'fetch', method: 'POST', path: settlePath(fx.paymentHash) }),
  MISSING_TOKEN,
);
add(
  'auth POST /api/v1/dev/payments/{hash}/settle',
  'unicode token (raw UTF-8 bytes)',
  () => ({
    via: 'socket',
    bytes: Buffer.from(rawHead('POST', settlePath(HEX64), { Authorization: `Bearer ${ADMIN_TOKEN}é€😀` }), 'utf8'),
  }),
  INVALID_TOKEN,
);
add(
  'auth POST /api/v1/dev/payments/{hash}/settle',
  'two Authorization headers, first one wrong (raw socket)',
  () => ({
    via: 'socket',
    bytes: `POST ${settlePath(HEX64)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer wrong\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n\r\n`,
  }),
  INVALID_TOKEN,
);

// Hashes: malformed is 400, well-formed but unknown is 404 payment_not_found.
const BAD_HASHES: [string, (fx: Fixture) => string][] = [
  ['xyz', () => 'xyz'],
  ['63 hex digits', () => HEX64.slice(1)],
  ['65 hex digits', () => `${HEX64}a`],
  ['64 non-hex characters', () => 'g'.repeat(64)],
  ['0x prefix', () => `0x${HEX64.slice(2)}`],
  ['real hash with a trailing character', (fx) => `${fx.paymentHash}0`],
  ['real hash without its last character', (fx) => fx.paymentHash.slice(0, -1)],
  ['NUL (%00)', () => '%00'],
  ['4,000 characters', () => 'a'.repeat(4_000)],
  ['encoded slash', () => `${HEX64.slice(0, 32)}%2F${HEX64.slice(32)}`],
  ['dot', () => `${HEX64.slice(1)}.`],
  ['invalid percent-encoding', () => '%ZZ'],
  ['unicode', () => '%C3%A9t%C3%A9'],
  ['__proto__', () => '__proto__'],
  ['constructor', () => 'constructor'],
  ['space inside', () => `${HEX64.slice(0, 32)}%20${HEX64.slice(33)}`],
];
for (const [label, hash] of BAD_HASHES) {
  add(
    'path hash POST /api/v1/dev/payments/{hash}/settle',
    label,
    (fx) => ({ via: 'fetch', method: 'POST', path: settlePath(hash(fx)), token: ADMIN_TOKEN }),
    INVALID_BODY,
  );
}
const UNKNOWN_HASHES: [string, (fx: Fixture) => string][] = [
  ['unknown hash', () => HEX64],
  ['all zeros', () => '0'.repeat(64)],
  ['unknown hash in upper case', () => HEX64.toUpperCase()],
  ['real hash with its last digit changed', (fx) => `${fx.paymentHash.slice(0, -1)}${fx.paymentHash.endsWith('0') ? '1' : '0'}`],
];
for (const [label, hash] of UNKNOWN_HASHES) {
  add('path hash POST /api/v1/dev/payments/{hash}/settle', label, (fx) => ({ via: 'fetch', method: 'POST', path: settlePath(hash(fx)), token: ADMIN_TOKEN }), {
    status: 404,
    codes: ['payment_not_found'],
  });
}
add(
  'path hash POST /api/v1/dev/payments/{hash}/settle',
  'invalid JSON body',
  () => ({ via: 'fetch', method: 'POST', path: settlePath(HEX64), token: ADMIN_TOKEN, raw: '{oops' }),
  INVALID_JSON,
);
add(
  'path hash POST /api/v1/dev/payments/{hash}/settle',
  'text body',
  () => ({ via: 'fetch', method: 'POST', path: settlePath(HEX64), token: ADMIN_TOKEN, raw: 'settle please', headers: { 'content-type': 'text/plain' } }),
  UNSUPPORTED,
);

// --- Query strings -------------------------------------------------------------------------------

const badPaymentQueries: [string, string][] = [
  ['unknown param', 'foo=1'],
  ['unknown flag', 'debug'],
  ['repeated limit', 'limit=1&limit=2'],
  ['repeated status', 'status=pending&status=settled'],
  ['repeated cursor', 'cursor=czE&cursor=czI'],
  ['limit=0', 'limit=0'],
  ['limit=-1', 'limit=-1'],
  ['limit=abc', 'limit=abc'],
  ['limit=201', 'limit=201'],
  ['limit=100000', 'limit=100000'],
  ['limit=1.5', 'limit=1.5'],
  ['limit=1e2', 'limit=1e2'],
  ['limit empty', 'limit='],
  ['limit with spaces', 'limit=%2010%20'],
  ['limit of 400 digits', `limit=${'9'.repeat(400)}`],
  ['limit bad percent-encoding', 'limit=%ZZ'],
  ['limit as array syntax', 'limit[]=5'],
  ['status=bogus', 'status=bogus'],
  ['status=paid (an event type)', 'status=paid'],
  ['status upper case', 'status=PENDING'],
  ['status empty', 'status='],
  ['status with NUL', 'status=pending%00'],
  ['status invalid UTF-8', 'status=%FF'],
  ['status=failed (a delivery status)', 'status=failed'],
  ['cursor of random base64', `cursor=${Buffer.from('hello world').toString('base64url')}`],
  ['cursor random bytes', `cursor=${Buffer.from([0x01, 0x02, 0xff, 0xfe, 0x80]).toString('base64url')}`],
  ['cursor=%00', 'cursor=%00'],
  ['cursor empty', 'cursor='],
  ['cursor of 65 characters', `cursor=${'A'.repeat(65)}`],
  ['cursor s0', `cursor=${Buffer.from('s0').toString('base64url')}`],
  ['cursor s-1', `cursor=${Buffer.from('s-1').toString('base64url')}`],
  ['cursor of 17 digits', `cursor=${Buffer.from(`s${'9'.repeat(17)}`).toString('base64url')}`],
  ['cursor JSON', `cursor=${Buffer.from('{"seq":1}').toString('base64url')}`],
  ['type is not a payments param', 'type=paid'],
  ['since is not a payments param', 'since=2025-01-31T12:00:00Z'],
  ['asset_id is not a payments param', 'asset_id=abc'],
  ['__proto__ param', '__proto__=x'],
  ['__proto__ object param', '__proto__[limit]=1'],
  ['constructor param', 'constructor=x'],
  ['1,200 unknown params', Array.from({ length: 1_200 }, (_, i) => `p${i}=1`).join('&')],
];
for (const [label, query] of badPaymentQueries) {
  add(
    'query GET /api/v1/assets/{id}/payments',
    label,
    (fx) => ({ via: 'fetch', method: 'GET', path: `/api/v1/assets/${fx.lnAssetId}/payments?${query}`, token: fx.key }),
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
}
const ID_ENDPOINTS: IdEndpoint[] = [
  { label: 'POST /api/v1/assets/{id}/payment-link', method: 'POST', path: (id) => `/api/v1/assets/${id}/payment-link`, body: {} },
  { label: 'GET /api/v1/assets/{id}/payment-link', method: 'GET', path: (id) => `/api/v1/assets/${id}/payment-link` },
  { label: 'GET /api/v1/assets/{id}/payments', method: 'GET', path: (id) => `/api/v1/assets/${id}/payments` },
  { label: 'POST /api/v1/assets/{id}/checkout', method: 'POST', path: (id) => `/api/v1/assets/${id}/checkout`, body: {} },
];
// Malformed ids: the shared id validator's matrix runs once, in malformed.test.ts.
const UNKNOWN_IDS: [string, string][] = [
  ['unknown id', UNKNOWN_ID],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['toString', 'toString'],
  ['64 characters', 'a'.repeat(64)],
];
for (const ep of ID_ENDPOINTS) {
  const g = `path id ${ep.label}`;
  const send = (fx: Fixture, id: string): Send => ({
    via: 'fetch',
    method: ep.method,
    path: ep.path(id),
    token: fx.key,
    ...(ep.body === undefined ? {} : { json: ep.body }),
  });
  for (const [label, id] of UNKNOWN_IDS) add(g, label, (fx) => send(fx, id), ASSET_NOT_FOUND);
  add(g, 'deleted asset (it had a link)', (fx) => send(fx, fx.deletedAssetId), ASSET_NOT_FOUND);
  add(g, 'the link id instead of the asset id', (fx) => send(fx, fx.lnLinkId), ASSET_NOT_FOUND);
}

// --- Wrong methods and unknown paths on the machine-payments side -------------------------------

const WRONG_METHODS: [string, string, readonly string[]][] = [
  ['PUT', '/api/v1/assets/abc/payment-link', ['GET', 'POST']],
  ['PATCH', '/api/v1/assets/abc/payment-link', ['GET', 'POST']],
  ['DELETE', '/api/v1/assets/abc/payment-link', ['GET', 'POST']],
  ['POST', '/api/v1/assets/abc/payments', ['GET']],
  ['PUT', '/api/v1/assets/abc/payments', ['GET']],
  ['DELETE', '/api/v1/assets/abc/payments', ['GET']],
  ['GET', '/api/v1/assets/abc/checkout', ['POST']],
  ['PUT', '/api/v1/assets/abc/checkout', ['POST']],
  ['DELETE', '/api/v1/assets/abc/checkout', ['POST']],
  ['POST', '/api/v1/accounts/me/wallet', ['GET', 'PUT', 'DELETE']],
  ['PATCH', '/api/v1/accounts/me/wallet', ['GET', 'PUT', 'DELETE']],
  ['GET', `/api/v1/dev/payments/${HEX64}/settle`, ['POST']],
  ['PUT', `/api/v1/dev/payments/${HEX64}/settle`, ['POST']],
  ['DELETE', `/api/v1/dev/payments/${HEX64}/settle`, ['POST']],
  ['GET', WEBHOOK, ['POST']],
  ['PUT', WEBHOOK, ['POST']],
  ['DELETE', WEBHOOK, ['POST']],
  ['PROPFIND', '/api/v1/accounts/me/wallet', ['GET', 'PUT', 'DELETE']],
];
for (const [method, path, allow] of WRONG_METHODS) {
  add('wrong method', `${method} ${path.replace(HEX64, '{hash}')}`, (fx) => ({ via: 'fetch', method, path, token: fx.key }), {
    status: 405,
    codes: ['method_not_allowed'],
    allow,
  });
}
add('wrong method', 'GET settle with the admin token', () => ({ via: 'fetch', method: 'GET', path: settlePath(HEX64), token: ADMIN_TOKEN }), {
  status: 405,
  codes: ['method_not_allowed'],
  allow: ['POST'],
});
add(
  'wrong method',
  'PATCH wallet with a valid body',
  (fx) => ({ via: 'fetch', method: 'PATCH', path: '/api/v1/accounts/me/wallet', token: fx.walletKey, json: { backend: 'dev' } }),
  { status: 405, codes: ['method_not_allowed'], allow: ['GET', 'PUT', 'DELETE'] },
);

const UNKNOWN_PATHS: [string, string][] = [
  ['GET', '/api/v1/assets/abc/payment-link/extra'],
  ['GET', '/api/v1/assets/abc/payments/xyz'],
  ['POST', '/api/v1/assets/abc/checkout/xyz'],
  ['GET', '/api/v1/assets/abc/payment-links'],
  ['GET', '/api/v1/accounts/me/wallet/secrets'],
  ['GET', '/api/v1/accounts/me/wallets'],
  ['GET', '/api/v1/dev'],
  ['POST', '/api/v1/dev/payments'],
  ['POST', `/api/v1/dev/payments/${HEX64}`],
  ['POST', `/api/v1/dev/payments/${HEX64}/settle/now`],
  ['POST', '/api/v1/dev/invoices/abc/settle'],
  ['POST', '/api/public/lightning'],
  ['POST', '/api/public/lightning/btcpay'],
  ['POST', '/api/public/lightning/lnbits/webhook'],
  ['POST', `${WEBHOOK}/extra`],
];
for (const [method, path] of UNKNOWN_PATHS) {
  add('unknown path', `${method} ${path.replace(HEX64, '{hash}')}`, (fx) => ({ via: 'fetch', method, path, token: fx.key }), NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// The LNURL family
// ---------------------------------------------------------------------------------------------

const callback = (linkId: string, query: string): string => `/lnurl/pay/${linkId}/callback${query === '' ? '' : `?${query}`}`;

/** Amount values and what is wrong with them, for the fixed link (exactly 1,500,000 msat). */
const BAD_AMOUNTS: [string, string, Expect][] = [
  ['missing', '', LN_REQUIRED],
  ['empty', 'amount=', LN_REQUIRED],
  ['flag without a value', 'amount', LN_REQUIRED],
  ['non-numeric', 'amount=abc', LN_REQUIRED],
  ['negative', `amount=-${MSAT}`, LN_REQUIRED],
  ['leading plus (%2B)', `amount=%2B${MSAT}`, LN_REQUIRED],
  ['raw plus (a space)', `amount=+${MSAT}`, LN_REQUIRED],
  ['leading space', `amount=%20${MSAT}`, LN_REQUIRED],
  ['trailing space', `amount=${MSAT}%20`, LN_REQUIRED],
  ['decimal .0', `amount=${MSAT}.0`, LN_REQUIRED],
  ['decimal .5', `amount=${MSAT}.5`, LN_REQUIRED],
  ['decimal comma', `amount=${MSAT},0`, LN_REQUIRED],
  ['exponent 1.5e6', 'amount=1.5e6', LN_REQUIRED],
  ['exponent 15E5', 'amount=15E5', LN_REQUIRED],
  ['exponent 1e400', 'amount=1e400', LN_REQUIRED],
  ['hex 0x16E360', 'amount=0x16E360', LN_REQUIRED],
  ['binary 0b101', 'amount=0b101', LN_REQUIRED],
  ['2^64', 'amount=18446744073709551616', LN_REQUIRED],
  ['2^64 - 1 (20 digits)', 'amount=18446744073709551615', LN_REQUIRED],
  ['30 digits', `amount=${'9'.repeat(30)}`, LN_REQUIRED],
  ['400 digits', `amount=${'9'.repeat(400)}`, LN_REQUIRED],
  ['19 digits', 'amount=9999999999999999999', LN_RANGE],
  ['2^53 + 1', 'amount=9007199254740993', LN_RANGE],
  ['zero', 'amount=0', LN_RANGE],
  ['1 msat', 'amount=1', LN_RANGE],
  ['the price in sats, not msat', 'amount=1500', LN_RANGE],
  ['one sat below the price', 'amount=1499000', LN_RANGE],
  ['one sat above the price', 'amount=1501000', LN_RANGE],
  ['1500001 (not a whole sat)', 'amount=1500001', LN_RANGE],
  ['1499999 (not a whole sat)', 'amount=1499999', LN_RANGE],
  ['Infinity', 'amount=Infinity', LN_REQUIRED],
  ['NaN', 'amount=NaN', LN_REQUIRED],
  ['null', 'amount=null', LN_REQUIRED],
  ['true', 'amount=true', LN_REQUIRED],
  ['thousands separators', 'amount=1,500,000', LN_REQUIRED],
  ['underscores', 'amount=1_500_000', LN_REQUIRED],
  ['with a unit', `amount=${MSAT}msat`, LN_REQUIRED],
  ['NUL-terminated', `amount=${MSAT}%00`, LN_REQUIRED],
  ['invalid UTF-8', 'amount=%FF', LN_REQUIRED],
  ['full-width digits', `amount=${encodeURIComponent('１５０００００')}`, LN_REQUIRED],
  ['Arabic-Indic digits', `amount=${encodeURIComponent('١٥٠٠٠٠٠')}`, LN_REQUIRED],
  ['JSON array', `amount=${encodeURIComponent(`[${MSAT}]`)}`, LN_REQUIRED],
  ['semicolon separator', `amount=${MSAT};comment=x`, LN_REQUIRED],
  ['array syntax amount[]', `amount[]=${MSAT}`, LN_REQUIRED],
  ['upper-case AMOUNT', `AMOUNT=${MSAT}`, LN_REQUIRED],
  ['1,000 unknown params and no amount', Array.from({ length: 1_000 }, (_, i) => `p${i}=1`).join('&'), LN_REQUIRED],
  ['given twice (same value)', `amount=${MSAT}&amount=${MSAT}`, LN_TWICE],
  ['given twice (second empty)', `amount=${MSAT}&amount=`, LN_TWICE],
  ['given twice (different values)', `amount=${MSAT}&amount=1`, LN_TWICE],
  ['given three times', `amount=${MSAT}&amount=${MSAT}&amount=${MSAT}`, LN_TWICE],
];
for (const [label, query, expectation] of BAD_AMOUNTS) {
  add('LNURL amount /lnurl/pay/{link}/callback', label, (fx) => get(callback(fx.lnLinkId, query)), expectation);
}
// The variable link: 50 to 1,000 sats, whole sats only.
const BAD_VARIABLE_AMOUNTS: [string, string, Expect][] = [
  ['one sat below min_sats', 'amount=49000', LN_RANGE],
  ['1 msat below min_sats', 'amount=49999', LN_RANGE],
  ['one sat above max_sats', 'amount=1001000', LN_RANGE],
  ['1 msat above max_sats', 'amount=1000001', LN_RANGE],
  ['1 sat', 'amount=1000', LN_RANGE],
  ['zero', 'amount=0', LN_RANGE],
  ['500500 (not a whole sat)', 'amount=500500', LN_WHOLE],
  ['50001 (not a whole sat)', 'amount=50001', LN_WHOLE],
  ['999999 (not a whole sat)', 'amount=999999', LN_WHOLE],
  ['100000.5', 'amount=100000.5', LN_REQUIRED],
  ['exponent 1e5', 'amount=1e5', LN_REQUIRED],
  ['negative', 'amount=-100000', LN_REQUIRED],
  ['given twice', 'amount=100000&amount=200000', LN_TWICE],
];
for (const [label, query, expectation] of BAD_VARIABLE_AMOUNTS) {
  add('LNURL amount /lnurl/pay/{link}/callback (variable)', label, (fx) => get(callback(fx.varLinkId, query)), expectation);
}

/** Comments, with a valid amount, on the fixed link (at most 10 characters). */
const tooLong = ln(400, new RegExp(`longer than ${COMMENT_ALLOWED}`));
const BAD_COMMENTS: [string, string, Expect][] = [
  [`${COMMENT_ALLOWED + 1} characters`, 'x'.repeat(COMMENT_ALLOWED + 1), tooLong],
  ['1,000 characters', 'x'.repeat(1_000), tooLong],
  ['12,000 characters', 'x'.repeat(12_000), tooLong],
  [`${COMMENT_ALLOWED + 1} emoji`, encodeURIComponent('😀'.repeat(COMMENT_ALLOWED + 1)), tooLong],
  [`${COMMENT_ALLOWED + 1} spaces`, '%20'.repeat(COMMENT_ALLOWED + 1), tooLong],
  ['NUL', 'a%00b', LN_CONTROL],
  ['only a NUL', '%00', LN_CONTROL],
  ['newline', 'a%0Ab', LN_CONTROL],
  ['CR LF', 'a%0D%0Ab', LN_CONTROL],
  ['tab', 'a%09b', LN_CONTROL],
  ['escape sequence', 'a%1B%5B2Jb', LN_CONTROL],
  ['DEL', 'a%7Fb', LN_CONTROL],
  ['bell', '%07ring', LN_CONTROL],
  ['backspace', 'a%08b', LN_CONTROL],
  ['unit separator', 'a%1Fb', LN_CONTROL],
  // RFC 3986 §2.5 / LUD-12: the comment is text; bytes that are not UTF-8 must not be stored as U+FFFD.
  ['invalid UTF-8 (%FF)', 'a%FFb', ln(400)],
  ['invalid UTF-8 (overlong /)', '%C0%AF', ln(400)],
  ['invalid UTF-8 (encoded surrogate)', '%ED%A0%80', ln(400)],
  ['invalid UTF-8 (truncated sequence)', 'ab%C3', ln(400)],
];
for (const [label, comment, expectation] of BAD_COMMENTS) {
  add('LNURL comment /lnurl/pay/{link}/callback', label, (fx) => get(callback(fx.lnLinkId, `amount=${MSAT}&comment=${comment}`)), expectation);
}
add('LNURL comment /lnurl/pay/{link}/callback', 'given twice', (fx) => get(callback(fx.lnLinkId, `amount=${MSAT}&comment=a&comment=b`)), LN_TWICE);
add(
  'LNURL comment /lnurl/pay/{link}/callback',
  'given twice, the second empty',
  (fx) => get(callback(fx.lnLinkId, `amount=${MSAT}&comment=a&comment=`)),
  LN_TWICE,
);
add('LNURL comment /lnurl/pay/{link}/callback', 'given twice, without an amount', (fx) => get(callback(fx.lnLinkId, 'comment=a&comment=b')), ln(400));
add(
  'LNURL comment /lnurl/pay/{link}/callback',
  'too long, with a bad amount',
  (fx) => get(callback(fx.lnLinkId, `amount=1&comment=${'x'.repeat(50)}`)),
  ln(400),
);
for (const [label, comment] of [
  ['a word', 'hi'],
  ['one character', 'x'],
  ['a space', '%20'],
  ['a raw plus (a space)', '+'],
  ['the string 0', '0'],
  ['a NUL', '%00'],
  ['11 characters', 'x'.repeat(11)],
] as const) {
  add(
    'LNURL comment on a link without comments',
    label,
    (fx) => get(callback(fx.quietLinkId, `amount=${MSAT}&comment=${comment}`)),
    label === 'a NUL' ? ln(400, /no comments|control/) : LN_NO_COMMENTS,
  );
}
add('LNURL comment on a link without comments', 'given twice', (fx) => get(callback(fx.quietLinkId, `amount=${MSAT}&comment=a&comment=b`)), LN_TWICE);

// The Lightning-address callback takes the same parameters: a sample of the same mistakes.
const ADDRESS_SAMPLE = new Set([
  'missing',
  'non-numeric',
  'negative',
  'decimal .5',
  'exponent 1.5e6',
  '2^64',
  'one sat above the price',
  '1500001 (not a whole sat)',
  'given twice (same value)',
  'invalid UTF-8',
]);
for (const [who, name] of [
  ['link address', (fx: Fixture) => `${fx.username}.coffee`],
  ['primary address', (fx: Fixture) => fx.username],
] as const) {
  const g = `LNURL /lnurl/address/{name}/callback (${who})`;
  for (const [label, query, expectation] of BAD_AMOUNTS) {
    if (ADDRESS_SAMPLE.has(label)) add(g, `amount ${label}`, (fx) => get(`/lnurl/address/${name(fx)}/callback${query === '' ? '' : `?${query}`}`), expectation);
  }
  add(g, 'comment too long', (fx) => get(`/lnurl/address/${name(fx)}/callback?amount=${MSAT}&comment=${'x'.repeat(COMMENT_ALLOWED + 1)}`), tooLong);
  add(g, 'comment with a newline', (fx) => get(`/lnurl/address/${name(fx)}/callback?amount=${MSAT}&comment=a%0Ab`), LN_CONTROL);
  add(g, 'comment given twice', (fx) => get(`/lnurl/address/${name(fx)}/callback?amount=${MSAT}&comment=a&comment=b`), LN_TWICE);
  add(g, 'comment with invalid UTF-8 (%FF)', (fx) => get(`/lnurl/address/${name(fx)}/callback?amount=${MSAT}&comment=a%FFb`), ln(400));
  add(g, 'address in upper case, bad amount', (fx) => get(`/lnurl/address/${name(fx).toUpperCase()}/callback?amount=abc`), LN_REQUIRED);
}

// Link and address ids: odd characters are refused like unknown ones (404), never a 5xx.
const ODD_IDS: [string, string][] = [
  ['NUL (%00)', '%00'],
  ['encoded slash', 'a%2Fb'],
  ['..%2F..%2Fetc%2Fpasswd', '..%2F..%2Fetc%2Fpasswd'],
  ['unicode (été)', '%C3%A9t%C3%A9'],
  ['emoji', '%F0%9F%98%80'],
  ['invalid percent-encoding %ZZ', '%ZZ'],
  ['truncated percent-encoding', '%E0%A4%A'],
  ['invalid UTF-8 %FF', '%FF'],
  ['encoded space', '%20'],
  ['space inside', 'a%20b'],
  ['SQL', "'%20OR%201=1--"],
  ['CRLF', '%0d%0aSet-Cookie:%20x=1'],
  ['tilde', '~root'],
  ['semicolon', 'a%3Bb'],
  ['plus', 'a+b'],
  ['at sign', 'a@b'],
  ['colon', 'a:b'],
  ['asterisk', '*'],
  ['angle brackets', '%3Cscript%3E'],
  ['101 characters', 'a'.repeat(101)],
  ['4,000 characters', 'a'.repeat(4_000)],
];
const LINK_ROUTES: [string, (id: string) => string][] = [
  ['GET /lnurl/pay/{link}', (id) => `/lnurl/pay/${id}`],
  ['GET /lnurl/pay/{link}/callback', (id) => callback(id, `amount=${MSAT}`)],
  ['GET /lnurl/pay/{link}/qr.png', (id) => `/lnurl/pay/${id}/qr.png`],
  ['GET /lnurl/pay/{link}/qr.svg', (id) => `/lnurl/pay/${id}/qr.svg`],
];
const UNKNOWN_LINK_IDS: [string, (fx: Fixture) => string][] = [
  ['unknown link id', () => 'nosuchlink00000'],
  ['__proto__', () => '__proto__'],
  ['constructor', () => 'constructor'],
  ['toString', () => 'toString'],
  ['hasOwnProperty', () => 'hasOwnProperty'],
  ['100 characters', () => 'a'.repeat(100)],
  ['real link id in upper case', (fx) => fx.lnLinkId.toUpperCase()],
  ['real link id with a trailing character', (fx) => `${fx.lnLinkId}x`],
  ['real link id without its last character', (fx) => fx.lnLinkId.slice(0, -1)],
  ['the asset id instead of the link id', (fx) => fx.lnAssetId],
  ['the address name instead of the link id', (fx) => `${fx.username}.coffee`],
  ['dashes only', () => '---'],
];
for (const [route, path] of LINK_ROUTES) {
  const g = `LNURL link id ${route}`;
  for (const [label, id] of ODD_IDS) add(g, label, () => get(path(id)), LN_NOT_FOUND);
  for (const [label, id] of UNKNOWN_LINK_IDS) add(g, label, (fx) => get(path(id(fx))), LN_UNKNOWN_LINK);
  add(g, 'link of a deleted asset', (fx) => get(path(fx.deadLinkId)), LN_GONE);
  add(g, '.. (raw socket)', () => ({ via: 'socket', bytes: rawHead('GET', path('..'), {}) }), LN_NOT_FOUND);
  add(g, '%2e%2e (raw socket)', () => ({ via: 'socket', bytes: rawHead('GET', path('%2e%2e'), {}) }), LN_NOT_FOUND);
}
const ADDRESS_ROUTES: [string, (name: string) => string][] = [
  ['GET /.well-known/lnurlp/{name}', (name) => `/.well-known/lnurlp/${name}`],
  ['GET /lnurl/address/{name}/callback', (name) => `/lnurl/address/${name}/callback?amount=${MSAT}`],
];
const UNKNOWN_NAMES: [string, (fx: Fixture) => string, Expect][] = [
  ['unknown name', () => 'nobody-here', LN_UNKNOWN_ADDRESS],
  ['unknown link name of a known account', (fx) => `${fx.username}.nope`, LN_UNKNOWN_ADDRESS],
  ['unknown link name in upper case', (fx) => `${fx.username}.NOPE`, LN_UNKNOWN_ADDRESS],
  ['account without a payment link', (fx) => fx.otherUsername, LN_UNKNOWN_ADDRESS],
  ['account name with a trailing dot', (fx) => `${fx.username}.`, LN_UNKNOWN_ADDRESS],
  ['account name with a leading dot', (fx) => `.${fx.username}`, LN_UNKNOWN_ADDRESS],
  ['link name without the account', () => 'coffee', LN_UNKNOWN_ADDRESS],
  ['link id instead of a name', (fx) => fx.lnLinkId, LN_UNKNOWN_ADDRESS],
  ['__proto__', () => '__proto__', LN_UNKNOWN_ADDRESS],
  ['constructor', () => 'constructor', LN_UNKNOWN_ADDRESS],
  ['toString', () => 'toString', LN_UNKNOWN_ADDRESS],
  ['64 characters', () => 'a'.repeat(64), LN_UNKNOWN_ADDRESS],
  ['65 characters', () => 'a'.repeat(65), LN_UNKNOWN_ADDRESS],
  ['100 characters', () => 'a'.repeat(100), LN_UNKNOWN_ADDRESS],
  ['a whole address user@host', (fx) => `${fx.username}%40127.0.0.1`, LN_NOT_FOUND],
  ['address of a deleted asset', (fx) => fx.deadName, LN_GONE],
];
for (const [route, path] of ADDRESS_ROUTES) {
  const g = `LNURL address ${route}`;
  for (const [label, id] of ODD_IDS) add(g, label, () => get(path(id)), LN_NOT_FOUND);
  for (const [label, name, expectation] of UNKNOWN_NAMES) add(g, label, (fx) => get(path(name(fx))), expectation);
  add(g, '.. (raw socket)', () => ({ via: 'socket', bytes: rawHead('GET', path('..'), {}) }), LN_NOT_FOUND);
  add(g, '. (raw socket)', () => ({ via: 'socket', bytes: rawHead('GET', path('.'), {}) }), LN_NOT_FOUND);
}

// LUD-21 verify: only the hash of an invoice the bridge made is known.
const BAD_VERIFY: [string, (fx: Fixture) => string][] = [
  ['non-hex', () => 'nothex'],
  ['63 hex digits', () => '0'.repeat(63)],
  ['65 hex digits', () => '0'.repeat(65)],
  ['64 non-hex characters', () => 'g'.repeat(64)],
  ['unknown hash', () => '0'.repeat(64)],
  ['unknown hash (ab…)', () => HEX64],
  ['real hash with its last digit changed', (fx) => `${fx.paymentHash.slice(0, -1)}${fx.paymentHash.endsWith('0') ? '1' : '0'}`],
  ['real hash with a trailing character', (fx) => `${fx.paymentHash}0`],
  ['real hash without its last character', (fx) => fx.paymentHash.slice(0, -1)],
  ['real hash with a 0x prefix', (fx) => `0x${fx.paymentHash}`],
  ['real hash with a space inside', (fx) => `${fx.paymentHash.slice(0, 32)}%20${fx.paymentHash.slice(32)}`],
  ['real hash with a NUL', (fx) => `${fx.paymentHash}%00`],
  ['the payment request instead of the hash', () => `lnbcrt15u1${'q'.repeat(80)}`],
  ['__proto__', () => '__proto__'],
  ['constructor', () => 'constructor'],
  ['200 characters', () => 'a'.repeat(200)],
  ['invalid percent-encoding', () => '%ZZ'],
  ['encoded slash', () => `${HEX64.slice(0, 32)}%2F${HEX64.slice(32)}`],
];
for (const [label, hash] of BAD_VERIFY) {
  add('LNURL verify GET /lnurl/verify/{hash}', label, (fx) => get(`/lnurl/verify/${hash(fx)}`), ln(404));
}

// Wrong methods: the LNURL endpoints are GET only.
const LN_GET_ROUTES: [string, (fx: Fixture) => string][] = [
  ['/lnurl/pay/{link}', (fx) => `/lnurl/pay/${fx.lnLinkId}`],
  ['/lnurl/pay/{link}/callback', (fx) => callback(fx.lnLinkId, `amount=${MSAT}`)],
  ['/lnurl/pay/{link}/qr.png', (fx) => `/lnurl/pay/${fx.lnLinkId}/qr.png`],
  ['/lnurl/pay/{link}/qr.svg', (fx) => `/lnurl/pay/${fx.lnLinkId}/qr.svg`],
  ['/lnurl/verify/{hash}', (fx) => `/lnurl/verify/${fx.paymentHash}`],
  ['/.well-known/lnurlp/{name}', (fx) => `/.well-known/lnurlp/${fx.username}.coffee`],
  ['/lnurl/address/{name}/callback', (fx) => `/lnurl/address/${fx.username}.coffee/callback?amount=${MSAT}`],
];
const LN_405 = { status: 405, lnurl: true, allow: ['GET'] } as const satisfies Expect;
for (const [route, path] of LN_GET_ROUTES) {
  const g = `LNURL wrong method ${route}`;
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) add(g, method, (fx) => ({ via: 'fetch', method, path: path(fx) }), LN_405);
  add(g, 'PROPFIND', (fx) => ({ via: 'fetch', method: 'PROPFIND', path: path(fx) }), LN_405);
  add(g, 'POST with a JSON body', (fx) => ({ via: 'fetch', method: 'POST', path: path(fx), json: { amount: MSAT } }), LN_405);
  add(g, 'POST with an API key', (fx) => ({ via: 'fetch', method: 'POST', path: path(fx), token: fx.key }), LN_405);
  add(
    g,
    'POST with a form body',
    (fx) => ({ via: 'fetch', method: 'POST', path: path(fx), raw: `amount=${MSAT}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    { ...ln([405, 415]) },
  );
}

const LN_UNKNOWN_PATHS: [string, (fx: Fixture) => string][] = [
  ['/lnurl', () => '/lnurl'],
  ['/lnurl/', () => '/lnurl/'],
  ['/lnurl/pay', () => '/lnurl/pay'],
  ['/lnurl/pay/', () => '/lnurl/pay/'],
  ['/lnurl/pay/{link}/callback/extra', (fx) => `/lnurl/pay/${fx.lnLinkId}/callback/extra`],
  ['/lnurl/pay/{link}/qr', (fx) => `/lnurl/pay/${fx.lnLinkId}/qr`],
  ['/lnurl/pay/{link}/qr.gif', (fx) => `/lnurl/pay/${fx.lnLinkId}/qr.gif`],
  ['/lnurl/pay/{link}/qr.png/x', (fx) => `/lnurl/pay/${fx.lnLinkId}/qr.png/x`],
  ['/lnurl/verify', () => '/lnurl/verify'],
  ['/lnurl/verify/{hash}/x', (fx) => `/lnurl/verify/${fx.paymentHash}/x`],
  ['/lnurl/address', () => '/lnurl/address'],
  ['/lnurl/address/{name}', (fx) => `/lnurl/address/${fx.username}`],
  ['/lnurl/address/{name}/callback/x', (fx) => `/lnurl/address/${fx.username}/callback/x`],
  ['/lnurl/withdraw/{link}', (fx) => `/lnurl/withdraw/${fx.lnLinkId}`],
  ['/lnurl/channel', () => '/lnurl/channel'],
  ['/lnurl/%00', () => '/lnurl/%00'],
  ['/lnurl/%ZZ', () => '/lnurl/%ZZ'],
  ['/lnurl/ + 5,000 characters', () => `/lnurl/${'x'.repeat(5_000)}`],
  ['/.well-known/lnurlp', () => '/.well-known/lnurlp'],
  ['/.well-known/lnurlp/', () => '/.well-known/lnurlp/'],
  ['/.well-known/lnurlp/{name}/callback', (fx) => `/.well-known/lnurlp/${fx.username}/callback`],
  ['/.well-known/lnurlp/{name}/x/y', (fx) => `/.well-known/lnurlp/${fx.username}/x/y`],
];
for (const [label, path] of LN_UNKNOWN_PATHS) add('LNURL unknown path', `GET ${label}`, (fx) => get(path(fx)), LN_NO_ENDPOINT);

// Bodies on the GET-only LNURL endpoints, and HTTP only a raw socket can send.
const H = 'Host: 127.0.0.1\r\nConnection: close\r\n';
const LN_RAW: [string, (fx: Fixture) => Send, Expect][] = [
  [
    'GET callback with a text body',
    (fx) => ({
      via: 'socket',
      bytes: `GET ${callback(fx.lnLinkId, `amount=${MSAT}`)} HTTP/1.1\r\n${H}Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello`,
    }),
    ln(415),
  ],
  [
    'GET callback with a body and no Content-Type',
    (fx) => ({ via: 'socket', bytes: `GET ${callback(fx.lnLinkId, `amount=${MSAT}`)} HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\n{}` }),
    ln(415),
  ],
  [
    'GET callback with a form body',
    (fx) => ({
      via: 'socket',
      bytes: `GET ${callback(fx.lnLinkId, '')} HTTP/1.1\r\n${H}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\namount=1500000`,
    }),
    ln(415),
  ],
  [
    'GET callback with an invalid JSON body',
    (fx) => ({
      via: 'socket',
      bytes: `GET ${callback(fx.lnLinkId, `amount=${MSAT}`)} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 5\r\n\r\n{oops`,
    }),
    ln(400),
  ],
  [
    'GET callback with the amount in a JSON body only',
    (fx) => ({
      via: 'socket',
      bytes: `GET ${callback(fx.lnLinkId, '')} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 18\r\n\r\n{"amount":1500000}`,
    }),
    LN_REQUIRED,
  ],
  [
    'GET payRequest with a 1 MiB body',
    (fx) => ({
      via: 'socket',
      bytes: `GET /lnurl/pay/${fx.lnLinkId} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: ${MIB}\r\n\r\n${sized(MIB)}`,
    }),
    ln(413),
  ],
  [
    'GET callback with 4 MiB chunked',
    (fx) => ({
      via: 'socket',
      bytes: Buffer.concat([
        Buffer.from(`GET ${callback(fx.lnLinkId, `amount=${MSAT}`)} HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`),
        chunked(Buffer.from(sized(4 * MIB))),
      ]),
    }),
    ln(413),
  ],
  [
    'GET well-known with Content-Length of 100 GB',
    (fx) => ({
      via: 'socket',
      bytes: `GET /.well-known/lnurlp/${fx.username} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n{}`,
    }),
    ln(413),
  ],
  [
    'GET well-known with a gzip bomb',
    (fx) => {
      const bomb = gzipSync(Buffer.alloc(8 * MIB, 0x20));
      return {
        via: 'socket',
        bytes: Buffer.concat([
          Buffer.from(
            `GET /.well-known/lnurlp/${fx.username} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n\r\n`,
          ),
          bomb,
        ]),
      };
    },
    ln(413),
  ],
  [
    'GET verify with a JSON body in UTF-16',
    (fx) => ({
      via: 'socket',
      bytes: `GET /lnurl/verify/${fx.paymentHash} HTTP/1.1\r\n${H}Content-Type: application/json; charset=utf-16\r\nContent-Length: 2\r\n\r\n{}`,
    }),
    ln(415),
  ],
  [
    'DELETE callback with an invalid JSON body',
    (fx) => ({
      via: 'socket',
      bytes: `DELETE ${callback(fx.lnLinkId, `amount=${MSAT}`)} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 4\r\n\r\nnull`,
    }),
    ln([400, 405]),
  ],
  ['TRACE payRequest', (fx) => ({ via: 'socket', bytes: rawHead('TRACE', `/lnurl/pay/${fx.lnLinkId}`, {}) }), { ...LN_405 }],
  [
    'callback URL over 16 KiB',
    (fx) => ({ via: 'socket', bytes: rawHead('GET', callback(fx.lnLinkId, `amount=${MSAT}&comment=${'x'.repeat(20_000)}`), {}) }),
    LN_NODE_4XX,
  ],
  [
    'headers over 16 KiB',
    (fx) => ({ via: 'socket', bytes: `GET ${callback(fx.lnLinkId, `amount=${MSAT}`)} HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(20_000)}\r\n\r\n` }),
    LN_NODE_4XX,
  ],
  [
    'bare LF line endings',
    (fx) => ({ via: 'socket', bytes: `GET ${callback(fx.lnLinkId, `amount=${MSAT}`)} HTTP/1.1\nHost: x\nConnection: close\n\n` }),
    LN_NODE_4XX,
  ],
  ['NUL in the path', (fx) => ({ via: 'socket', bytes: `GET /lnurl/pay/${fx.lnLinkId}\u0000 HTTP/1.1\r\n${H}\r\n` }), LN_NODE_4XX],
  ['raw UTF-8 in the address', () => ({ via: 'socket', bytes: Buffer.from(`GET /.well-known/lnurlp/été HTTP/1.1\r\n${H}\r\n`, 'utf8') }), LN_NODE_4XX],
  ['space in the query', (fx) => ({ via: 'socket', bytes: `GET ${callback(fx.lnLinkId, 'amount=1 500 000')} HTTP/1.1\r\n${H}\r\n` }), LN_NODE_4XX],
  [
    'Content-Length and Transfer-Encoding',
    (fx) => ({
      via: 'socket',
      bytes: `GET ${callback(fx.lnLinkId, `amount=${MSAT}`)} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    }),
    LN_NODE_4XX,
  ],
  [
    'Content-Length larger than the body, then half-close',
    (fx) => ({
      via: 'socket',
      bytes: `GET ${callback(fx.lnLinkId, `amount=${MSAT}`)} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":`,
      halfClose: true,
    }),
    LN_NODE_4XX,
  ],
];
for (const [label, send, expectation] of LN_RAW) add('LNURL raw HTTP', label, send, expectation);
// The LNURL endpoints are public: an Authorization header is ignored, never judged in another family's shape.
for (const [label, authorization] of [
  ['garbage Bearer token', 'Bearer garbage'],
  ['unknown API key', `Bearer ${UNKNOWN_KEY}`],
  ['Basic credentials', `Basic ${Buffer.from('user:pass').toString('base64')}`],
] as const) {
  add(
    'LNURL with an Authorization header',
    `${label}, bad amount`,
    (fx) => ({ ...get(callback(fx.lnLinkId, 'amount=abc')), headers: { authorization } }),
    LN_REQUIRED,
  );
  add(
    'LNURL with an Authorization header',
    `${label}, unknown link`,
    () => ({ ...get('/lnurl/pay/nosuchlink00000'), headers: { authorization } }),
    LN_UNKNOWN_LINK,
  );
  add(
    'LNURL with an Authorization header',
    `${label}, unknown address`,
    () => ({ ...get('/.well-known/lnurlp/nobody-here'), headers: { authorization } }),
    LN_UNKNOWN_ADDRESS,
  );
  add(
    'webhook signature',
    `unsigned, with ${label} as Authorization`,
    (fx) => ({ ...webhook(hookBody(fx), undefined), headers: { authorization } }),
    BAD_SIGNATURE,
  );
}

// Read-only key cases last: if one wrongly succeeded it would change the fixtures.
// (Each write endpoint's scope check is in its wiring check, malformed-families.test.ts.)
const readWrites: [string, string, (fx: Fixture) => string, unknown?][] = [
  ['set a malformed wallet', 'PUT', () => '/api/v1/accounts/me/wallet', { backend: 'bogus' }],
  ['create a variable asset', 'POST', () => '/api/v1/assets', { name: 'x', price_sats: 1, pricing: 'variable', min_sats: 1, max_sats: 2 }],
  ['make an asset refuse payments offline', 'PATCH', (fx) => `/api/v1/assets/${fx.fixedAssetId}`, { refuse_when_offline: true }],
];
for (const [label, method, path, body] of readWrites) {
  add('read-only key', label, (fx) => ({ via: 'fetch', method, path: path(fx), token: fx.readKey, ...(body === undefined ? {} : { json: body }) }), SCOPE);
}
// Another account's asset, last for the same reason (POST would provision a link on it).
for (const ep of ID_ENDPOINTS) {
  add(
    `path id ${ep.label}`,
    "another account's asset",
    (fx) => ({ via: 'fetch', method: ep.method, path: ep.path(fx.otherAssetId), token: fx.key, ...(ep.body === undefined ? {} : { json: ep.body }) }),
    NOT_OWNED,
  );
}
add(
  'path id POST /api/v1/assets/{id}/checkout',
  "another account's asset with a valid amount",
  (fx) => ({ via: 'fetch', method: 'POST', path: `/api/v1/assets/${fx.otherAssetId}/checkout`, token: fx.key, json: { amount_sats: 10 } }),
  NOT_OWNED,
);
add(
  'path id POST /api/v1/assets/{id}/payment-link',
  "another account's asset with a name",
  (fx) => ({ via: 'fetch', method: 'POST', path: `/api/v1/assets/${fx.otherAssetId}/payment-link`, token: fx.key, json: { name: 'stolen', primary: true } }),
  NOT_OWNED,
);

// ---------------------------------------------------------------------------------------------
// Sending (test/helpers/http-probe.ts), 8 at a time, with a health check around every batch of 50
// ---------------------------------------------------------------------------------------------

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
  const want = c.expect.status;
  if (want !== '4xx') {
    const wanted = typeof want === 'number' ? [want] : want;
    if (!wanted.includes(status)) problems.push(`status ${status}, expected ${wanted.join(' or ')}`);
  }
  const isJson = (headers['content-type'] ?? '').includes('application/json');
  if (!isJson) {
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
  const keys = Object.keys(record).sort().join(',');
  if (c.expect.lnurl) {
    // LUD-06: exactly {"status": "ERROR", "reason": "..."}.
    if (keys !== 'reason,status') problems.push(`LNURL error body keys [${keys}], expected [reason,status]`);
    if (record['status'] !== 'ERROR') problems.push(`LNURL status ${JSON.stringify(record['status'])}, expected "ERROR"`);
    const reason = record['reason'];
    if (typeof reason !== 'string' || reason === '') problems.push('reason is not a non-empty string');
    else if (c.expect.reason && !c.expect.reason.test(reason)) problems.push(`reason ${JSON.stringify(reason)} does not match ${c.expect.reason}`);
  } else {
    const wantKeys = record['error'] === 'duplicate_event' ? 'error,event_id,message' : 'error,message';
    if (keys !== wantKeys) problems.push(`error body keys [${keys}], expected [${wantKeys}]`);
    const allowed: readonly string[] = c.expect.codes ?? DOCUMENTED_4XX;
    if (typeof record['error'] !== 'string' || !allowed.includes(record['error']))
      problems.push(`error code ${JSON.stringify(record['error'])}, expected ${allowed.join(' | ')}`);
    if (typeof record['message'] !== 'string' || record['message'] === '') problems.push('message is not a non-empty string');
    if (status === 401 && !headers['www-authenticate'] && record['error'] !== 'invalid_signature') problems.push('401 without WWW-Authenticate');
  }
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
let healthLinkId: string;
const HEALTH_MSAT = 21_000;
const results = new Map<string, Outcome>();
const healthChecks: { when: string; what: 'machines' | 'lnurl'; status: number; ok: boolean }[] = [];

async function must(method: string, path: string, options: { json?: unknown; token?: string }, status: number): Promise<any> {
  const s: Send = { via: 'fetch', method, path };
  if (options.json !== undefined) s.json = options.json;
  if (options.token !== undefined) s.token = options.token;
  const outcome = await sendFetch(t.url, s);
  if (outcome.kind !== 'answer' || outcome.answer.status !== status) throw new Error(`fixture ${method} ${path}: ${describeOutcome(outcome)}`);
  return JSON.parse(outcome.answer.text);
}

/** A normal machine-payments request, and a real LNURL callback that must still make an invoice. */
async function healthCheck(when: string): Promise<void> {
  const [machines, lnurl] = await Promise.all([
    sendFetch(t.url, { via: 'fetch', method: 'GET', path: '/api/v1/accounts/me', token: healthKey }),
    sendFetch(t.url, get(callback(healthLinkId, `amount=${HEALTH_MSAT}`))),
  ]);
  const parse = (o: Outcome): Record<string, unknown> | undefined => {
    if (o.kind !== 'answer' || o.answer.status !== 200) return undefined;
    try {
      return JSON.parse(o.answer.text) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const me = parse(machines);
  healthChecks.push({ when, what: 'machines', status: machines.kind === 'answer' ? machines.answer.status : 0, ok: me?.['user_id'] === healthUserId });
  const invoice = parse(lnurl);
  const action = invoice?.['successAction'] as { tag?: unknown } | undefined;
  const ok =
    invoice !== undefined &&
    Object.keys(invoice).sort().join(',') === 'pr,routes,successAction,verify' &&
    typeof invoice['pr'] === 'string' &&
    invoice['pr'].startsWith('lnbcrt210n') &&
    Array.isArray(invoice['routes']) &&
    invoice['routes'].length === 0 &&
    action?.tag === 'message' &&
    typeof invoice['verify'] === 'string' &&
    /\/lnurl\/verify\/[0-9a-f]{64}$/.test(invoice['verify']);
  healthChecks.push({ when, what: 'lnurl', status: lnurl.kind === 'answer' ? lnurl.answer.status : 0, ok });
}

async function setUp(): Promise<void> {
  const signup = async (label: string) => {
    const body = await must('POST', '/api/v1/accounts', { json: { label } }, 201);
    return { key: body.api_key as string, userId: body.user_id as string, username: body.username as string };
  };
  const labels = ['ln-malformed-main', 'ln-malformed-health', 'ln-malformed-other', 'ln-malformed-wallet', 'ln-malformed-hook'];
  const [main, health, other, wallet, hook] = await Promise.all(labels.map(signup));
  if (!main || !health || !other || !wallet || !hook) throw new Error('signup failed');
  healthKey = health.key;
  healthUserId = health.userId;

  const asset = async (key: string, body: Record<string, unknown>) =>
    (await must('POST', '/api/v1/assets', { json: body, token: key }, 201)).asset_id as string;
  const link = async (key: string, assetId: string, body: Record<string, unknown>) =>
    must('POST', `/api/v1/assets/${assetId}/payment-link`, { json: body, token: key }, 201);

  // The fixed link first: it becomes the account's primary (its address is <username>@host).
  const lnAssetId = await asset(main.key, { name: 'Coffee machine', price_sats: 1_500, duration_ms: 30_000 });
  const lnLink = await link(main.key, lnAssetId, { name: 'coffee', comment_allowed: COMMENT_ALLOWED, success_message: 'Enjoy your coffee' });
  const varAssetId = await asset(main.key, { name: 'EV charger', price_sats: 100, duration_ms: 60_000, pricing: 'variable', min_sats: 50, max_sats: 1_000 });
  const varLink = await link(main.key, varAssetId, {});
  const quietAssetId = await asset(main.key, { name: 'Quiet machine', price_sats: 1_500 });
  const quietLink = await link(main.key, quietAssetId, { comment_allowed: 0 });
  const linkAssetId = await asset(main.key, { name: 'Link target', price_sats: 42 });
  const linkAssetLink = await link(main.key, linkAssetId, { comment_allowed: 33 });
  const unlinkedAssetId = await asset(main.key, { name: 'No link yet', price_sats: 5 });
  const deletedAssetId = await asset(main.key, { name: 'Gone machine', price_sats: 7 });
  const deadLink = await link(main.key, deletedAssetId, {});
  await must('DELETE', `/api/v1/assets/${deletedAssetId}`, { token: main.key }, 200);
  const fixedAssetId = await asset(main.key, { name: 'Fixed', price_sats: 1_500 });
  const variableAssetId = await asset(main.key, { name: 'Variable', price_sats: 100, pricing: 'variable', min_sats: 50, max_sats: 1_000 });
  const otherAssetId = await asset(other.key, { name: 'Not yours', price_sats: 10 });
  const healthAssetId = await asset(health.key, { name: 'Health', price_sats: HEALTH_MSAT / 1000 });
  healthLinkId = (await link(health.key, healthAssetId, {})).link_id;

  // One real pending payment, whose hash the near-miss cases bend.
  const invoice = await must('GET', callback(lnLink.link_id, `amount=${MSAT}&comment=setup`), {}, 200);
  const paymentHash = /\/verify\/([0-9a-f]{64})$/.exec(invoice.verify as string)?.[1];
  if (!paymentHash) throw new Error(`no payment hash in ${invoice.verify}`);

  // A BTCPay store on an account wallet: its webhook secret signs the "correctly signed" cases.
  const storeId = 'MalformedStore1';
  const webhookSecret = `whsec-${randomBytes(16).toString('hex')}`;
  await must(
    'PUT',
    '/api/v1/accounts/me/wallet',
    {
      json: { backend: 'btcpay', url: 'http://127.0.0.1:9', store_id: storeId, api_key: 'api-key-never-used', webhook_secret: webhookSecret },
      token: hook.key,
    },
    200,
  );

  const readKey = await must('POST', '/api/v1/accounts/me/keys', { json: { scope: 'read', label: 'read-only' }, token: main.key }, 201);
  const session = await must('POST', '/api/v1/auth/exchange', { json: { api_key: main.key } }, 200);

  fx = {
    key: main.key,
    userId: main.userId,
    username: main.username,
    readKey: readKey.api_key,
    lnAssetId,
    lnLinkId: lnLink.link_id,
    varAssetId,
    varLinkId: varLink.link_id,
    quietLinkId: quietLink.link_id,
    linkAssetId,
    linkAssetComment: linkAssetLink.comment_allowed,
    unlinkedAssetId,
    deletedAssetId,
    deadLinkId: deadLink.link_id,
    deadName: (deadLink.lightning_address as string).split('@')[0] ?? '',
    fixedAssetId,
    variableAssetId,
    paymentHash,
    walletKey: wallet.key,
    storeId,
    webhookSecret,
    otherKey: other.key,
    otherUsername: other.username,
    otherAssetId,
    session: session.token,
  };
}

/** GET as a JSON value (for the after-run invariants). */
async function read(path: string, token?: string): Promise<any> {
  const outcome = await sendFetch(t.url, { via: 'fetch', method: 'GET', path, ...(token === undefined ? {} : { token }) });
  if (outcome.kind !== 'answer' || outcome.answer.status !== 200) throw new Error(`GET ${path}: ${describeOutcome(outcome)}`);
  return JSON.parse(outcome.answer.text);
}

describe('malformed requests against the Lightning rail of a listening bridge', () => {
  let elapsedMs = 0;

  beforeAll(async () => {
    const startedAt = Date.now();
    t = await startBridge({ RATE_LIMIT_PER_MINUTE: 0, SIGNUPS_PER_HOUR: 0, LNURL_CALLBACKS_PER_MINUTE: 0 });
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
    const lnurlCases = CASES.filter((c) => c.expect.lnurl).length;
    const healthy = healthChecks.filter((h) => h.ok).length;
    console.log(
      `malformed-lightning: ${CASES.length} cases (${lnurlCases} LNURL) in ${elapsedMs} ms; status ${summary}; ${failing} failing; health checks ${healthy}/${healthChecks.length} answered (machines 200, LNURL invoice)`,
    );
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('sends at least 1,000 malformed requests, with unique names', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(1_000);
    expect(NAMES.size).toBe(CASES.length);
  });

  it('keeps answering, on both families, before, during, after every 50 cases and at the end', async () => {
    await healthCheck('at the end');
    expect(healthChecks.filter((h) => !h.ok)).toEqual([]);
  });

  it('the fixtures are what the cases assume', async () => {
    const link = await read(`/api/v1/assets/${fx.lnAssetId}/payment-link`, fx.key);
    expect(link).toMatchObject({ link_id: fx.lnLinkId, min_sats: 1_500, max_sats: 1_500, comment_allowed: COMMENT_ALLOWED, primary: true });
    expect(link.lightning_address).toBe(`${fx.username}.coffee@${new URL(t.info.publicUrl).host}`);
    expect(await read(`/lnurl/pay/${fx.varLinkId}`)).toMatchObject({ minSendable: 50_000, maxSendable: 1_000_000 });
    expect(await read(`/lnurl/pay/${fx.quietLinkId}`)).toMatchObject({ commentAllowed: 0 });
    expect(await read(`/.well-known/lnurlp/${fx.username}`)).toMatchObject({
      tag: 'payRequest',
      callback: `${t.info.publicUrl}/lnurl/address/${fx.username}/callback`,
    });
    expect(await read(`/lnurl/verify/${fx.paymentHash}`)).toMatchObject({ status: 'OK', settled: false });
    // A valid checkout on the dev backend is refused as documented, not as malformed.
    const checkout = await sendFetch(t.url, {
      via: 'fetch',
      method: 'POST',
      path: `/api/v1/assets/${fx.lnAssetId}/checkout`,
      token: fx.key,
      json: { amount_sats: 1_500 },
    });
    expect(describeOutcome(checkout)).toMatch(/^409 .*"error":"checkout_not_supported"/);
  });

  it('leaves no trace of a refused request: no payment, wallet, link or pricing change', async () => {
    const payments = async (assetId: string) =>
      (await read(`/api/v1/assets/${assetId}/payments?limit=200`, fx.key)).payments as { amount_sats: number; comment: string | null; status: string }[];
    // The fixed link has only the setup invoice, still pending (no case settled it).
    expect(await payments(fx.lnAssetId)).toEqual([expect.objectContaining({ amount_sats: 1_500, comment: 'setup', status: 'pending' })]);
    expect(await payments(fx.varAssetId)).toEqual([]);
    expect((await read(`/api/v1/accounts/me/wallet`, fx.walletKey)).source).toBe('server');
    expect((await read(`/api/v1/accounts/me/wallet`, fx.key)).source).toBe('server');
    expect(await read(`/api/v1/assets/${fx.linkAssetId}/payment-link`, fx.key)).toMatchObject({ comment_allowed: fx.linkAssetComment });
    expect(await read(`/api/v1/assets/${fx.fixedAssetId}`, fx.key)).toMatchObject({
      pricing: 'fixed',
      min_sats: null,
      max_sats: null,
      refuse_when_offline: false,
    });
    expect(await read(`/api/v1/assets/${fx.variableAssetId}`, fx.key)).toMatchObject({
      pricing: 'variable',
      min_sats: 50,
      max_sats: 1_000,
      refuse_when_offline: false,
    });
    const other = await sendFetch(t.url, { via: 'fetch', method: 'GET', path: `/api/v1/assets/${fx.otherAssetId}/payment-link`, token: fx.otherKey });
    expect(describeOutcome(other)).toMatch(/^404 .*payment_link_not_found/);
  });

  it('leaves Object.prototype unpolluted', () => {
    expect(Object.prototype).not.toHaveProperty('pwned_by_malformed_test');
  });

  for (const c of CASES) {
    it(c.name, () => {
      const outcome = results.get(c.name);
      expect(problemsOf(c, outcome), describeOutcome(outcome)).toEqual([]);
    });
  }
});
