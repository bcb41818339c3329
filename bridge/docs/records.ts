/**
 * The records the machine-payments API sends, as zod schemas for the reference (OpenAPI and PDF),
 * with the example values every example uses. `ViewsMatch` proves at compile time that they are
 * exactly what `machines/views.ts` (and the Lightning rail's views) build.
 */
import { z } from 'zod';
import type { ActionSetMessage } from '../../broker/topics.js';
import type { credentialView } from '../devices/routes.js';
import type { PaymentLinks } from '../lightning/links.js';
import { BACKEND_KINDS, PAYMENT_RAILS } from '../lightning/types.js';
import type { WebhookAnswer } from '../lightning/btcpay-webhook.js';
import type { checkoutView, paymentView } from '../lightning/views.js';
import type { WalletView } from '../lightning/wallets.js';
import type { PublicKeyInfo } from '../webhooks/signing.js';
import { EVENT_TYPES } from '../machines/types.js';
import type { accountView, assetView, deliveryView, eventView, keyView, webhookView } from '../machines/views.js';


/** Placeholder values used in every example; tests swap them for live ones. */
export const EXAMPLE = {
  apiKey: `lib_${'c0ffee00'.repeat(8)}`,
  userId: 'x7k2m9q4w1e8r3t',
  assetId: 'k3x9q2m8v7w1p0z',
  eventId: 'e5n8b2v6c1x4z7a',
  keyId: 'r4t7y1u5i8o2p6q',
  deliveryId: 'msg_d3f6g9h2j5k8l1m',
  time: '2025-01-31T12:00:00.000Z',
  sessionToken: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4N2sybTlxNHcxZThyM3QifQ.c2lnbmF0dXJl',
  /** PUBLIC_URL of the example server: the host of LNURLs and Lightning addresses. */
  publicUrl: 'https://pay.example.com',
  linkId: 'l9w2c5n8b4v7x1z',
  paymentId: 'p2h6j9k3m7n1q5s',
  /** A real regtest invoice (BOLT 11) for 1,500 sats made at `time`, expiring 10 minutes later. */
  pr: 'lnbcrt15u1pneew6qpp5lr82qz8aeyau48hw0s00edhsajm65tk24slzx9p8u8un5zwhj4nshp5htr6vpmp90rnkn8xqq53gdarw72k8xjl0spkrwsy4vgmnyey885ssp59wuq65mmrk378z7nqds64p2ks677p6kdw930aa4ztl5hhaf85fdsxqzjccqpj9qypssq94039m4qqq3vd6h2c5dekh2k008z5xqr8d0fwy96smh2czhhattqpgaxaerewhl9p3e6h0phesfdtqyfns7jneacemxjlz3q33x9pwcqya8fs3',
  /** The payment hash of `pr`: sha256 of `preimage`. */
  paymentHash: 'f8cea008fdc93bca9eee7c1efcb6f0ecb7aa2ecaac3e231427e1f93a09d79567',
  preimage: 'd19256b8948888c6bfdb440d2d4e7b1813032ea231083d8bd03ca9ad99ff8086',
  expiresAt: '2025-01-31T12:10:00.000Z',
  settledAt: '2025-01-31T12:00:42.000Z',
  credentialId: 'c8v4b7n2m5x9z3q',
  /** A device credential's password: dpw_ + 48 hex digits. */
  devicePassword: `dpw_${'5eed'.repeat(12)}`,
  triggerId: 't6r3e9w2q5y8u1i',
} as const;

// ---------------------------------------------------------------- response records

const time = z.iso.datetime().meta({ description: 'ISO 8601 UTC timestamp' });
const eventType = z.enum(EVENT_TYPES);
const shownOnce = z.string().meta({ description: 'Reminder that the key is shown only once' });
const newKey = z.string().meta({ description: 'The new API key (lib_ + 64 hex digits). Shown once, never again.' });
const nextCursor = z.string().nullable().meta({ description: 'Pass as ?cursor= for the next page; null on the last' });
/** A page of a list: its items under `name`, and the cursor of the next page. */
const page = <N extends string, T extends z.ZodType>(name: N, item: T) => z.strictObject({ [name]: z.array(item), next_cursor: nextCursor } as { [K in N]: z.ZodArray<T> } & { next_cursor: typeof nextCursor });

