/**
 * The catalogue of machine-payments endpoints: one entry per route, with its request schemas (the
 * very zod schemas the routes validate with), response record, examples and error codes. The entry
 * shape is in `catalogue.ts`, the Lightning rail's entries in `lightning-endpoints.ts`, the device
 * credentials' and the trigger's in `device-endpoints.ts`. `openapi.ts`
 * and `pdf.ts` both render it, and the tests hold it against the live router.
 */
import { SESSION_TTL_SECONDS } from '../machines/auth.js';
import * as req from '../machines/schemas.js';
import { assetParam, input, ok, pageFields, TAGS, type Endpoint } from './catalogue.js';
import { DEVICE_ENDPOINTS } from './device-endpoints.js';
import { ERRORS, type ErrorCode } from './errors.js';
import { LIGHTNING_ENDPOINTS } from './lightning-endpoints.js';
import { EXAMPLE } from './records.js';

export { TAGS } from './catalogue.js';
export type { AuthKind, Endpoint, HttpMethod, InputDoc, ParamDoc, ResponseDoc, TagName } from './catalogue.js';

const assetFields = {
  name: 'Display name, 1-100 printable characters: no control characters, bidirectional overrides or isolates, line separators or lone surrogates.',
  price_sats: 'Price of one run in satoshis: a whole number from 1 to 2,100,000,000,000.',
  duration_ms: 'How long the machine runs for price_sats, in milliseconds (0 to 86,400,000; default 1,000). Variable pricing scales it with the amount paid.',
  pricing: 'fixed (default): every payment is price_sats. variable: the payer chooses an amount between min_sats and max_sats.',
  min_sats: 'Variable pricing: smallest payment (default price_sats). Must be absent or null for fixed pricing.',
  max_sats: 'Variable pricing: largest payment (default 100 × price_sats); one payment may run the machine for at most 7 days. Must be absent or null for fixed pricing.',
  refuse_when_offline: 'Refuse new invoices while the machine is known to be offline (default false).',
  x402: 'What an agent pays over x402 for one run, or null (the default) for none: {pay_to, prices: [{network, asset, amount}]}. pay_to and asset are 0x addresses; network a name like base-sepolia or a CAIP-2 id like eip155:84532 (only networks the bridge runs are offered); amount the token\'s atomic units as a decimal string. At most 8 prices, one per network and token. Buyers pay at GET /api/v1/assets/{id}/x402.',
  metadata: 'Free-form JSON object, at most 4,096 bytes serialised (default {}). Its strings may hold tabs and line breaks but no other control characters, bidirectional overrides or isolates, or lone surrogates.',
};

const exAccount = {
  user_id: EXAMPLE.userId,
  username: 'my-coffee-bot',
  display_name: 'my-coffee-bot',
  lightning_address: 'you@getalby.com',
  api_key_prefix: EXAMPLE.apiKey.slice(0, 12),
  key_scope: 'full' as const,
  role: 'machine' as const,
  created: EXAMPLE.time,
};
const exKey = { key_id: EXAMPLE.keyId, api_key_prefix: EXAMPLE.apiKey.slice(0, 12), scope: 'read' as const, label: 'dashboard', created: EXAMPLE.time, revoked_at: null };
const exAsset = {
  asset_id: EXAMPLE.assetId,
  name: 'Coffee machine',
  price_sats: 1500,
  duration_ms: 30000,
  pricing: 'fixed' as const,
  min_sats: null,
  max_sats: null,
  refuse_when_offline: false,
  metadata: { location: 'kitchen' },
  x402: null,
  online: true,
  last_seen: EXAMPLE.time,
  created: EXAMPLE.time,
  updated: EXAMPLE.time,
};
export const exEvent = {
  event_id: EXAMPLE.eventId,
  type: 'action' as const,
  asset_id: EXAMPLE.assetId,
  external_id: 'brew-2025-01-31-0001',
  data: { cups: 1 },
  source: 'api' as const,
  created: EXAMPLE.time,
};
const exSigning = {
  algorithm: 'ed25519' as const,
  scheme: 'standard-webhooks-v1a' as const,
  key_id: 'fe812c12f3ab4ce6',
  public_key: 'whpk_6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=',
  public_key_hex: 'ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c',
  public_key_pem: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=\n-----END PUBLIC KEY-----\n',
  signed_content: '{webhook-id}.{webhook-timestamp}.{raw body}',
  headers: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
};
const exWebhook = { url: 'https://example.com/hooks/paywire', events: ['paid' as const, 'action' as const], disabled_at: null, created: EXAMPLE.time, updated: EXAMPLE.time };
const warning = 'Store this api_key now: it is shown once and cannot be recovered.';

