/**
 * BTCPay's signed webhook, `POST /api/public/lightning/btcpay/webhook` (public: BTCPay holds no
 * Bearer key). A delivery is trusted only after its `BTCPay-Sig: sha256=<hex HMAC-SHA256(secret, raw
 * body)>` matches the webhook secret of the store it names (the server default's or an account
 * wallet's), compared in constant time over the exact bytes received. Even then it is only a hint:
 * the store invoice is fetched from BTCPay and the payment settles only when BTCPay says `Settled`.
 * Settlement is exactly once, so redeliveries and replays are harmless; repeated delivery ids are
 * answered from memory.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Router } from '@koa/router';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { validate } from '../http/validate.js';
import type { Settlement } from './settlement.js';
import type { LightningStore } from './store.js';
import type { PaymentRecord } from './types.js';
import type { Wallets } from './wallets.js';

export const BTCPAY_WEBHOOK_PATH = '/api/public/lightning/btcpay/webhook';

export interface BtcpayWebhookDeps {
  store: LightningStore;
  wallets: Wallets;
  settlement: Settlement;
  log: Logger;
  /** Which payments this webhook may settle (the license server's takes only purchases); all when absent. */
  accepts?: (payment: PaymentRecord) => boolean;
}

/** Events after which the invoice may be settled (the last two are hints: it may settle soon). */
const RECHECKED = new Set(['InvoiceSettled', 'InvoicePaymentSettled', 'InvoiceReceivedPayment', 'InvoiceProcessing']);

/** BTCPay's "send test webhook" uses invoice ids `__test__<guid>__test__`. */
const TEST_INVOICE = /^__test__.*__test__$/;

/** Delivery ids remembered for duplicate answers (oldest forgotten first). */
const REMEMBERED_DELIVERIES = 10_000;

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

const envelope = z.looseObject({ storeId: z.string().min(1).max(200) });

/** BTCPay webhook payload (invoice events): the fields we read; each event type carries more. */
export const btcpayWebhookBody = envelope.extend({
  deliveryId: z.string().min(1).max(200),
  type: z.string().min(1).max(100),
  invoiceId: z.string().max(200).nullish(),
  isRedelivery: z.boolean().nullish(),
  originalDeliveryId: z.string().max(200).nullish(),
  metadata: z.looseObject({ orderId: z.unknown() }).nullish(),
});

export interface WebhookAnswer {
  ok: true;
  duplicate?: true;
  ignored?: true;
  test?: true;
  settled?: boolean;
  payment_id?: string;
}

export class BtcpayWebhook {
  private readonly deps: BtcpayWebhookDeps;
  private readonly seen = new Set<string>();

  constructor(deps: BtcpayWebhookDeps) {
    this.deps = deps;
  }

  /** One delivery: the raw body as received, the parsed body and the `BTCPay-Sig` header. */
  async receive(rawBody: string | undefined, parsed: unknown, signature: string | undefined): Promise<WebhookAnswer> {
    // The store id only chooses which secrets to try; nothing else is read before the signature holds.
    const { storeId } = validate(envelope, parsed);
    const signers = await this.verify(storeId, rawBody ?? '', signature);
    const event = validate(btcpayWebhookBody, parsed);
    const key = `${storeId}/${event.deliveryId}`;
    if (this.seen.has(key)) return { ok: true, duplicate: true };
    const answer = await this.handle(storeId, event, signers);
    this.remember(key);
    return answer;
  }

  /** The owners (`null` = the server default) whose secret signed the body; 401 when none did. */
  private async verify(storeId: string, rawBody: string, header: string | undefined): Promise<(string | null)[]> {
    const given = SIGNATURE.exec(header?.trim() ?? '')?.[1];
    if (!given) throw new AppError(401, 'invalid_signature', 'Missing or malformed BTCPay-Sig header (expected sha256=<hex HMAC-SHA256>)');
    const expected = Buffer.from(given, 'hex');
    // The bridge refuses bodies that are not UTF-8, so this gives back the exact bytes BTCPay signed.
    const bytes = Buffer.from(rawBody, 'utf8');
    const signers: (string | null)[] = [];
    for (const { user_id, secret } of await this.deps.wallets.btcpaySecretsFor(storeId)) {
      const mac = createHmac('sha256', secret).update(bytes).digest();
      if (timingSafeEqual(mac, expected)) signers.push(user_id);
    }
    if (signers.length === 0) {
      this.deps.log.warn({ storeId }, 'BTCPay webhook with a signature no secret of its store makes');
      throw new AppError(401, 'invalid_signature', 'The BTCPay-Sig signature does not match the webhook secret of this store');
    }
    return signers;
  }

  private async handle(storeId: string, event: z.infer<typeof btcpayWebhookBody>, signers: (string | null)[]): Promise<WebhookAnswer> {
    const invoiceId = event.invoiceId ?? '';
    if (TEST_INVOICE.test(invoiceId)) return { ok: true, test: true };
    if (invoiceId === '' || !RECHECKED.has(event.type)) return { ok: true, ignored: true };
    const orderId = event.metadata?.orderId;
    const payment = typeof orderId === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(orderId) ? await this.deps.store.getPayment(orderId) : undefined;
    if (!payment || payment.backend !== 'btcpay' || payment.backend_ref !== `invoice:${invoiceId}`) return { ok: true, ignored: true };
    if (this.deps.accepts && !this.deps.accepts(payment)) return { ok: true, ignored: true };

    // Only the payment owner's own secret (or the server default's, for accounts that use it) counts.
    const wallet = await this.deps.store.getWallet(payment.user_id);
    const owner = wallet ? (wallet.backend === 'btcpay' ? wallet.user_id : undefined) : null;
    if (owner === undefined || !signers.includes(owner)) return { ok: true, ignored: true };
    if (payment.status === 'settled') return { ok: true, settled: true, payment_id: payment.payment_id };

    let after: PaymentRecord;
    try {
      // The webhook says what happened; BTCPay's API says whether it is true: the same look-up the
      // poll makes, at the wallet that made the invoice.
      after = await this.deps.settlement.refresh(payment, 0);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, storeId, invoiceId }, 'could not re-check a BTCPay invoice');
      // Not 2xx: BTCPay delivers again later.
      throw new AppError(503, 'backend_unavailable', 'Could not re-check the invoice at BTCPay; deliver again later');
    }
    if (after.status !== 'settled') return { ok: true, settled: false, payment_id: payment.payment_id };
    this.deps.log.info({ paymentId: payment.payment_id, storeId, invoiceId, type: event.type }, 'settled by a BTCPay webhook');
    return { ok: true, settled: true, payment_id: payment.payment_id };
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > REMEMBERED_DELIVERIES) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}

/** Registers the webhook on the machine-payments router (errors `{error, message}`). */
export function btcpayWebhookRoutes(deps: BtcpayWebhookDeps): (router: Router) => void {
  const hook = new BtcpayWebhook(deps);
  return (router) => {
    router.post(BTCPAY_WEBHOOK_PATH, async (ctx) => {
      const request = ctx.request as { rawBody?: string; body?: unknown };
      ctx.body = await hook.receive(request.rawBody, request.body, ctx.get('btcpay-sig') || undefined);
    });
  };
}
