/**
 * The BTCPay Server backend, over its Greenfield API (`Authorization: token <api key>`). Two APIs:
 * LNURL invoices come from the store's Lightning node (`/lightning/BTC/invoices` with
 * `descriptionHashOnly`, as BTCPay's own LNURL code does), because a store invoice's Lightning
 * invoice carries a plain description and LNURL wallets require the metadata's hash (LUD-06). The
 * hosted checkout (for payers without LNURL) is a store invoice paid on BTCPay's checkout page.
 * Refs: `ln:<lightning invoice id>` and `invoice:<store invoice id>`.
 * Checked against BTCPay Server 1.13 and 2.4: `BTCPayServer/Controllers/GreenField/
 * GreenfieldLightningNodeApiController.cs`, `GreenfieldInvoiceController.cs`,
 * `BTCPayServer/Payments/PaymentMethodId.cs`, `PaymentTypes.cs`.
 */
import { z } from 'zod';
import {
  BackendError,
  type BackendContext,
  type BackendSpec,
  type CheckoutRequest,
  type CreatedCheckout,
  type CreatedInvoice,
  type InvoiceRequest,
  type InvoiceState,
  type LightningBackend,
} from './backend.js';
import { httpJson, type HttpOptions } from './http.js';
import { checkInvoice, decodeInvoice, provenPreimage } from './invoice-check.js';

export const btcpaySettings = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2000),
  store_id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a BTCPay store id (letters, digits, - or _)'),
});

const token = z.string().regex(/^[\x21-\x7e]{1,512}$/, 'must be 1-512 printable ASCII characters without spaces');

export const btcpaySecrets = z.strictObject({
  api_key: token,
  /** The secret of the store's webhook: BTCPay signs each delivery with it (`BTCPay-Sig`). */
  webhook_secret: token,
});

export type BtcpaySettings = z.infer<typeof btcpaySettings>;
export type BtcpaySecrets = z.infer<typeof btcpaySecrets>;

/** Greenfield payment method ids of Lightning: 2.x names it `BTC-LN`, 1.x `BTC-LightningNetwork`. */
const LIGHTNING_METHOD_IDS = ['BTC-LN', 'BTC-LightningNetwork'];

/**
 * The Lightning payment method id a checkout asks for: the one both versions parse. 1.x
 * `PaymentMethodId.TryParse` splits on `_`/`-` and knows the type by `LightningLike`,
 * `LightningNetwork` or `OffChain`, not `LN` (a 422 "Invalid payment method"); 2.x maps those legacy
 * names to `LN` (`BTCPayServer/Payments/PaymentMethodId.cs`).
 */
const CHECKOUT_LIGHTNING_ID = 'BTC-LightningNetwork';

/** Greenfield `LightningInvoiceData`. */
const lightningInvoice = z.looseObject({
  id: z.string().min(1).max(200),
  status: z.enum(['Unpaid', 'Paid', 'Expired']),
  BOLT11: z.string().min(1),
  paymentHash: z.string().nullish(),
  preimage: z.string().nullish(),
});

/** Greenfield `InvoiceData` (the fields we use). */
const storeInvoice = z.looseObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/),
  status: z.enum(['New', 'Processing', 'Expired', 'Invalid', 'Settled']),
  checkoutLink: z.url({ protocol: /^https?$/ }).optional(),
  expirationTime: z.number().optional(),
});

/** Greenfield `InvoicePaymentMethodDataModel` (2.x `paymentMethodId`, 1.x `paymentMethod`). */
const paymentMethods = z.array(
  z.looseObject({
    paymentMethodId: z.string().optional(),
    paymentMethod: z.string().optional(),
    destination: z.string().nullish(),
  }),
);

export class BtcpayBackend implements LightningBackend {
  readonly kind = 'btcpay' as const;
  private readonly base: string;
  private readonly storeId: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly outbound: BackendContext['outbound'];

  constructor(settings: BtcpaySettings, secrets: Pick<BtcpaySecrets, 'api_key'>, context: Pick<BackendContext, 'timeoutMs' | 'outbound'>) {
    this.base = `${settings.url.replace(/\/+$/, '')}/api/v1/stores/${encodeURIComponent(settings.store_id)}`;
    this.storeId = settings.store_id;
    this.apiKey = secrets.api_key;
    this.timeoutMs = context.timeoutMs;
    this.outbound = context.outbound;
  }

  async createInvoice(request: InvoiceRequest): Promise<CreatedInvoice> {
    // BTCPay hashes `description` into the BOLT 11 `h` tag itself when `descriptionHashOnly` is set.
    const body = await this.call('POST', '/lightning/BTC/invoices', lightningInvoice, {
      amount: String(request.amountMsat),
      description: request.metadata,
      descriptionHashOnly: true,
      expiry: request.expirySeconds,
    });
    // LUD-06: the invoice must commit to sha256 of the metadata, or wallets refuse it.
    const invoice = checkInvoice('btcpay', body.BOLT11, { ...request, paymentHash: body.paymentHash ?? undefined }, 'BTCPay');
    const paymentHash = invoice.paymentHash;
    return { paymentHash, pr: body.BOLT11, expiresAt: invoice.expiresAt, ref: `ln:${body.id}` };
  }

