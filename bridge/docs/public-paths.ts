/**
 * The OpenAPI paths of the other families a client of this API meets: the public LNURL endpoints a
 * payer's wallet calls (LUD-06/09/12/16/21, their own error shape), the QR codes, Lightning
 * addresses at `/.well-known/lnurlp` (LUD-16) and the facilitator's and license server's liveness
 * probes. They live at the root of the host, not under the machine-payments prefix, so each path
 * carries its own `servers` (OpenAPI 3.1 Path Item), and each operation names its family in
 * `x-paywire-family` (the catalogue test checks the rest against the machines router).
 */
import { EXAMPLE } from './records.js';

type Json = Record<string, unknown>;

/** Where the other families are mounted, and the host they are on. */
export interface PublicMounts {
  /** The public URL (`PUBLIC_URL`, or where the bridge is bound), no trailing slash, no family prefix. */
  base: string;
  lnurl: string;
  x402: string;
  license: string;
}

export const PUBLIC_TAGS = [
  { name: 'LNURL (public)', description: 'What a payer\u2019s wallet calls: no key, errors `{"status": "ERROR", "reason": "..."}`. See \u201cPaying a machine (LNURL)\u201d.' },
  { name: 'Health', description: 'Liveness probes of the other API families on this server.' },
];

const ID = '^[A-Za-z0-9._-]{1,100}$';
const string = { type: 'string' };
const integer = { type: 'integer' };

const lnurlError: Json = {
  description: 'LNURL error (LUD-06): 400 for a bad amount or comment, 404 for an unknown link, address or payment, 429 over LNURL_CALLBACKS_PER_MINUTE, 503 when the machine is offline or its wallet unavailable.',
  content: {
    'application/json': {
      schema: { type: 'object', required: ['status', 'reason'], properties: { status: { const: 'ERROR' }, reason: string } },
      example: { status: 'ERROR', reason: 'Unknown payment link' },
    },
  },
};

const payRequest: Json = {
  type: 'object',
  required: ['tag', 'callback', 'minSendable', 'maxSendable', 'metadata', 'commentAllowed'],
  properties: { tag: { const: 'payRequest' }, callback: string, minSendable: integer, maxSendable: integer, metadata: string, commentAllowed: integer },
};

const invoice: Json = {
  type: 'object',
  required: ['pr', 'routes', 'successAction', 'verify'],
  properties: {
    pr: { type: 'string', description: 'BOLT 11 invoice; its description hash is sha256 of the metadata.' },
    routes: { type: 'array', maxItems: 0 },
    successAction: { type: 'object', properties: { tag: { const: 'message' }, message: string } },
    verify: { type: 'string', description: 'LUD-21 verify URL of this invoice; its last segment is the payment hash.' },
  },
};

const verify: Json = {
  type: 'object',
  required: ['status', 'settled', 'preimage', 'pr'],
  properties: { status: { const: 'OK' }, settled: { type: 'boolean' }, preimage: { type: ['string', 'null'] }, pr: string },
};

function param(name: string, description: string, example: string): Json {
  return { name, in: 'path', required: true, description, schema: { type: 'string', pattern: ID }, example };
}

const linkParam = param('link_id', 'The link id (the last segment of the payment link\u2019s `url`).', EXAMPLE.linkId);
const amountParams: Json[] = [
  { name: 'amount', in: 'query', required: true, description: 'Millisatoshis, a whole number of sats within minSendable..maxSendable.', schema: { type: 'string', pattern: '^\\d{1,19}$' }, example: '1500000' },
  { name: 'comment', in: 'query', required: false, description: 'LUD-12 comment, at most commentAllowed characters.', schema: string, example: 'two sugars' },
];

function get(family: string, operationId: string, tag: string, summary: string, description: string, parameters: Json[], ok: Json, errors = true): Json {
  return {
    get: {
      operationId,
      tags: [tag],
      summary,
      description,
      'x-paywire-family': family,
      security: [],
      ...(parameters.length > 0 ? { parameters } : {}),
      responses: { '200': ok, ...(errors ? { '4XX': lnurlError, '503': lnurlError } : {}) },
    },
  };
}

