/**
 * The LNbits backend: invoices from one LNbits wallet, made with its invoice (read) key over the
 * LNbits REST API (`X-Api-Key`). LNbits hashes the LNURL metadata into the invoice itself
 * (`unhashed_description`). Settlement is found by polling `GET /api/v1/payments/{hash}`: LNbits
 * webhooks are unsigned, so they are not taken. Ref: https://docs.lnbits.org (API: /docs).
 * Checked against LNbits 0.12 to 1.5: `lnbits/core/views/payment_api.py`,
 * `lnbits/core/models/payments.py`, `lnbits/exceptions.py`.
 */
import { z } from 'zod';
import {
  BackendError,
  type BackendContext,
  type BackendSpec,
  type CreatedInvoice,
  type InvoiceRequest,
  type InvoiceState,
  type LightningBackend,
} from './backend.js';
import { httpJson, type HttpResult } from './http.js';
import { checkInvoice, HEX32, provenPreimage } from './invoice-check.js';

export const lnbitsSettings = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2000),
});

export const lnbitsSecrets = z.strictObject({
  invoice_key: z.string().regex(/^[\x21-\x7e]{1,256}$/, "must be the wallet's invoice key: 1-256 printable ASCII characters without spaces"),
});

export type LnbitsSettings = z.infer<typeof lnbitsSettings>;
export type LnbitsSecrets = z.infer<typeof lnbitsSecrets>;

/**
 * `POST /api/v1/payments` (out: false) answers 201 (`status_code=HTTPStatus.CREATED` since 0.x):
 * 0.x `{payment_hash, payment_request, checking_id, lnurl_response}`; 1.x a Payment, whose BOLT 11 is
 * `bolt11` (1.0-1.3 have no `payment_request`; from 1.4 it is a copy of `bolt11`, or a fiat
 * provider's payment link when the payment has one: `lnbits/core/models/payments.py`).
 */
const created = z.looseObject({
  payment_hash: z.string().regex(HEX32),
  payment_request: z.string().min(1).nullish(),
  bolt11: z.string().min(1).nullish(),
});

/** `GET /api/v1/payments/{payment_hash}`: `status` is `failed` once LNbits has given the invoice up (1.x). */
const lookedUp = z.looseObject({
  paid: z.boolean(),
  preimage: z.string().nullish(),
  status: z.string().nullish(),
});

/** FastAPI error body. */
const problem = z.looseObject({ detail: z.unknown() });

/** `lnbits/core/views/payment_api.py` api_payment: the one 404 that means "no such payment". */
const PAYMENT_UNKNOWN = 'Payment does not exist.';

/** The `detail` of an LNbits error: a string, or FastAPI's list of `{msg}` (a 422 of an old LNbits). */
function detailOf(res: HttpResult<unknown>): string | undefined {
  const parsed = problem.safeParse(res.body);
  if (!parsed.success) return undefined;
  const { detail } = parsed.data;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    const msgs = detail
      .map((d) => (typeof d === 'object' && d !== null ? (d as { msg?: unknown }).msg : undefined))
      .filter((m): m is string => typeof m === 'string');
    return msgs.length > 0 ? msgs.join('; ') : undefined;
  }
  return undefined;
}

export class LnbitsBackend implements LightningBackend {
  readonly kind = 'lnbits' as const;
  private readonly base: string;
  private readonly key: string;
  private readonly timeoutMs: number;
  private readonly outbound: BackendContext['outbound'];

  constructor(settings: LnbitsSettings, secrets: LnbitsSecrets, context: Pick<BackendContext, 'timeoutMs' | 'outbound'>) {
    this.base = settings.url.replace(/\/+$/, '');
    this.key = secrets.invoice_key;
    this.timeoutMs = context.timeoutMs;
    this.outbound = context.outbound;
  }

