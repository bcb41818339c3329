/**
 * Catalogue entries of the Lightning rail's routes on the machine-payments API (`lightning/routes.ts`):
 * payment links, payments, the account's wallet, the dev backend's settle call, hosted checkout and
 * the BTCPay webhook. The public LNURL endpoints payers use are another family, described in the
 * guide (`guide-lnurl.ts`), not here.
 */
import { z } from 'zod';
import { btcpayWebhookBody } from '../lightning/btcpay-webhook.js';
import { encodeLnurl, lnurlpUri } from '../lightning/lnurl.js';
import { checkoutBody } from '../lightning/routes.js';
import { linkBody, paymentsQuery } from '../lightning/schemas.js';
import { BACKEND_KINDS } from '../lightning/types.js';
import { assetParam, input, ok, pageFields, type Endpoint } from './catalogue.js';
import { EXAMPLE } from './records.js';

/** `PUT /api/v1/accounts/me/wallet` is validated per backend kind in `Wallets.set`; this is its common part. */
const walletBody = z.looseObject({ backend: z.enum(BACKEND_KINDS) });

const linkUrl = `${EXAMPLE.publicUrl}/lnurl/pay/${EXAMPLE.linkId}`;
const host = new URL(EXAMPLE.publicUrl).host;

export const exLink = {
  link_id: EXAMPLE.linkId,
  asset_id: EXAMPLE.assetId,
  lnurl: encodeLnurl(linkUrl),
  url: linkUrl,
  lnurlp: lnurlpUri(linkUrl),
  lightning_address: `my-coffee-bot.coffee@${host}`,
  qr_png_url: `${linkUrl}/qr.png`,
  qr_svg_url: `${linkUrl}/qr.svg`,
  min_sats: 1500,
  max_sats: 1500,
  comment_allowed: 140,
  success_message: 'Enjoy your coffee',
  primary: true,
  created: EXAMPLE.time,
  updated: EXAMPLE.time,
};

const exPayment = {
  payment_id: EXAMPLE.paymentId,
  asset_id: EXAMPLE.assetId,
  amount_sats: 1500,
  duration_ms: 30000,
  payment_hash: EXAMPLE.paymentHash,
  pr: EXAMPLE.pr,
  status: 'pending' as const,
  rail: 'lightning' as const,
  comment: 'two sugars',
  created: EXAMPLE.time,
  expires_at: EXAMPLE.expiresAt,
  settled_at: null,
  delivered_at: null,
  refund_due: false,
};

const serverWallet = { backend: 'dev' as const, source: 'server' as const, settings: {}, secrets_set: [], created: null, updated: null };

const WALLET_FIELDS = [
  '- `dev`: no fields. The server\u2019s own regtest node; choosable only while it is the server default.',
  '- `lnbits`: `url` (the LNbits instance), `invoice_key` (secret: the wallet\u2019s invoice/read key).',
  '- `lnd`: `url` (REST, https), optional `tls_cert` (PEM, for a self-signed node), `macaroon` (secret: hex, invoice rights are enough).',
  '- `btcpay`: `url`, `store_id`, `api_key` (secret: can create and view invoices), `webhook_secret` (secret: of the store\u2019s webhook to POST /api/public/lightning/btcpay/webhook).',
  '- `lnaddress`: optional `address`, a Lightning address (LUD-16) elsewhere whose service supports LUD-21 verify (default the account\u2019s lightning_address). Invoices come from that service, and the links serve its metadata and amount limits.',
].join('\n');

