/**
 * Routes of the Lightning rail on the machine-payments API: payment links, payments, the account's
 * wallet, and (only while the dev backend runs) the admin's "settle this invoice".
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { adminOnly } from '../http/admin.js';
import { MAX_PRICE_SATS, noQuery } from '../machines/schemas.js';
import { authenticate, principal } from '../http/auth.js';
import { body, decodeCursor, encodeCursor, idParam, query } from '../http/params.js';
import type { MachinesDeps } from '../machines/routes/shared.js';
import { DevInvoiceError, type DevBackend } from './backends/dev.js';
import type { PaymentLinks } from './links.js';
import { linkBody, PAYMENT_HASH, paymentsQuery } from './schemas.js';
import type { Settlement } from './settlement.js';
import { checkoutView, paymentView } from './views.js';
import type { Wallets } from './wallets.js';

export interface LightningDeps {
  links: PaymentLinks;
  wallets: Wallets;
  settlement: Settlement;
  /** Present only when the dev backend is active. */
  dev: DevBackend | undefined;
  adminTokenSha256: string;
}

const DEFAULT_LIMIT = 50;

/** `POST /api/v1/assets/:id/checkout`: the amount (variable prices) and where BTCPay sends the payer back. */
export const checkoutBody = z.strictObject({
  amount_sats: z.int().min(1).max(MAX_PRICE_SATS).optional(),
  redirect_url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(2000)
    .optional(),
});

export function lightningRoutes(machines: MachinesDeps, deps: LightningDeps): (router: Router) => void {
  const read = authenticate(machines, 'read');
  const write = authenticate(machines, 'write');

  return (router) => {
    router.post('/api/v1/assets/:id/payment-link', write, async (ctx) => {
      query(ctx, noQuery);
      const input = body(ctx, linkBody);
      const { link, asset, created } = await deps.links.provision(principal(ctx), idParam(ctx, 'id'), input);
      ctx.status = created ? 201 : 200;
      ctx.body = deps.links.view(link, asset);
    });

    router.get('/api/v1/assets/:id/payment-link', read, async (ctx) => {
      query(ctx, noQuery);
      const { link, asset } = await deps.links.get(principal(ctx), idParam(ctx, 'id'));
      ctx.body = deps.links.view(link, asset);
    });

    router.get('/api/v1/assets/:id/payments', read, async (ctx) => {
      const q = query(ctx, paymentsQuery);
      const page = await deps.links.payments(principal(ctx), idParam(ctx, 'id'), q.status, q.limit ?? DEFAULT_LIMIT, decodeCursor(q.cursor));
      ctx.body = { payments: page.items.map(paymentView), next_cursor: encodeCursor(page.next) };
    });

    router.post('/api/v1/assets/:id/checkout', write, async (ctx) => {
      query(ctx, noQuery);
      const input = body(ctx, checkoutBody);
      const { payment, checkoutUrl } = await deps.links.checkout(principal(ctx), idParam(ctx, 'id'), input);
      ctx.status = 201;
      ctx.body = checkoutView(payment, checkoutUrl);
    });

    router.get('/api/v1/accounts/me/wallet', read, async (ctx) => {
      query(ctx, noQuery);
      ctx.body = await deps.wallets.view(principal(ctx).account.user_id);
    });

    router.put('/api/v1/accounts/me/wallet', write, async (ctx) => {
      query(ctx, noQuery);
      ctx.body = await deps.wallets.set(principal(ctx).account, (ctx.request as { body?: unknown }).body ?? {});
    });

    router.delete('/api/v1/accounts/me/wallet', write, async (ctx) => {
      query(ctx, noQuery);
      ctx.body = await deps.wallets.remove(principal(ctx).account.user_id);
    });

    const dev = deps.dev;
    if (dev) {
      router.post('/api/v1/dev/payments/:payment_hash/settle', adminOnly(deps.adminTokenSha256), async (ctx) => {
        query(ctx, noQuery);
        const hash = idParam(ctx, 'payment_hash').toLowerCase();
        if (!PAYMENT_HASH.test(hash)) throw new AppError(400, 'invalid_body', 'payment_hash must be 64 hex digits');
        const payment = await deps.links.paymentByHash(hash);
        if (!payment) throw new AppError(404, 'payment_not_found', `No payment with hash ${hash}`);
        if (payment.backend !== 'dev') throw new AppError(409, 'not_a_dev_invoice', 'This invoice was made by another backend: pay it with a real wallet');
        let preimage: string;
        try {
          preimage = await dev.pay(hash);
        } catch (err) {
          if (err instanceof DevInvoiceError) {
            throw new AppError(err.reason === 'expired' ? 409 : 404, err.reason === 'expired' ? 'invoice_expired' : 'payment_not_found', err.message);
          }
          throw err;
        }
        const outcome = await deps.settlement.settle(hash, preimage);
        await dev.recordPaid(hash);
        ctx.body = { ...paymentView(outcome.payment), already_settled: !outcome.newly };
      });
    }
  };
}