  async createInvoice(request: InvoiceRequest): Promise<CreatedInvoice> {
    if (!Number.isSafeInteger(request.amountMsat) || request.amountMsat <= 0 || request.amountMsat % 1000 !== 0) {
      throw new BackendError('lnbits', `LNbits takes whole sats, not ${request.amountMsat} msat`, { transient: false });
    }
    const res = await httpJson('lnbits', `${this.base}/api/v1/payments`, {
      method: 'POST',
      headers: { 'X-Api-Key': this.key },
      json: {
        out: false,
        amount: request.amountMsat / 1000,
        unit: 'sat',
        memo: request.memo,
        // LUD-06: LNbits puts sha256 of these bytes in the invoice's `h` tag.
        unhashed_description: Buffer.from(request.metadata, 'utf8').toString('hex'),
        expiry: request.expirySeconds,
      },
      timeoutMs: this.timeoutMs,
      outbound: this.outbound,
    });
    // 404 here is LNbits' "Wallet not found.": the key belongs to no wallet.
    if (res.status !== 200 && res.status !== 201) throw refusal(res, 'create an invoice', [401, 403, 404]);
    const body = created.safeParse(res.body);
    const pr = body.success ? (body.data.bolt11 ?? body.data.payment_request) : undefined;
    if (!body.success || !pr) throw new BackendError('lnbits', 'answered the invoice request without a payment_hash and payment_request', { transient: false });
    const paymentHash = body.data.payment_hash.toLowerCase();
    // LNbits hashes unhashed_description into the `h` tag; an older LNbits that ignores it would not (LUD-06).
    const invoice = checkInvoice('lnbits', pr, { ...request, paymentHash }, 'LNbits');
    return { paymentHash, pr, expiresAt: invoice.expiresAt, ref: null };
  }

  async lookupInvoice(paymentHash: string): Promise<InvoiceState> {
    if (!HEX32.test(paymentHash)) throw new BackendError('lnbits', `not a payment hash: ${JSON.stringify(paymentHash)}`, { transient: false });
    const res = await httpJson('lnbits', `${this.base}/api/v1/payments/${paymentHash}`, {
      headers: { 'X-Api-Key': this.key },
      timeoutMs: this.timeoutMs,
      outbound: this.outbound,
    });
    // LNbits answers an unknown hash 404 `{"detail": "Payment does not exist."}`. Any other 404 (FastAPI's
    // `{"detail": "Not Found"}` for a path without a route: a wrong URL or prefix, a proxy) is a fault,
    // and must not kill pending payments.
    if (res.status === 404 && detailOf(res) === PAYMENT_UNKNOWN) return { settled: false, preimage: null, dead: true };
    if (res.status !== 200) throw refusal(res, 'look the invoice up', [401, 403]);
    const body = lookedUp.safeParse(res.body);
    if (!body.success) throw new BackendError('lnbits', 'answered the invoice lookup without a boolean `paid`', { transient: false });
    if (body.data.paid) return { settled: true, preimage: provenPreimage(body.data.preimage, paymentHash), dead: false };
    return { settled: false, preimage: null, dead: body.data.status === 'failed' };
  }
}

/**
 * A non-success answer as a BackendError: a refused key is permanent, a server fault is not. A
 * validation error is 400 with `detail` as a string (`lnbits/exceptions.py`
 * validation_exception_handler), permanent too.
 */
function refusal(res: HttpResult<unknown>, what: string, keyRefused: number[]): BackendError {
  const text = detailOf(res);
  const detail = text ? `: ${text.slice(0, 200)}` : '';
  if (res.status === 404 && text === 'Not Found') {
    return new BackendError('lnbits', `has no payments API at this URL (HTTP 404: Not Found) when asked to ${what}: is it the LNbits root?`, {
      transient: false,
    });
  }
  if (keyRefused.includes(res.status)) {
    return new BackendError('lnbits', `refused the invoice key (HTTP ${res.status}${detail}) when asked to ${what}`, { transient: false });
  }
  // 5xx, and LNbits' own 520 when its funding source fails: try again later.
  return new BackendError('lnbits', `could not ${what}: HTTP ${res.status}${detail}`, { transient: res.status >= 500 || res.status === 429 });
}

export const lnbitsSpec: BackendSpec<LnbitsSettings, LnbitsSecrets> = {
  kind: 'lnbits',
  description: 'LNbits wallet (invoice key); settlement found by polling',
  settings: lnbitsSettings,
  secrets: lnbitsSecrets,
  env: { url: 'LNBITS_URL', invoice_key: 'LNBITS_INVOICE_KEY' },
  create: (settings, secrets, context) => new LnbitsBackend(settings, secrets, context),
};
