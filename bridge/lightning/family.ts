/**
 * The public LNURL endpoints, as their own API family with the LNURL error shape
 * `{"status": "ERROR", "reason": "..."}` (LUD-06; `LNURL_ERRORS` in `http/error-shapes.ts`). Two
 * mounts: the link endpoints (`/lnurl` by default) and Lightning addresses at
 * `/.well-known/lnurlp/<name>` (LUD-16), always at the root.
 */
import { Router } from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { LNURL_ERRORS } from '../http/error-shapes.js';
import { familyMiddleware } from '../http/family.js';
import { enforce } from '../http/rate-headers.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { Metrics } from '../metrics.js';
import type { PaymentLinks } from './links.js';
import { qrPng, qrSvg } from './qr.js';
import { addressKey } from '../../broker/address.js';

export interface LnurlFamilyOptions {
  links: PaymentLinks;
  /** Invoices per client IP: each callback makes an invoice and a pending payment. */
  callbackLimiter: RateLimiter;
  /**
   * Invoices per asset, whoever asks: a payer with many addresses cannot pile up pending invoices
   * (each is stored, and polled at the wallet's backend until it expires).
   */
  assetInvoiceLimiter: RateLimiter;
  /** Counts the refusals (`paywire_refusals_total{component="lnurl"}`). */
  metrics?: Metrics | undefined;
  bodyLimitBytes: number;
  log: Logger;
}

/** One query parameter; LNURL wallets add parameters of their own, so unknown ones are ignored. */
function param(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new AppError(400, 'lnurl_error', `${name} is given more than once`);
  return value;
}

function idOf(ctx: Context, name: string): string {
  const value = (ctx as Context & { params: Record<string, string> }).params[name] ?? '';
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(value)) throw new AppError(404, 'lnurl_error', 'Not found');
  return value;
}

export function lnurlFamily(options: LnurlFamilyOptions): Middleware {
  const { links } = options;
  const router = new Router();
  /** Take from a limiter; a refusal is counted, then answered 429 with Retry-After. */
  const take = (ctx: Context, limiter: RateLimiter, key: string, what: string, reason: string) => {
    const decision = limiter.take(key);
    if (!decision.allowed) options.metrics?.refuse('lnurl', reason);
    enforce(ctx, decision, what);
  };
  const limited: Middleware = async (ctx, next) => {
    take(ctx, options.callbackLimiter, addressKey(ctx.ip), 'invoices from this address', 'rate_limited_address');
    await next();
  };

  // LUD-06: the payRequest a wallet fetches after decoding the LNURL.
  router.get('/pay/:link_id', async (ctx) => {
    ctx.body = await links.payRequest(await links.linkTarget(idOf(ctx, 'link_id')));
  });

  // LUD-06 callback (with LUD-12 comment): one invoice per call.
  router.get('/pay/:link_id/callback', limited, async (ctx) => {
    const target = await links.linkTarget(idOf(ctx, 'link_id'));
    take(ctx, options.assetInvoiceLimiter, target.asset.asset_id, 'invoices for this machine', 'rate_limited_asset');
    ctx.body = await links.invoice(target, param(ctx, 'amount'), param(ctx, 'comment'));
  });

  // LUD-16 callback for payRequests reached through a Lightning address.
  router.get('/address/:name/callback', limited, async (ctx) => {
    const target = await links.addressTarget(idOf(ctx, 'name'));
    take(ctx, options.assetInvoiceLimiter, target.asset.asset_id, 'invoices for this machine', 'rate_limited_asset');
    ctx.body = await links.invoice(target, param(ctx, 'amount'), param(ctx, 'comment'));
  });

  // LUD-21.
  router.get('/verify/:payment_hash', async (ctx) => {
    ctx.body = await links.verify(idOf(ctx, 'payment_hash').toLowerCase());
  });

  // The link as a QR code to print (LUD-01: uppercase, `LIGHTNING:` scheme).
  router.get('/pay/:link_id/qr.png', async (ctx) => {
    const target = await links.linkTarget(idOf(ctx, 'link_id'));
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.type = 'image/png';
    ctx.body = await qrPng(links.qrText(target.link));
  });

  router.get('/pay/:link_id/qr.svg', async (ctx) => {
    const target = await links.linkTarget(idOf(ctx, 'link_id'));
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.type = 'image/svg+xml';
    ctx.body = await qrSvg(links.qrText(target.link));
  });

  return familyMiddleware(LNURL_ERRORS, router, options);
}

/** LUD-16: `GET /.well-known/lnurlp/<name>` answers the payRequest of that address. */
export function lightningAddressFamily(options: Omit<LnurlFamilyOptions, 'callbackLimiter' | 'assetInvoiceLimiter'>): Middleware {
  const router = new Router();
  router.get('/:name', async (ctx) => {
    ctx.body = await options.links.payRequest(await options.links.addressTarget(idOf(ctx, 'name')));
  });
  return familyMiddleware(LNURL_ERRORS, router, options);
}
