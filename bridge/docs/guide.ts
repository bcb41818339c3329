/** The guide sections of the reference (auth, quickstart, paying by LNURL, machines over MQTT, rate limits, errors, webhooks, GUI login). */
import { SESSION_TTL_SECONDS } from '../machines/auth.js';
import { exEvent } from './endpoints.js';
import { lnurlSection } from './guide-lnurl.js';
import { mqttSection } from './guide-mqtt.js';
import { EXAMPLE } from './records.js';


/** What differs between deployments and shows up in the documents. */
export interface DocsSettings {
  /** Base URL of the machine-payments family, no trailing slash. */
  baseUrl: string;
  /** 0 = unlimited. */
  rateLimitPerMinute: number;
  /** 0 = unlimited; absent: twice rateLimitPerMinute (the default). */
  rateLimitPerAccountPerMinute?: number;
  /** Live keys per account; absent: 10 (the default). */
  maxKeysPerAccount?: number;
  /** Live assets per account; absent: 1,000 (the default). */
  maxAssetsPerAccount?: number;
  signupsPerHour: number;
}

/** A piece of a guide section. Text may hold `inline code` in backticks. */
export type Block =
  | { kind: 'text'; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'steps'; items: string[] }
  /** A small table; cells are plain text, `mono` columns are set in a fixed-width font. */
  | { kind: 'table'; columns: { title: string; width: number; mono?: boolean }[]; rows: string[][] }
  /** The example request of an endpoint, as curl; `withBody: false` leaves its optional body out. */
  | { kind: 'request'; title: string; endpoint: string; withBody?: false }
  /** The table of every endpoint. */
  | { kind: 'endpoint-index' }
  /** The table of every error code. */
  | { kind: 'errors' };

export interface Section {
  id: string;
  title: string;
  blocks: Block[];
}

const VERIFY_SNIPPET = `import { createPublicKey, verify } from 'node:crypto';

// public_key_pem from GET /api/public/webhooks/public-key
const key = createPublicKey(publicKeyPem);

function verifyWebhook(headers, rawBody) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const content = Buffer.from(\`\${id}.\${ts}.\${rawBody}\`);
  return headers['webhook-signature'].split(' ').some((sig) =>
    sig.startsWith('v1a,') &&
    verify(null, content, key, Buffer.from(sig.slice(4), 'base64')));
}`;

function rateLimitText(s: DocsSettings): Block[] {
  const perKey =
    s.rateLimitPerMinute > 0
      ? `${s.rateLimitPerMinute} requests per minute per API key (a token bucket: bursts of up to ${s.rateLimitPerMinute}, refilled evenly over the minute). Exceeding the limit returns 429 rate_limited with a \`Retry-After\` header (seconds).`
      : 'Requests per API key are not limited on this server (RATE_LIMIT_PER_MINUTE is 0).';
  const signups =
    s.signupsPerHour > 0
      ? `${s.signupsPerHour} signups per hour per IP on \`POST /api/v1/accounts\`. Build your fleet provisioning around this: one key per agent, not one key per request.`
      : 'Signups per IP are not limited on this server (SIGNUPS_PER_HOUR is 0).';
  const accountLimit = s.rateLimitPerAccountPerMinute ?? 2 * s.rateLimitPerMinute;
  const perAccount =
    accountLimit > 0
      ? `${accountLimit} requests per minute per account: every key of an account (and every session token made from them) draws on one shared allowance as well as its own, so more keys do not buy more requests. A 429 says which of the two ran out.`
      : 'Requests per account are not limited on this server (RATE_LIMIT_PER_ACCOUNT_PER_MINUTE is 0).';
  const keys = `An account holds at most ${s.maxKeysPerAccount ?? 10} live API keys and ${s.maxAssetsPerAccount ?? 1000} assets; past that, \`POST /api/v1/accounts/me/keys\` answers 409 key_limit_reached until a key is revoked, and \`POST /api/v1/assets\` 409 asset_limit_reached until an asset is deleted.`;
  return [
    { kind: 'text', text: perKey },
    { kind: 'text', text: perAccount },
    { kind: 'text', text: keys },
    { kind: 'text', text: signups },
    { kind: 'text', text: 'Limited responses carry `X-RateLimit-Limit` and `X-RateLimit-Remaining`; a 429 also carries `Retry-After`. The defaults are 60 per minute per key, 120 per account, 10 keys, 1,000 assets and 5 signups per hour; operators change them with RATE_LIMIT_PER_MINUTE, RATE_LIMIT_PER_ACCOUNT_PER_MINUTE, MAX_KEYS_PER_ACCOUNT, MAX_ASSETS_PER_ACCOUNT and SIGNUPS_PER_HOUR.' },
  ];
}