const Account = z.strictObject({
  user_id: z.string().meta({ description: 'Account id (15 lowercase alphanumerics)' }),
  username: z.string().meta({ description: 'Unique name derived from the signup label' }),
  display_name: z.string(),
  lightning_address: z.string().nullable().meta({ description: 'LUD-16 address payments go to' }),
  api_key_prefix: z.string().meta({ description: 'lib_ and the first 8 hex digits of the calling key' }),
  key_scope: z.enum(['full', 'read']).meta({ description: 'Scope of the calling key' }),
  role: z.enum(['machine', 'user', 'admin']),
  created: time,
});

const ApiKey = z.strictObject({
  key_id: z.string(),
  api_key_prefix: z.string(),
  scope: z.enum(['full', 'read']).meta({ description: 'full reads and writes; read only reads' }),
  label: z.string().nullable(),
  created: time,
  revoked_at: time.nullable(),
});

const Asset = z.strictObject({
  asset_id: z.string(),
  name: z.string(),
  price_sats: z.int().meta({ description: 'Price of one run, in satoshis' }),
  duration_ms: z.int().meta({ description: 'How long the machine runs for price_sats' }),
  pricing: z.enum(['fixed', 'variable']).meta({ description: 'fixed: every payment is price_sats; variable: the payer chooses within min_sats..max_sats' }),
  min_sats: z.int().nullable().meta({ description: 'Variable pricing: smallest payment accepted (null for fixed)' }),
  max_sats: z.int().nullable().meta({ description: 'Variable pricing: largest payment accepted (null for fixed)' }),
  refuse_when_offline: z.boolean().meta({ description: 'Refuse new invoices while the machine is offline' }),
  metadata: z.record(z.string(), z.unknown()),
  x402: z
    .strictObject({
      pay_to: z.string().meta({ description: 'The receiving address (EIP-55 checksummed)' }),
      prices: z.array(
        z.strictObject({
          network: z.string().meta({ description: 'x402 network: a v1 name (base-sepolia) or CAIP-2 id (eip155:84532)' }),
          asset: z.string().meta({ description: 'The token contract (EIP-55 checksummed)' }),
          amount: z.string().meta({ description: 'Atomic units of the token, decimal' }),
        }),
      ),
    })
    .nullable()
    .meta({ description: 'x402 prices of one run (GET /api/v1/assets/{id}/x402); null when the asset takes none' }),
  online: z.boolean().nullable().meta({
    description:
      'Whether the machine is online, as the MQTT broker sees it: true once it publishes online on its status topic, or while a device credential of the asset is connected; false after offline (or its last will), and after a bridge restart until it is heard from again; null when never seen',
  }),
  last_seen: time.nullable().meta({ description: 'When the bridge last heard from the machine over MQTT (after a bridge restart: when its online state last changed); null when never' }),
  created: time,
  updated: time,
});

const Event = z.strictObject({
  event_id: z.string(),
  type: eventType,
  asset_id: z.string().nullable(),
  external_id: z.string().nullable().meta({ description: 'Your idempotency id, if given' }),
  data: z.record(z.string(), z.unknown()).nullable(),
  source: z.enum(['api', 'mqtt', 'lightning', 'x402', 'license', 'bridge']).meta({ description: 'Where the event came from' }),
  created: time,
});

const SigningKey = z.strictObject({
  algorithm: z.literal('ed25519'),
  scheme: z.literal('standard-webhooks-v1a'),
  key_id: z.string(),
  public_key: z.string().meta({ description: 'whpk_ + base64 of the raw 32-byte Ed25519 public key' }),
  public_key_hex: z.string(),
  public_key_pem: z.string().meta({ description: 'SPKI PEM, ready for crypto libraries' }),
  signed_content: z.string(),
  headers: z.array(z.string()),
});

const Webhook = z.strictObject({
  url: z.string(),
  events: z.array(eventType).meta({ description: 'Event types delivered; all when empty' }),
  disabled_at: time.nullable().meta({ description: 'Set when the receiver answered 410 Gone' }),
  created: time,
  updated: time,
});

const Delivery = z.strictObject({
  delivery_id: z.string().meta({ description: 'Also the webhook-id header of every attempt' }),
  event_id: z.string(),
  event_type: eventType,
  status: z.enum(['pending', 'delivered', 'failed', 'cancelled']),
  attempts: z.array(
    z.strictObject({ at: time, status_code: z.int().nullable(), error: z.string().nullable(), duration_ms: z.int() }),
  ),
  next_attempt_at: time.nullable(),
  created: time,
  updated: time,
});

// ---------------------------------------------------------------- the Lightning rail

const sats = (description: string) => z.int().meta({ description });