const CORE_ENDPOINTS: Endpoint[] = [
  {
    operationId: 'createAccount', method: 'post', path: '/api/v1/accounts', tag: 'Accounts', auth: 'public', writes: false,
    summary: 'Create a machine account, returns api_key',
    description: 'Signs a machine up and returns its first API key (full scope). The key is shown exactly once. Limited per client IP (see Rate limits).',
    body: input('CreateAccountRequest', req.createAccountBody, {
      label: 'Name of the machine or agent, 1-64 printable characters; the username is derived from it.',
      lightning_address: 'Optional LUD-16 Lightning address (name@domain) to be paid at; stored lowercase. May be null.',
    }, { label: 'my-coffee-bot', lightning_address: 'you@getalby.com' }),
    response: ok(201, 'AccountCreated', 'The account and its key', { ...exAccount, api_key: EXAMPLE.apiKey, warning }),
    errors: ['rate_limited'],
  },
  {
    operationId: 'exchangeKey', method: 'post', path: '/api/v1/auth/exchange', tag: 'Accounts', auth: 'public', writes: false,
    summary: 'Swap an api_key for a GUI session token (login as the bot)',
    description: 'Trades a live API key for a 24 h session token, used by the dashboard login. The token carries the key\u2019s scope and dies when the key is rotated or revoked. Charged to the key\u2019s rate limit.',
    body: input('ExchangeRequest', req.exchangeBody, { api_key: 'The lib_ API key to log in with.' }, { api_key: EXAMPLE.apiKey }),
    response: ok(200, 'SessionExchange', 'A session token', { token: EXAMPLE.sessionToken, record: exAccount, expires_in: SESSION_TTL_SECONDS }),
    errors: ['invalid_token', 'invalid_key', 'rate_limited'],
  },
  {
    operationId: 'getAccount', method: 'get', path: '/api/v1/accounts/me', tag: 'Accounts', auth: 'bearer', writes: false,
    summary: 'Current account info',
    description: 'The account the calling key belongs to, and that key\u2019s prefix and scope.',
    response: ok(200, 'Account', 'The account', exAccount),
    errors: [],
  },
  {
    operationId: 'rotateKey', method: 'post', path: '/api/v1/accounts/me/rotate-key', tag: 'Accounts', auth: 'bearer', writes: true,
    summary: 'Issue a new key, invalidate the old one',
    description: 'Replaces the calling key with a new one of the same scope and label. The old key and its session tokens stop working at once. No request body.',
    response: ok(200, 'KeyIssued', 'The new key', { ...exKey, scope: 'full', label: null, api_key: EXAMPLE.apiKey, warning: `${warning} The previous key no longer works.` }),
    errors: [],
  },
  {
    operationId: 'listKeys', method: 'get', path: '/api/v1/accounts/me/keys', tag: 'Keys', auth: 'bearer', writes: false,
    summary: 'List your live API keys',
    description: 'Every key of the account that is not revoked. Keys themselves are never shown again, only their prefixes.',
    response: ok(200, 'KeyList', 'The keys', { keys: [{ ...exKey, scope: 'full', label: null }, exKey] }),
    errors: [],
  },
  {
    operationId: 'createKey', method: 'post', path: '/api/v1/accounts/me/keys', tag: 'Keys', auth: 'bearer', writes: true,
    summary: 'Create an extra (read-only) key',
    description: 'Issues another key for the account, read-only by default: hand it to dashboards and monitors. An account holds at most MAX_KEYS_PER_ACCOUNT live keys (10 by default); past that, revoke one first (409 key_limit_reached). More keys do not buy more requests: the account\u2019s keys share one allowance (see Rate limits).',
    body: input('CreateKeyRequest', req.createKeyBody, {
      scope: 'read (default) or full. A read-only key can call every GET endpoint and no write.',
      label: 'Optional label to recognise the key in lists, 1-64 characters. May be null.',
    }, { scope: 'read', label: 'dashboard' }),
    response: ok(201, 'KeyIssued', 'The new key', { ...exKey, api_key: EXAMPLE.apiKey, warning }),
    errors: ['key_limit_reached'],
  },
  {
    operationId: 'revokeKey', method: 'delete', path: '/api/v1/accounts/me/keys/{key_id}', tag: 'Keys', auth: 'bearer', writes: true,
    summary: 'Revoke a key',
    description: 'Revokes another key of the account; its session tokens die with it. A key cannot revoke itself (400): use rotate-key.',
    params: { key_id: { description: 'The key id', example: EXAMPLE.keyId } },
    response: ok(200, 'ApiKey', 'The revoked key', { ...exKey, revoked_at: EXAMPLE.time }),
    errors: ['key_not_found'],
  },
  {
    operationId: 'listAssets', method: 'get', path: '/api/v1/assets', tag: 'Assets', auth: 'bearer', writes: false,
    summary: 'List your assets',
    description: 'Every live asset of the account.',
    response: ok(200, 'AssetList', 'The assets', { assets: [exAsset] }),
    errors: [],
  },
  {
    operationId: 'createAsset', method: 'post', path: '/api/v1/assets', tag: 'Assets', auth: 'bearer', writes: true,
    summary: 'Create an asset (name, price_sats)',
    description: 'Registers a machine the account sells time on. An account holds at most MAX_ASSETS_PER_ACCOUNT live assets (1,000 by default); past that, delete one first (409 asset_limit_reached).',
    body: input('AssetRequest', req.createAssetBody, assetFields, { name: 'Coffee machine', price_sats: 1500, duration_ms: 30000, metadata: { location: 'kitchen' } }),
    response: ok(201, 'Asset', 'The asset', exAsset),
    errors: ['asset_limit_reached'],
  },
  {
    operationId: 'getAsset', method: 'get', path: '/api/v1/assets/{id}', tag: 'Assets', auth: 'bearer', writes: false,
    summary: 'Fetch a single asset',
    description: 'One asset of the account.',
    params: assetParam,
    response: ok(200, 'Asset', 'The asset', exAsset),
    errors: ['asset_not_found', 'asset_not_owned'],
  },
  {
    operationId: 'updateAsset', method: 'patch', path: '/api/v1/assets/{id}', tag: 'Assets', auth: 'bearer', writes: true,
    summary: 'Change some fields of an asset',
    description: 'Changes the fields given (at least one); the others keep their values.',
    params: assetParam,
    body: input('AssetPatchRequest', req.updateAssetBody, assetFields, { price_sats: 2000 }),
    response: ok(200, 'Asset', 'The updated asset', { ...exAsset, price_sats: 2000 }),
    errors: ['asset_not_found', 'asset_not_owned'],
  },
  {
    operationId: 'replaceAsset', method: 'put', path: '/api/v1/assets/{id}', tag: 'Assets', auth: 'bearer', writes: true,
    summary: 'Replace an asset',
    description: 'Replaces the asset: fields left out return to their defaults (duration_ms 1,000, metadata {}).',
    params: assetParam,
    body: input('AssetRequest', req.createAssetBody, assetFields, { name: 'Espresso machine', price_sats: 2500 }),
    response: ok(200, 'Asset', 'The replaced asset', { ...exAsset, name: 'Espresso machine', price_sats: 2500, duration_ms: 1000, metadata: {} }),
    errors: ['asset_not_found', 'asset_not_owned'],
  },
  {
    operationId: 'deleteAsset', method: 'delete', path: '/api/v1/assets/{id}', tag: 'Assets', auth: 'bearer', writes: true,
    summary: 'Delete an asset',
    description: 'Removes the asset from the API. Past events keep their reference to it. Its payment link takes no new invoices at once; an invoice already handed to a payer can still be paid (the wallet holds it, and the money arrives at your backend): such a payment is recorded settled with `refund_due: true`, its `paid` event (event log and webhook) carries `refund_due: true` and `refund_reason: "asset_deleted"`, and no machine is told to run. Refund the payer.',
    params: assetParam,
    response: ok(200, 'AssetDeleted', 'The asset is gone', { asset_id: EXAMPLE.assetId, deleted: true, deleted_at: EXAMPLE.time }),
    errors: ['asset_not_found', 'asset_not_owned'],
  },
  {
    operationId: 'buyAssetRunX402', method: 'get', path: '/api/v1/assets/{id}/x402', tag: 'Assets', auth: 'public', writes: false,
    summary: 'Buy one run over x402 (agents)',
    description:
      'No key: the payment is the credential. Without a payment header: 402 with the terms, the x402 v1 body (the asset\u2019s x402 EVM prices) and the v2 PAYMENT-REQUIRED header (base64 JSON: the same prices with CAIP-2 networks, and a fresh BOLT 11 invoice for price_sats, the exact scheme on Lightning of x402 PR #2861). With X-PAYMENT (v1) or PAYMENT-SIGNATURE (v2): verified against the asset\u2019s own terms and settled in process (EVM: EIP-3009 on chain; Lightning: sha256(preimage) is the invoice\u2019s payment hash), recorded as a payment (rail x402 or lightning), the machine told over MQTT; 200 {status: "paid", payment_id, asset_id, rail, duration_ms, network, transaction, payer, settled_at} with PAYMENT-RESPONSE and X-PAYMENT-RESPONSE. A refused payment is 402 with invalidReason; each authorization or invoice buys one run (nonce_already_used, invoice_already_redeemed). An EVM payment is recorded before its transfer is sent; when the receipt is late the answer is 202 pending, the machine runs once the transfer lands, and the same header sent again gets that run (200) once. README \u00a7 Agents buy machines over x402.',
    params: assetParam,
    response: ok(402, 'X402PaymentRequired', 'Payment required: the terms', {
      x402Version: 1,
      error: 'X-PAYMENT or PAYMENT-SIGNATURE header is required',
      accepts: [
        {
          scheme: 'exact',
          network: 'base-sepolia',
          maxAmountRequired: '10000',
          resource: `${EXAMPLE.publicUrl}/api/v1/assets/${EXAMPLE.assetId}/x402`,
          description: 'Coffee machine: one run of 30 s',
          mimeType: 'application/json',
          payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
          maxTimeoutSeconds: 300,
          asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
          extra: { name: 'USDC', version: '2' },
        },
      ],
    }),
    errors: ['asset_not_found', 'rate_limited', 'device_offline', 'x402_unavailable'],
  },
  {
    operationId: 'listEvents', method: 'get', path: '/api/public/events', tag: 'Events', auth: 'bearer', writes: false,
    summary: 'List recent events for your account',
    description: 'Newest first, in pages. Filters combine.',
    query: input('ListEventsQuery', req.listEventsQuery, {
      type: 'Only events of this type: paid, action, error or custom.',
      asset_id: 'Only events about this asset.',
      since: 'Only events created at or after this ISO 8601 timestamp.',
      ...pageFields,
    }, { type: 'action', limit: '20' }),
    response: ok(200, 'EventPage', 'A page of events', { events: [exEvent], next_cursor: null }),
    errors: [],
  },
  {
    operationId: 'createEvent', method: 'post', path: '/api/public/events', tag: 'Events', auth: 'bearer', writes: true,
    summary: 'Append an event (paid / action / error / custom)',
    description: 'Appends an event to the log and queues its webhook delivery. Give external_id to make retries safe: a repeat answers 409 duplicate_event naming the first event.',
    body: input('CreateEventRequest', req.createEventBody, {
      type: 'paid, action, error or custom.',
      asset_id: 'Optional id of one of your assets the event is about. May be null.',
      external_id: 'Optional idempotency id, 1-128 printable characters, unique per account. May be null. Ids starting with lightning: or x402: are reserved for the events the bridge records itself (400 invalid_body).',
      data: 'Optional free-form JSON object, at most 16,384 bytes serialised. May be null.',
    }, { type: 'action', asset_id: EXAMPLE.assetId, external_id: 'brew-2025-01-31-0001', data: { cups: 1 } }),
    response: ok(201, 'Event', 'The stored event', exEvent),
    errors: ['asset_not_found', 'asset_not_owned', 'duplicate_event'],
  },
  {
    operationId: 'getEvent', method: 'get', path: '/api/public/events/{id}', tag: 'Events', auth: 'bearer', writes: false,
    summary: 'Get a single event',
    description: 'One event of the account.',
    params: { id: { description: 'The event id', example: EXAMPLE.eventId } },
    response: ok(200, 'Event', 'The event', exEvent),
    errors: ['event_not_found'],
  },
  {
    operationId: 'getSigningKey', method: 'get', path: '/api/public/webhooks/public-key', tag: 'Webhooks', auth: 'public', writes: false,
    summary: 'The webhook signing public key',
    description: 'The Ed25519 public key webhook signatures verify against, as whpk_ base64, hex and PEM.',
    response: ok(200, 'SigningKey', 'The public key', exSigning),
    errors: [],
  },
  {
    operationId: 'getWebhook', method: 'get', path: '/api/v1/accounts/me/webhook', tag: 'Webhooks', auth: 'bearer', writes: false,
    summary: 'Your webhook',
    description: 'Where events are delivered, which types, and the signing key.',
    response: ok(200, 'WebhookWithSigning', 'The webhook', { ...exWebhook, signing: exSigning }),
    errors: ['webhook_not_found'],
  },
  {
    operationId: 'putWebhook', method: 'put', path: '/api/v1/accounts/me/webhook', tag: 'Webhooks', auth: 'bearer', writes: true,
    summary: 'Set or replace your webhook',
    description: 'Every new event of the chosen types is POSTed, signed, to the URL. Setting it again re-enables a webhook disabled by a 410 Gone. The URL must lead to a public address: loopback, private, link-local and other non-public addresses are refused (400 invalid_body when the URL names one as an IP address; at delivery, as `refused`, when its host name resolves to one) unless the server\u2019s operator allows them. Redirects are not followed.',
    body: input('PutWebhookRequest', req.putWebhookBody, {
      url: 'Absolute http(s) URL without credentials, at most 2,048 characters.',
      events: 'Event types to deliver; all types when absent or empty.',
    }, { url: 'https://example.com/hooks/paywire', events: ['paid', 'action'] }),
    response: ok(200, 'WebhookWithSigning', 'The webhook', { ...exWebhook, signing: exSigning }),
    errors: [],
  },
  {
    operationId: 'deleteWebhook', method: 'delete', path: '/api/v1/accounts/me/webhook', tag: 'Webhooks', auth: 'bearer', writes: true,
    summary: 'Remove your webhook',
    description: 'Stops deliveries; pending ones are cancelled.',
    response: ok(200, 'Deleted', 'The webhook is gone', { deleted: true }),
    errors: ['webhook_not_found'],
  },
  {
    operationId: 'listDeliveries', method: 'get', path: '/api/v1/accounts/me/webhook/deliveries', tag: 'Webhooks', auth: 'bearer', writes: false,
    summary: 'Webhook delivery log',
    description: 'Every delivery with its attempts, newest first, in pages. An attempt records the HTTP status it got, or an error that says only `refused` (not connected, or an address this server does not deliver to) or `timeout`.',
    query: input('ListDeliveriesQuery', req.listDeliveriesQuery, { status: 'Only deliveries in this state: pending, delivered, failed or cancelled.', ...pageFields }, { status: 'failed' }),
    response: ok(200, 'DeliveryPage', 'A page of deliveries', {
      deliveries: [{
        delivery_id: EXAMPLE.deliveryId, event_id: EXAMPLE.eventId, event_type: 'action', status: 'failed',
        attempts: [{ at: EXAMPLE.time, status_code: 503, error: null, duration_ms: 84 }], next_attempt_at: null, created: EXAMPLE.time, updated: EXAMPLE.time,
      }],
      next_cursor: null,
    }),
    errors: [],
  },
  {
    operationId: 'getOpenApi', method: 'get', path: '/openapi.json', tag: 'Documents', auth: 'public', writes: false, plain: true,
    summary: 'This reference as OpenAPI 3.1',
    description: 'The OpenAPI 3.1 document of this API, generated from the same catalogue as the PDF.',
    response: ok(200, 'OpenApiDocument', 'The OpenAPI document', { openapi: '3.1.0', info: { title: 'Paywire machine-payments API', version: '0.1.0' }, paths: {} }),
    errors: [],
  },
  {
    operationId: 'getDocsPdf', method: 'get', path: '/api/public/docs.pdf', tag: 'Documents', auth: 'public', writes: false, plain: true,
    summary: 'Download these API docs as a PDF',
    description: 'This reference as a PDF document.',
    response: { status: 200, description: 'The PDF', contentType: 'application/pdf' },
    errors: [],
  },
  {
    operationId: 'health', method: 'get', path: '/healthz', tag: 'Documents', auth: 'public', writes: false, plain: true,
    summary: 'Liveness probe',
    description: 'Answers 200 while the server is up.',
    response: ok(200, 'Health', 'Alive', { ok: true }),
    errors: [],
  },
];