/** Every Lightning endpoint of the family, in the order the PDF lists them. */
export const LIGHTNING_ENDPOINTS: Endpoint[] = [
  {
    operationId: 'provisionPaymentLink', method: 'post', path: '/api/v1/assets/{id}/payment-link', tag: 'Lightning', auth: 'bearer', writes: true,
    summary: 'Provision the LNURL-pay link & QR',
    description:
      'Makes the asset\u2019s permanent payment link (201), or changes its settings (200): the LNURL, its QR code and a Lightning address never change once made, so print them. Every field is optional; the first call MUST be this POST (a GET before it answers 404 payment_link_not_found). The account\u2019s first link is its primary one.',
    params: assetParam,
    body: input('PaymentLinkRequest', linkBody, {
      name: 'Address name: the link\u2019s Lightning address is <username>.<name>@<host>. 1-24 characters a-z, 0-9, - or _. Default: from the asset name.',
      comment_allowed: 'LUD-12: longest comment a payer may add, 0-1,000 characters; 0 refuses comments (default 140).',
      success_message: 'LUD-09: message the payer\u2019s wallet shows after paying, 1-144 characters (default \u201cPaid. The machine starts now.\u201d).',
      primary: 'Make this the link <username>@<host> pays (the previous primary link steps down).',
    }, { name: 'coffee', comment_allowed: 140, success_message: 'Enjoy your coffee', primary: true }),
    response: ok(201, 'PaymentLink', 'The new link (200 with the same body when it already existed)', exLink),
    errors: ['asset_not_found', 'asset_not_owned', 'name_taken'],
  },
  {
    operationId: 'getPaymentLink', method: 'get', path: '/api/v1/assets/{id}/payment-link', tag: 'Lightning', auth: 'bearer', writes: false,
    summary: 'Fetch the existing LNURL-pay link',
    description: 'The asset\u2019s payment link. 404 payment_link_not_found until it is provisioned with POST.',
    params: assetParam,
    response: ok(200, 'PaymentLink', 'The link', exLink),
    errors: ['asset_not_found', 'asset_not_owned', 'payment_link_not_found'],
  },
  {
    operationId: 'listPayments', method: 'get', path: '/api/v1/assets/{id}/payments', tag: 'Lightning', auth: 'bearer', writes: false,
    summary: 'List payments for an asset',
    description: 'Every invoice made for the asset and what became of it, newest first, in pages. A settled payment also appears as a `paid` event (source lightning, external_id lightning:<payment_hash>).',
    params: assetParam,
    query: input('ListPaymentsQuery', paymentsQuery, { status: 'Only payments in this state: pending, settled or expired.', ...pageFields }, { status: 'pending', limit: '20' }),
    response: ok(200, 'PaymentPage', 'A page of payments', { payments: [exPayment], next_cursor: null }),
    errors: ['asset_not_found', 'asset_not_owned'],
  },
  {
    operationId: 'createCheckout', method: 'post', path: '/api/v1/assets/{id}/checkout', tag: 'Lightning', auth: 'bearer', writes: true,
    summary: 'Start a hosted checkout for an asset',
    description:
      'Makes an invoice on the account\u2019s backend with a hosted checkout page, for payers who do not speak LNURL: send them to checkout_url. It is a payment like an LNURL invoice\u2019s, settled the same way. Only BTCPay has a hosted checkout; other backends answer 409 checkout_not_supported. The asset needs its payment link first.',
    params: assetParam,
    body: input('CheckoutRequest', checkoutBody, {
      amount_sats: 'Amount to charge, in satoshis. Fixed pricing: absent or price_sats. Variable pricing: required, from min_sats to max_sats; duration_ms scales with it.',
      redirect_url: 'Absolute http(s) URL the checkout page sends the payer back to once paid.',
    }, { amount_sats: 1500, redirect_url: 'https://example.com/thanks' }),
    response: ok(201, 'Checkout', 'The pending payment and its checkout page', {
      payment_id: EXAMPLE.paymentId, asset_id: EXAMPLE.assetId, amount_sats: 1500, duration_ms: 30000,
      checkout_url: 'https://btcpay.example.com/i/7QmBt3eXk9sV2hWq4c8Rz1', payment_hash: EXAMPLE.paymentHash, pr: EXAMPLE.pr, status: 'pending', expires_at: EXAMPLE.expiresAt,
    }),
    errors: ['asset_not_found', 'asset_not_owned', 'payment_link_not_found', 'checkout_not_supported', 'device_offline'],
  },
  {
    operationId: 'getWallet', method: 'get', path: '/api/v1/accounts/me/wallet', tag: 'Lightning', auth: 'bearer', writes: false,
    summary: 'Your Lightning wallet',
    description: 'Which backend makes the account\u2019s invoices: its own wallet (source account) or the server default (source server). Secrets are never shown, only their names.',
    response: ok(200, 'Wallet', 'The wallet', {
      backend: 'lnbits', source: 'account', settings: { url: 'https://lnbits.example.com' }, secrets_set: ['invoice_key'], created: EXAMPLE.time, updated: EXAMPLE.time,
    }),
    errors: [],
  },
  {
    operationId: 'putWallet', method: 'put', path: '/api/v1/accounts/me/wallet', tag: 'Lightning', auth: 'bearer', writes: true,
    summary: 'Set your own Lightning wallet',
    description:
      `New invoices for the account\u2019s assets are made by this wallet from now on. Invoices the previous wallet made are no longer looked up there, so change wallets while none is pending. The body is a JSON object: \`backend\` and that backend\u2019s fields, nothing else. A server offers the kinds it was built with. A wallet URL or Lightning address must lead to a public address: one written as a loopback, private or other non-public IP address is refused with 400 invalid_body, and a host name that resolves to one fails when used, unless the server\u2019s operator allows it. Secrets are stored encrypted and never returned; the record lists their names in secrets_set.\n\n${WALLET_FIELDS}`,
    body: input('PutWalletRequest', walletBody, {
      backend: 'dev, lnbits, lnd, btcpay or lnaddress; the fields that go with each are in the endpoint\u2019s description.',
    }, { backend: 'dev' }),
    response: ok(200, 'Wallet', 'The wallet', { backend: 'dev', source: 'account', settings: {}, secrets_set: [], created: EXAMPLE.time, updated: EXAMPLE.time }),
    errors: [],
  },
  {
    operationId: 'deleteWallet', method: 'delete', path: '/api/v1/accounts/me/wallet', tag: 'Lightning', auth: 'bearer', writes: true,
    summary: 'Go back to the server\u2019s wallet',
    description: 'Removes the account\u2019s own wallet and its secrets; new invoices are made by the server default. Answers the wallet now in use, also when none was set.',
    response: ok(200, 'Wallet', 'The server default', serverWallet),
    errors: [],
  },
  {
    operationId: 'devSettle', method: 'post', path: '/api/v1/dev/payments/{payment_hash}/settle', tag: 'Lightning', auth: 'admin', writes: false,
    summary: 'Dev backend: mark an invoice paid',
    description:
      'Pays an invoice of the dev backend, which issues real but unpayable regtest invoices (lnbcrt): the payment settles exactly as a real one would (paid event, webhook delivery). Needs the server\u2019s admin token (ADMIN_TOKEN), not an API key. Exists only while the dev backend is the server default (LIGHTNING_BACKEND=dev); elsewhere it answers 404 not_found. Settling again answers 200 with already_settled true. No request body.',
    params: { payment_hash: { description: 'The payment hash of the invoice (from the payment, or the BOLT 11 invoice)', example: EXAMPLE.paymentHash, pattern: '^[0-9a-fA-F]{64}$' } },
    response: ok(200, 'DevSettle', 'The settled payment', { ...exPayment, status: 'settled', settled_at: EXAMPLE.settledAt, already_settled: false }),
    errors: ['payment_not_found', 'not_found', 'not_a_dev_invoice', 'invoice_expired'],
  },
  {
    operationId: 'btcpayWebhook', method: 'post', path: '/api/public/lightning/btcpay/webhook', tag: 'Lightning', auth: 'public', writes: false,
    summary: 'BTCPay Server webhook (settles payments)',
    description:
      'Where a BTCPay store reports its invoices: point the store\u2019s webhook here, with the secret given as webhook_secret in the wallet (or BTCPAY_WEBHOOK_SECRET for the server default). Authenticated by the `BTCPay-Sig` header, not a key: `sha256=` and the hex HMAC-SHA256 of the raw body under that secret. It reports the store invoices of hosted checkouts (LNURL invoices made by BTCPay are looked up by polling). A delivery is only a hint: the bridge asks BTCPay about the invoice and settles the payment when BTCPay says it is settled. Events that settle nothing answer ignored true, a delivery id seen before duplicate true; 503 asks BTCPay to deliver again later.',
    headers: { 'BTCPay-Sig': { description: 'sha256= and the hex HMAC-SHA256 of the raw request body, keyed with the webhook secret.', example: 'sha256=3f7a0c1e9b5d2468ace02468bdf13579fdb97531eca86420aceb2468bdf13579' } },
    body: input('BtcpayWebhookRequest', btcpayWebhookBody, {
      deliveryId: 'BTCPay\u2019s id of this delivery; a repeated one answers duplicate true.',
      type: 'The event: InvoiceSettled, InvoicePaymentSettled, InvoiceReceivedPayment and InvoiceProcessing have the invoice checked; the others are ignored.',
      storeId: 'The BTCPay store: its webhook secret checks the signature.',
      invoiceId: 'The BTCPay invoice.',
      isRedelivery: 'True when BTCPay sends it again.',
      originalDeliveryId: 'On a redelivery, the first delivery\u2019s id.',
      metadata: 'The invoice metadata; orderId is the bridge\u2019s payment_id.',
    }, {
      deliveryId: 'Rz8m3PjZtvJ6fGcA2kXbq1', webhookId: 'Wb4n7QeL2sXc9dH5vT8pk3', isRedelivery: false, originalDeliveryId: 'Rz8m3PjZtvJ6fGcA2kXbq1',
      type: 'InvoiceSettled', timestamp: 1738324842, storeId: 'AbC123storeXyZ', invoiceId: '7QmBt3eXk9sV2hWq4c8Rz1',
      metadata: { orderId: EXAMPLE.paymentId }, manuallyMarked: false,
    }),
    response: ok(200, 'BtcpayWebhookAck', 'Received', { ok: true, settled: true, payment_id: EXAMPLE.paymentId }),
    errors: ['invalid_signature', 'backend_unavailable'],
  },
];