const PaymentLink = z.strictObject({
  link_id: z.string().meta({ description: 'The link id; the link never changes once made' }),
  asset_id: z.string(),
  lnurl: z.string().meta({ description: 'LUD-01: the link as a bech32 LNURL, uppercase for QR codes' }),
  url: z.string().meta({ description: 'The LUD-06 payRequest URL the LNURL encodes' }),
  lnurlp: z.string().meta({ description: 'LUD-17: the same URL with the lnurlp:// scheme' }),
  lightning_address: z.string().meta({ description: 'LUD-16 address of this link: <username>.<name>@<host>' }),
  qr_png_url: z.string().meta({ description: 'The LNURL as a QR code, PNG (512 px), to print' }),
  qr_svg_url: z.string().meta({ description: 'The LNURL as a QR code, SVG' }),
  min_sats: sats('Smallest payment accepted (price_sats for fixed pricing)'),
  max_sats: sats('Largest payment accepted (price_sats for fixed pricing)'),
  comment_allowed: z.int().meta({ description: 'LUD-12: longest payer comment accepted, 0 = none' }),
  success_message: z.string().meta({ description: 'LUD-09: shown by the payer\u2019s wallet after paying' }),
  primary: z.boolean().meta({ description: 'Whether <username>@<host> pays this link' }),
  created: time,
  updated: time,
});

const paymentFields = {
  payment_id: z.string(),
  asset_id: z.string().nullable().meta({ description: 'The machine it pays; null for a purchase that runs none (a license)' }),
  amount_sats: sats('Amount of the invoice, in satoshis (0 for an x402 payment: see the asset and amount it paid)'),
  duration_ms: z.int().meta({ description: 'How long the machine runs for this payment (scaled by the amount for variable pricing)' }),
  payment_hash: z.string().meta({ description: 'BOLT 11 payment hash, 64 hex digits' }),
  pr: z.string().meta({ description: 'The BOLT 11 invoice' }),
};
const expiresAt = time.meta({ description: 'When the invoice can no longer be paid' });

const Payment = z.strictObject({
  ...paymentFields,
  status: z.enum(['pending', 'settled', 'expired']),
  rail: z.enum(PAYMENT_RAILS).meta({ description: 'lightning: a BOLT 11 invoice; x402: an EIP-3009 authorization settled on chain' }),
  comment: z.string().nullable().meta({ description: 'LUD-12 comment from the payer' }),
  created: time,
  expires_at: expiresAt,
  settled_at: time.nullable(),
  delivered_at: time.nullable().meta({
    description:
      'When a machine acknowledged the MQTT payment message (an action report with this payment_id, or the PUBACK of a persistent session); null until then, and the bridge sends it again to each new subscription for PAYMENT_REPLAY_HOURS',
  }),
  refund_due: z.boolean().meta({
    description:
      'True when the invoice was paid after its asset was deleted: no machine is told to run for it, its paid event carries refund_due too, and the payer is owed a refund',
  }),
});

const Wallet = z.strictObject({
  backend: z.enum(BACKEND_KINDS).meta({ description: 'The Lightning backend that makes this account\u2019s invoices' }),
  source: z.enum(['account', 'server']).meta({ description: 'account: the account\u2019s own wallet; server: the server default' }),
  settings: z.record(z.string(), z.string()).meta({ description: 'The non-secret settings (URLs, store id)' }),
  secrets_set: z.array(z.string()).meta({ description: 'Names of the secrets that are set; their values are never shown' }),
  created: time.nullable(),
  updated: time.nullable(),
});

const Checkout = z.strictObject({
  ...paymentFields,
  checkout_url: z.string().meta({ description: 'The backend\u2019s hosted checkout page: send the payer there' }),
  status: z.literal('pending'),
  expires_at: expiresAt,
});

const BtcpayWebhookAck = z.strictObject({
  ok: z.literal(true),
  duplicate: z.literal(true).exactOptional().meta({ description: 'This delivery id was already handled' }),
  ignored: z.literal(true).exactOptional().meta({ description: 'Nothing to do: another event type, or not an invoice of ours' }),
  test: z.literal(true).exactOptional().meta({ description: 'BTCPay\u2019s \u201csend test webhook\u201d' }),
  settled: z.boolean().exactOptional().meta({ description: 'Whether BTCPay, asked again, says the invoice is settled' }),
  payment_id: z.string().exactOptional().meta({ description: 'The payment the invoice belongs to' }),
});

// ---------------------------------------------------------------- devices (MQTT logins, the manual trigger)

const DeviceCredential = z.strictObject({
  credential_id: z.string(),
  asset_id: z.string().meta({ description: 'The one asset this login may speak for' }),
  username: z.string().meta({ description: 'The MQTT username: dev_ and the credential_id' }),
  label: z.string().nullable().meta({ description: 'Your name for the device, if given' }),
  created: time,
});