/** Every endpoint of the family, grouped by tag in the order of TAGS (the order the PDF lists them). */
export const ENDPOINTS: Endpoint[] = [...CORE_ENDPOINTS, ...LIGHTNING_ENDPOINTS, ...DEVICE_ENDPOINTS].sort(
  (a, b) => TAGS.findIndex((t) => t.name === a.tag) - TAGS.findIndex((t) => t.name === b.tag),
);

/** Every code an endpoint can answer with: its own plus the ones implied by auth, writes and input. */
export function errorsOf(e: Endpoint): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (!e.plain) codes.add('invalid_body');
  if (e.body) codes.add('invalid_json');
  if (e.auth === 'bearer') for (const c of ['missing_token', 'invalid_token', 'invalid_key', 'rate_limited'] as const) codes.add(c);
  if (e.auth === 'admin') for (const c of ['missing_token', 'invalid_token'] as const) codes.add(c);
  if (e.writes) codes.add('insufficient_scope');
  for (const c of e.errors) codes.add(c);
  if (!e.plain) for (const c of ['backend_unavailable', 'internal_error'] as const) codes.add(c);
  const order = ERRORS.map((x) => x.code as ErrorCode);
  return [...codes].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

/** The example request of an endpoint: path with example ids, query string and body. */
export function exampleRequest(e: Endpoint): { method: string; url: string; body: Record<string, unknown> | undefined } {
  let path = e.path;
  for (const [name, p] of Object.entries(e.params ?? {})) path = path.replace(`{${name}}`, p.example);
  const query = e.query ? `?${new URLSearchParams(e.query.example as Record<string, string>).toString()}` : '';
  return { method: e.method.toUpperCase(), url: path + query, body: e.body?.example };
}