/** The guide around the endpoint reference, in reading order. */
export function guideSections(s: DocsSettings): Section[] {
  return [
    {
      id: 'overview',
      title: 'API for machines & AI agents',
      blocks: [
        { kind: 'text', text: 'A small REST surface so an autonomous agent (a robot, a Home Assistant automation, a langgraph node, an n8n flow) can sign itself up, get an API key and start collecting Bitcoin Lightning payments for the hardware it controls. No browser, no human in the loop.' },
      ],
    },
    {
      id: 'auth',
      title: 'Base URL & auth',
      blocks: [
        { kind: 'text', text: `The base URL of this server is \`${s.baseUrl}\`. All responses are JSON (except this PDF); all timestamps are ISO 8601 UTC.` },
        { kind: 'text', text: 'Authenticate every request except the public ones (signup, the session exchange, the signing key, the BTCPay webhook, which is signed, and these documents) with `Authorization: Bearer lib_xxx`. Keys are `lib_` followed by 64 hex digits, issued by the signup endpoint and returned exactly once: store them in your secrets manager immediately. The dev backend\u2019s settle call alone takes the server\u2019s admin token instead.' },
        { kind: 'text', text: 'Keys have a scope. Full keys read and write; read-only keys (made with `POST /api/v1/accounts/me/keys`) can call every GET endpoint, and any write answers 403 insufficient_scope.' },
        { kind: 'text', text: 'CORS is open for browser-based agents (`Access-Control-Allow-Origin: *`). Preflight (OPTIONS) is supported on every endpoint.' },
        { kind: 'text', text: 'Request bodies must be JSON (`Content-Type: application/json`). Unknown fields and unknown query parameters are refused with 400 invalid_body, never silently ignored. Lists are newest first; a paged list returns `next_cursor`, to be passed back as `?cursor=` for the next page (null on the last page).' },
      ],
    },
    {
      id: 'quickstart',
      title: '30-second quickstart',
      blocks: [
        { kind: 'text', text: 'Create an account, prove the key works, create an asset, provision its Lightning payment link.' },
        { kind: 'request', title: '1. Create a machine account', endpoint: 'createAccount' },
        { kind: 'request', title: '2. Get your account info', endpoint: 'getAccount' },
        { kind: 'request', title: '3. Create an asset', endpoint: 'createAsset' },
        { kind: 'request', title: '4. Provision the Lightning payment link / QR (first call MUST be POST)', endpoint: 'provisionPaymentLink', withBody: false },
        { kind: 'request', title: '5. Download these docs as PDF', endpoint: 'getDocsPdf' },
        {
          kind: 'text',
          text: 'The payment link answers with its LNURL, the URLs of its QR code and its Lightning address: print the QR code on the machine. Any Lightning wallet that speaks LNURL can pay it (see Paying a machine), and every payment reaches you as a `paid` event, by webhook if you set one.',
        },
      ],
    },
    lnurlSection(),
    mqttSection(),
    { id: 'endpoints', title: 'Endpoints', blocks: [{ kind: 'endpoint-index' }] },
    {
      id: 'gui',
      title: 'Monitor a bot from the GUI',
      blocks: [
        { kind: 'text', text: 'Accounts provisioned via `POST /api/v1/accounts` have no email or password: they are identified purely by their api_key. To watch a bot\u2019s assets, payments and stats in the dashboard, log in with the API key:' },
        {
          kind: 'steps',
          items: [
            'Open /login and switch to the API key tab.',
            'Paste the lib_ key you stored at signup.',
            'The dashboard calls `POST /api/v1/auth/exchange` behind the scenes and saves a 24 h session token.',
            'You land on the same dashboard as an email-signed-up user.',
          ],
        },
        { kind: 'text', text: 'You can also do the exchange yourself (e.g. for embedded dashboards):' },
        { kind: 'request', title: 'Exchange API key for a session token', endpoint: 'exchangeKey' },
        { kind: 'code', text: '# -> { "token": "<jwt>", "record": { ...account... }, "expires_in": 86400 }' },
        { kind: 'text', text: 'Send the token as `Authorization: Bearer <token>`, or bare as `Authorization: <token>` the way PocketBase clients do. It acts with the scope of the key it was exchanged for and stops working when that key is rotated or revoked. Tokens expire after 24 h: exchange the API key again to refresh.' },
      ],
    },
    { id: 'rate-limits', title: 'Rate limits', blocks: rateLimitText(s) },
    {
      id: 'errors',
      title: 'Errors',
      blocks: [
        { kind: 'text', text: 'Every error body is `{ "error": "code", "message": "..." }`; a 409 duplicate_event also carries `event_id`. Treat unknown codes the same as a 500.' },
        { kind: 'errors' },
      ],
    },
    {
      id: 'webhooks',
      title: 'Webhooks and signature verification',
      blocks: [
        { kind: 'text', text: 'With a webhook set (`PUT /api/v1/accounts/me/webhook`), every new event of the chosen types is POSTed as JSON to your URL. Answer any 2xx quickly; other answers, timeouts and redirects are retried with growing delays, and 410 Gone disables the webhook until you set it again.' },
        { kind: 'code', text: JSON.stringify({ type: 'event.action', timestamp: EXAMPLE.time, data: { ...exEvent, user_id: EXAMPLE.userId } }, null, 2) },
        { kind: 'text', text: 'Deliveries are signed per Standard Webhooks, asymmetric scheme v1a (Ed25519). Each request carries `webhook-id` (the delivery id, the same on every retry: use it to deduplicate), `webhook-timestamp` (Unix seconds) and `webhook-signature: v1a,<base64 signature>`.' },
        {
          kind: 'steps',
          items: [
            'Fetch the public key once from `GET /api/public/webhooks/public-key` (whpk_ base64, hex or PEM).',
            'Build the signed content `{webhook-id}.{webhook-timestamp}.{raw body}` from the raw request body, before any JSON parsing.',
            'Verify the base64 signature after `v1a,` with Ed25519; the header may hold several space-separated signatures, one valid is enough.',
            'Reject timestamps more than 5 minutes from your clock, to stop replays.',
          ],
        },
        { kind: 'code', text: VERIFY_SNIPPET },
      ],
    },
  ];
}