const MqttConnection = z.strictObject({
  url: z.string().nullable().meta({ description: 'mqtt://<host of PUBLIC_URL>:<broker port>; null when the broker is not running (MQTT_ENABLED=false)' }),
  websocket_url: z.string().nullable().meta({ description: 'MQTT over WebSocket: the origin of PUBLIC_URL with ws(s):// and /mqtt; null when the broker is off' }),
  topic_prefix: z.string().meta({ description: 'paywire/<user_id>/<asset_id>/: every topic this login may use starts with it' }),
  subscribe: z.array(z.string()).meta({ description: 'The topics the machine listens to: payment, action/set, license' }),
  publish: z.array(z.string()).meta({ description: 'The topics the machine reports on: action, status, license/request' }),
});

// The device routes add the password and the broker's address to `credentialView`, and the asset and
// topic to the trigger message: `ViewsMatch` checks the parts those come from.
const DeviceCredentialIssued = z.strictObject({
  ...DeviceCredential.shape,
  password: z.string().meta({ description: 'The MQTT password (dpw_ + 48 hex digits). Shown once, never again.' }),
  warning: z.string().meta({ description: 'Reminder that the password is shown only once' }),
  mqtt: MqttConnection,
  bitcoinswitch: z
    .strictObject({
      device_string: z.string().meta({
        description:
          'For LNbits bitcoinSwitch firmware, unmodified: paste it as the device string. wss://<host>/api/v1/ws/<id>?pin=4, the id derived from this credential (revoking it stops the switch); change pin to the GPIO the relay is on. As secret as the password.',
      }),
    })
    .meta({ description: 'The WebSocket a bitcoinSwitch connects to: each payment sends it `<pin>-<duration ms>`' }),
});

const TriggerAccepted = z.strictObject({
  trigger_id: z.string().meta({ description: 'Id of this command, also in the action/set message' }),
  duration_ms: z.int().meta({ description: 'How long the machine is asked to run' }),
  reason: z.string().meta({ description: 'Why, as sent to the machine' }),
  asset_id: z.string(),
  topic: z.string().meta({ description: 'Where the command was published: paywire/<user_id>/<asset_id>/action/set' }),
  device_online: z.boolean().meta({ description: 'Whether the machine was online when the command was sent; an offline machine does not run it later unless it keeps a persistent session' }),
});

const ErrorBody = z.strictObject({
  error: z.string().meta({ description: 'Stable machine-readable code' }),
  message: z.string().meta({ description: 'Human-readable explanation' }),
});

/** Every response body, by component name. */
// x402 v1 PaymentRequirements, as the asset purchase route offers them (GET /api/v1/assets/{id}/x402).
const X402Requirements = z.strictObject({
  scheme: z.literal('exact'),
  network: z.string().meta({ description: 'The v1 network name (base-sepolia)' }),
  maxAmountRequired: z.string().meta({ description: 'The price in the token\u2019s atomic units' }),
  resource: z.string().meta({ description: 'This route\u2019s URL' }),
  description: z.string(),
  mimeType: z.string(),
  payTo: z.string().meta({ description: 'The asset\u2019s x402 pay_to' }),
  maxTimeoutSeconds: z.int(),
  asset: z.string().meta({ description: 'The token contract' }),
  extra: z.strictObject({ name: z.string(), version: z.string() }).meta({ description: 'The token\u2019s EIP-712 domain (EIP-3009 signing)' }),
});

const X402PaymentRequired = z.strictObject({
  x402Version: z.literal(1),
  error: z.string().meta({ description: 'Why payment is required, or why the payment sent was refused' }),
  accepts: z.array(X402Requirements).meta({ description: 'The EVM prices (the v2 PAYMENT-REQUIRED header also offers a Lightning invoice)' }),
  invalidReason: z.string().optional().meta({ description: 'When a payment was refused: the facilitator\u2019s reason (nonce_already_used, invalid_payload, \u2026)' }),
  payer: z.string().optional().meta({ description: 'When a payment was refused: who signed it' }),
});