/** How curl examples show a key: short, so commands stay readable. */
export const CURL_KEY = 'lib_xxxxxxxx';
/** How curl examples show the admin token: from the shell's environment. */
export const CURL_ADMIN_TOKEN = '$ADMIN_TOKEN';

/**
 * The example request as a curl command, one option per line; a long body gets a line per field.
 * `withBody: false` leaves an optional body out (the quickstart's bare POSTs).
 */
export function curlCommand(e: Endpoint, baseUrl: string, options: { withBody?: boolean } = {}): string {
  const { method, url, body } = exampleRequest(e);
  const lines = [`curl${method === 'GET' ? '' : ` -X ${method}`} ${e.response.contentType === 'application/pdf' ? '-L -o paywire-api.pdf ' : ''}"${baseUrl}${url}"`];
  if (e.auth === 'bearer') lines.push(`-H "Authorization: Bearer ${CURL_KEY}"`);
  if (e.auth === 'admin') lines.push(`-H "Authorization: Bearer ${CURL_ADMIN_TOKEN}"`);
  for (const [name, h] of Object.entries(e.headers ?? {})) lines.push(`-H "${name}: ${h.example}"`);
  if (body && options.withBody !== false) {
    const json = JSON.stringify(body).replaceAll(EXAMPLE.apiKey, CURL_KEY);
    const fields = Object.entries(JSON.parse(json) as Record<string, unknown>).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    const text = json.length <= 64 ? json : `{\n${fields.join(',\n')}\n  }`;
    lines.push('-H "Content-Type: application/json"', `-d '${text}'`);
  }
  return lines.join(' \\\n  ');
}

export function endpointById(operationId: string): Endpoint {
  const e = ENDPOINTS.find((x) => x.operationId === operationId);
  if (!e) throw new Error(`no endpoint ${operationId}`);
  return e;
}