const json = (description: string, schema: Json, example?: unknown): Json => ({
  description,
  content: { 'application/json': { schema, ...(example === undefined ? {} : { example }) } },
});

/** The paths, keyed by their full path on the host. */
export function publicPaths(m: PublicMounts): Record<string, Json> {
  const servers = [{ url: m.base, description: 'This server (its public URL)' }];
  // LUD-16: Lightning addresses are always at the root of the host, whatever path PUBLIC_URL has.
  const root = [{ url: new URL(m.base).origin, description: 'The root of this server\u2019s host' }];
  const tag = PUBLIC_TAGS[0]?.name as string;
  const health = PUBLIC_TAGS[1]?.name as string;
  const paths: Record<string, Json> = {
    [`${m.lnurl}/pay/{link_id}`]: get('lnurl', 'lnurlPayRequest', tag, 'The payRequest of a payment link (LUD-06)', 'What a wallet fetches after decoding the LNURL: callback, amounts in millisatoshis, metadata, commentAllowed (LUD-12).', [linkParam], json('The payRequest', payRequest)),
    [`${m.lnurl}/pay/{link_id}/callback`]: get('lnurl', 'lnurlCallback', tag, 'An invoice for an amount (LUD-06 callback)', 'One invoice and one pending payment per call, limited per client IP. The payment hash is the last segment of `verify`.', [linkParam, ...amountParams], json('The invoice', invoice)),
    [`${m.lnurl}/address/{name}/callback`]: get('lnurl', 'lnurlAddressCallback', tag, 'An invoice through a Lightning address (LUD-16 callback)', 'The callback of a payRequest reached through `/.well-known/lnurlp/{name}`; same parameters and answer.', [param('name', 'The address\u2019s local part: `<username>` or `<username>.<link name>`.', 'my-coffee-bot.coffee'), ...amountParams], json('The invoice', invoice)),
    [`${m.lnurl}/verify/{payment_hash}`]: get('lnurl', 'lnurlVerify', tag, 'Whether an invoice is paid (LUD-21)', 'Asks the backend on the spot; the preimage once settled, null before.', [param('payment_hash', 'The invoice\u2019s payment hash (hex).', EXAMPLE.paymentHash)], json('Settled or not', verify)),
    [`${m.lnurl}/pay/{link_id}/qr.png`]: get('lnurl', 'lnurlQrPng', tag, 'The payment link as a QR code (PNG)', '`LIGHTNING:` and the uppercase LNURL (LUD-01), 512 px, to print.', [linkParam], { description: 'The QR code', content: { 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } } } }),
    [`${m.lnurl}/pay/{link_id}/qr.svg`]: get('lnurl', 'lnurlQrSvg', tag, 'The payment link as a QR code (SVG)', '`LIGHTNING:` and the uppercase LNURL (LUD-01), as SVG.', [linkParam], { description: 'The QR code', content: { 'image/svg+xml': { schema: { type: 'string', contentMediaType: 'image/svg+xml' } } } }),
    ['/.well-known/lnurlp/{name}']: get('lightning-address', 'lightningAddress', tag, 'The payRequest of a Lightning address (LUD-16)', 'Always at the root of the host. `<username>` pays the account\u2019s primary link, `<username>.<link name>` that link; the metadata also carries `text/identifier`.', [param('name', 'The address\u2019s local part.', 'my-coffee-bot.coffee')], json('The payRequest', payRequest)),
    [`${m.x402}/health`]: get('x402', 'x402Health', health, 'The x402 facilitator is alive', 'Errors of this family are `{code, message, details}`.', [], json('Alive', { type: 'object', required: ['status', 'timestamp', 'version'], properties: { status: { const: 'healthy' }, timestamp: integer, version: string } }), false),
    [`${m.license}/healthz`]: get('license', 'licenseHealth', health, 'The license server is alive', 'Errors of this family are `{ok: false, error, message}`.', [], json('Alive', { type: 'object', required: ['ok'], properties: { ok: { const: true } } }), false),
  };
  for (const [path, item] of Object.entries(paths)) item['servers'] = path.startsWith('/.well-known/') ? root : servers;
  return paths;
}