  async createCheckout(request: CheckoutRequest): Promise<CreatedCheckout> {
    const checkout: Record<string, unknown> = {
      expirationMinutes: Math.max(1, Math.ceil(request.expirySeconds / 60)),
      paymentMethods: [CHECKOUT_LIGHTNING_ID],
      // Every payment method gets its destination at creation, so the Lightning invoice exists now.
      lazyPaymentMethods: false,
    };
    if (request.redirectUrl !== undefined) checkout['redirectURL'] = request.redirectUrl;
    const invoice = await this.call('POST', '/invoices', storeInvoice, {
      amount: String(request.amountSats),
      currency: 'SATS',
      metadata: { orderId: request.paymentId, itemDesc: request.description },
      checkout,
    });
    if (!invoice.checkoutLink) throw this.fail(`store invoice ${invoice.id} has no checkoutLink`);
    const methods = await this.call('GET', `/invoices/${encodeURIComponent(invoice.id)}/payment-methods`, paymentMethods);
    const lightning = methods.find((m) => LIGHTNING_METHOD_IDS.includes(m.paymentMethodId ?? m.paymentMethod ?? ''));
    if (!lightning) throw this.fail('the BTCPay store has no Lightning payment method', false);
    if (!lightning.destination) throw this.fail(`the Lightning payment method of invoice ${invoice.id} has no invoice yet`);
    const pr = lightning.destination.replace(/^lightning:/i, '');
    const decoded = decodeInvoice('btcpay', pr, 'BTCPay');
    if (decoded.amountMsat !== String(request.amountSats * 1000)) {
      throw this.fail(`checkout's Lightning invoice is for ${decoded.amountMsat ?? 'any'} msat instead of ${request.amountSats * 1000}`);
    }
    const expiresAt = invoice.expirationTime !== undefined ? new Date(invoice.expirationTime * 1000).toISOString() : decoded.expiresAt;
    return {
      paymentHash: decoded.paymentHash,
      pr,
      expiresAt,
      ref: `invoice:${invoice.id}`,
      checkoutUrl: invoice.checkoutLink,
    };
  }

  async lookupInvoice(paymentHash: string, ref: string | null): Promise<InvoiceState> {
    if (ref?.startsWith('ln:')) {
      const body = await this.call('GET', `/lightning/BTC/invoices/${encodeURIComponent(ref.slice(3))}`, lightningInvoice);
      if (decodeInvoice('btcpay', body.BOLT11, 'BTCPay').paymentHash !== paymentHash)
        throw this.fail(`Lightning invoice ${ref.slice(3)} is not the one with hash ${paymentHash}`);
      const settled = body.status === 'Paid';
      // Keep a preimage only when it is the invoice's (BOLT 11: sha256(preimage) = payment hash).
      const proven = settled ? provenPreimage(body.preimage, paymentHash) : null;
      return { settled, preimage: proven, dead: body.status === 'Expired' };
    }
    if (ref?.startsWith('invoice:')) {
      const body = await this.call('GET', `/invoices/${encodeURIComponent(ref.slice(8))}`, storeInvoice);
      return { settled: body.status === 'Settled', preimage: null, dead: body.status === 'Expired' || body.status === 'Invalid' };
    }
    throw this.fail(`cannot look up an invoice without a BTCPay reference (got ${JSON.stringify(ref)})`, false);
  }

  private async call<S extends z.ZodType>(method: 'GET' | 'POST', path: string, schema: S, json?: unknown): Promise<z.output<S>> {
    const options: HttpOptions = { method, headers: { authorization: `token ${this.apiKey}` }, timeoutMs: this.timeoutMs, outbound: this.outbound };
    if (json !== undefined) options.json = json;
    const { status, body } = await httpJson(this.kind, `${this.base}${path}`, options);
    // The Lightning node API answers an exception of the store's node (down, unreachable, refusing)
    // with 400 `generic-error`: `catch (Exception ex) { return this.CreateAPIError("generic-error",
    // ex.Message); }` in GreenfieldLightningNodeApiController.cs CreateInvoice. An outage, not a refusal.
    if (status === 400 && path.startsWith('/lightning/') && errorCode(body) === 'generic-error') {
      throw this.fail(`the store's Lightning node failed ${method} ${path} (HTTP 400${problem(body)})`);
    }
    if (status === 401 || status === 403)
      throw this.fail(`refused the API key (HTTP ${status}${problem(body)}): check its permissions for store ${this.storeId}`, false);
    if (status === 404) throw this.fail(`${method} ${path} answered HTTP 404${problem(body)}`, false);
    if (status >= 500) throw this.fail(`answered HTTP ${status}${problem(body)}`);
    if (status < 200 || status >= 300) throw this.fail(`refused ${method} ${path} with HTTP ${status}${problem(body)}`, false);
    const parsed = schema.safeParse(body);
    if (!parsed.success)
      throw this.fail(
        `answered ${method} ${path} with an unexpected body (${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message})`,
      );
    return parsed.data;
  }

  private fail(message: string, transient = true): BackendError {
    return new BackendError(this.kind, message, { transient });
  }
}

/** The `code` of a Greenfield error body, if it has one. */
function errorCode(body: unknown): string | undefined {
  const code = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** Greenfield errors: `{code, message}` (ProblemDetails) or `[{path, message}]` (validation). */
function problem(body: unknown): string {
  const list = Array.isArray(body) ? body : [body];
  const messages = list
    .map((p) => (typeof p === 'object' && p !== null ? (p as { message?: unknown }).message : undefined))
    .filter((m): m is string => typeof m === 'string');
  return messages.length > 0 ? `: ${messages.join('; ').slice(0, 300)}` : '';
}

export const btcpaySpec: BackendSpec<BtcpaySettings, BtcpaySecrets> = {
  kind: 'btcpay',
  description: "BTCPay Server (Greenfield API): the store's Lightning node for LNURL invoices, a hosted checkout, signed webhooks",
  settings: btcpaySettings,
  secrets: btcpaySecrets,
  env: { url: 'BTCPAY_URL', store_id: 'BTCPAY_STORE_ID', api_key: 'BTCPAY_API_KEY', webhook_secret: 'BTCPAY_WEBHOOK_SECRET' },
  create: (settings, secrets, context) => new BtcpayBackend(settings, secrets, context),
};