export const RESPONSES = {
  Account,
  ApiKey,
  Asset,
  Event,
  Webhook,
  Delivery,
  SigningKey,
  Error: ErrorBody,
  DuplicateEventError: z.strictObject({ ...ErrorBody.shape, error: z.literal('duplicate_event'), event_id: z.string().meta({ description: 'The event already stored' }) }),
  AccountCreated: z.strictObject({ ...Account.shape, api_key: newKey, warning: shownOnce }),
  SessionExchange: z.strictObject({
    token: z.string().meta({ description: 'Session token (HS256 JWT), valid for 24 h' }),
    record: Account,
    expires_in: z.int().meta({ description: 'Seconds until the token expires' }),
  }),
  KeyIssued: z.strictObject({ ...ApiKey.shape, api_key: newKey, warning: shownOnce }),
  KeyList: z.strictObject({ keys: z.array(ApiKey) }),
  AssetList: z.strictObject({ assets: z.array(Asset) }),
  AssetDeleted: z.strictObject({ asset_id: z.string(), deleted: z.literal(true), deleted_at: time }),
  EventPage: page('events', Event),
  WebhookWithSigning: z.strictObject({ ...Webhook.shape, signing: SigningKey }),
  Deleted: z.strictObject({ deleted: z.literal(true) }),
  DeliveryPage: page('deliveries', Delivery),
  WebhookPayload: z.strictObject({
    type: z.enum(EVENT_TYPES.map((t) => `event.${t}` as const) as [`event.${(typeof EVENT_TYPES)[number]}`]),
    timestamp: time.meta({ description: 'When the event was created' }),
    data: z.strictObject({ ...Event.shape, user_id: z.string() }),
  }),
  PaymentLink,
  Payment,
  PaymentPage: page('payments', Payment),
  Wallet,
  Checkout,
  DevSettle: z.strictObject({
    ...Payment.shape,
    already_settled: z.boolean().meta({ description: 'True when it was settled before this call: nothing new happened' }),
  }),
  BtcpayWebhookAck,
  X402PaymentRequired,
  DeviceCredential,
  DeviceCredentialIssued,
  DeviceCredentialList: z.strictObject({ credentials: z.array(DeviceCredential).meta({ description: 'Live credentials, oldest first' }) }),
  DeviceCredentialRevoked: z.strictObject({ ...DeviceCredential.shape, revoked_at: time.meta({ description: 'When it was revoked: its next login is refused' }) }),
  TriggerAccepted,
  Health: z.strictObject({ ok: z.literal(true) }),
  OpenApiDocument: z.looseObject({ openapi: z.string(), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) }),
} as const;

export type ResponseName = keyof typeof RESPONSES;

/** Compile-time proof that the documented records are exactly what `machines/views.ts` sends. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type ViewsMatch = [
  Assert<Same<z.output<typeof Account>, ReturnType<typeof accountView>>>,
  Assert<Same<z.output<typeof ApiKey>, ReturnType<typeof keyView>>>,
  Assert<Same<z.output<typeof Asset>, ReturnType<typeof assetView>>>,
  Assert<Same<z.output<typeof Event>, ReturnType<typeof eventView>>>,
  Assert<Same<z.output<typeof Webhook>, ReturnType<typeof webhookView>>>,
  Assert<Same<z.output<typeof Delivery>, ReturnType<typeof deliveryView>>>,
  Assert<Same<z.output<typeof SigningKey>, PublicKeyInfo>>,
  Assert<Same<z.output<typeof PaymentLink>, ReturnType<PaymentLinks['view']>>>,
  Assert<Same<z.output<typeof Payment>, ReturnType<typeof paymentView>>>,
  Assert<Same<z.output<typeof Wallet>, WalletView>>,
  Assert<Same<z.output<typeof BtcpayWebhookAck>, WebhookAnswer>>,
  Assert<Same<Omit<z.output<typeof Checkout>, 'status'>, Omit<ReturnType<typeof checkoutView>, 'status'>>>,
  Assert<Same<z.output<typeof DeviceCredential>, ReturnType<typeof credentialView>>>,
  Assert<Same<Pick<z.output<typeof TriggerAccepted>, keyof ActionSetMessage>, ActionSetMessage>>,
];

/** JSON Schema 2020-12 of a zod schema, without the noise zod adds for readers of a reference. */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', override: tidyJsonSchema });
  return rest;
}

/** A `toJSONSchema` override: drop zod's date-time regex and the safe-integer bounds of `z.int()`. */
export function tidyJsonSchema({ jsonSchema }: { jsonSchema: Record<string, unknown> }): void {
  if (jsonSchema['format'] === 'date-time') delete jsonSchema['pattern'];
  if (jsonSchema['minimum'] === Number.MIN_SAFE_INTEGER) delete jsonSchema['minimum'];
  if (jsonSchema['maximum'] === Number.MAX_SAFE_INTEGER) delete jsonSchema['maximum'];
}
