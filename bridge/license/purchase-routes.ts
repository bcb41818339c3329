/**
 * The license server's purchase endpoints (keysat API reference): `POST /v1/purchase`,
 * `GET /v1/purchase/:invoice_id` and BTCPay's `POST /v1/btcpay/webhook`. Routes parse and validate;
 * `Purchases` does the work. Errors are the license family's `{ok: false, error, message}`.
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { RateLimiter } from '../http/rate-limit.js';
import { enforce } from '../http/rate-headers.js';
import { displayText } from '../http/text.js';
import { validate } from '../http/validate.js';
import { BtcpayWebhook, type WebhookAnswer } from '../lightning/btcpay-webhook.js';
import type { Settlement } from '../lightning/settlement.js';
import type { LightningStore } from '../lightning/store.js';
import type { Wallets } from '../lightning/wallets.js';
import type { Metrics } from '../metrics.js';
import { isLicensePayment, type Purchases } from './purchases.js';
import { addressKey } from '../../broker/address.js';

export const LICENSE_WEBHOOK_PATH = '/v1/btcpay/webhook';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const httpUrl = z
  .string()
  .max(2000)
  .refine((s) => {
    try {
      const url = new URL(s);
      return url.protocol === 'https:' || url.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL');

/** keysat `POST /v1/purchase` request (extra members are ignored and null is absent, as keysat's server reads it). */
export const purchaseInput = z.object({
  product: z.string().trim().min(1).max(100).superRefine(displayText()),
  buyer_email: z.email().max(254).nullish(),
  buyer_note: z.string().max(1000).superRefine(displayText('multiline')).nullish(),
  redirect_url: httpUrl.nullish(),
});

export interface PurchaseRoutesDeps {
  purchases: Purchases;
  store: LightningStore;
  wallets: Wallets;
  settlement: Settlement;
  log: Logger;
  /** Purchases per client IP: each makes an invoice and a pending payment. */
  ipLimiter: RateLimiter;
  /** Purchases per product, whoever asks: many addresses cannot pile up pending invoices. */
  productLimiter: RateLimiter;
  /** Counts the refusals (`paywire_refusals_total{component="license"}`). */
  metrics?: Metrics | undefined;
}

export function purchaseRoutes(deps: PurchaseRoutesDeps): (router: Router) => void {
  const { purchases } = deps;
  // BTCPay's signed webhook, as on the machine-payments API, but settling only license purchases.
  const hook = new BtcpayWebhook({ store: deps.store, wallets: deps.wallets, settlement: deps.settlement, log: deps.log, accepts: isLicensePayment });
  const take = (ctx: Context, limiter: RateLimiter, key: string, what: string) => {
    const decision = limiter.take(key);
    if (!decision.allowed) deps.metrics?.refusals.inc({ component: 'license', reason: 'rate_limited' });
    enforce(ctx, decision, what);
  };
  return (router) => {
    router.post('/v1/purchase', async (ctx) => {
      const input = validate(purchaseInput, ctx.request.body);
      // A bad body costs nothing; an invoice does. Per address, then per product.
      take(ctx, deps.ipLimiter, addressKey(ctx.ip), 'purchases from this address');
      ctx.body = await purchases.create({
        product: input.product,
        buyer_email: input.buyer_email ?? undefined,
        buyer_note: input.buyer_note ?? undefined,
        redirect_url: input.redirect_url ?? undefined,
        admit: (productId) => take(ctx, deps.productLimiter, productId, 'purchases of this product'),
      });
    });

    router.get('/v1/purchase/:invoice_id', async (ctx) => {
      const id = ctx.params['invoice_id'] ?? '';
      if (!UUID.test(id)) throw new AppError(400, 'invalid_body', 'invoice_id must be the UUID POST /v1/purchase answered with');
      ctx.body = await purchases.status(id.toLowerCase());
    });

    router.post(LICENSE_WEBHOOK_PATH, async (ctx) => {
      const request = ctx.request as { rawBody?: string; body?: unknown };
      const answer: WebhookAnswer & { license_id?: string } = await hook.receive(request.rawBody, request.body, ctx.get('btcpay-sig') || undefined);
      // Settled by this delivery or an earlier one: the license is issued (once per invoice) before BTCPay hears 200.
      if (answer.settled === true && answer.payment_id !== undefined) {
        const payment = await deps.store.getPayment(answer.payment_id);
        if (payment && isLicensePayment(payment) && payment.status === 'settled') {
          answer.license_id = (await purchases.issueFor(payment)).license.license_id;
        }
      }
      ctx.body = answer;
    });
  };
}
