/**
 * The license server's public routes (keysat API reference, "Public endpoints"): metadata and the
 * public key, products, the validate hot path (always HTTP 200) and deactivation (frees a seat).
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { enforce } from '../../http/rate-headers.js';
import { deactivateInput, slugParam } from '../schemas.js';
import { validateInput } from '../types.js';
import { productView } from '../views.js';
import { param, type LicenseDeps } from './shared.js';
import { addressKey } from '../../../broker/address.js';

export function publicRoutes(router: Router, deps: LicenseDeps): void {
  const { service } = deps;

  // keysat: service metadata including the Ed25519 public key (SDKs fetch it at build time).
  router.get('/', (ctx) => {
    ctx.body = {
      service: 'paywire-license',
      version: deps.version,
      operator: deps.operator,
      public_key_pem: service.publicKeyPem,
      key_algorithm: 'ed25519',
      // Keys are issued in keysat key format 1, or 2 when they carry an expiry, the trial flag or entitlements.
      key_format_version: 2,
    };
  });

  router.get('/healthz', (ctx) => {
    ctx.body = { ok: true };
  });

  router.get('/v1/pubkey', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = { public_key_pem: service.publicKeyPem, key_algorithm: 'ed25519' };
  });

  router.get('/v1/products', async (ctx) => {
    ctx.body = { products: (await service.listProducts(true)).map(productView) };
  });

  router.get('/v1/products/:slug', async (ctx) => {
    ctx.body = productView(await service.activeProduct(param(ctx, 'slug', slugParam)));
  });

  // keysat: the hot path. Always HTTP 200 so middleware does not log refusals as errors; a body that
  // is JSON but not a validate request is `bad_format` too. Only the per-IP rate limit answers 429.
  router.post('/v1/validate', async (ctx) => {
    limit(ctx, deps);
    const input = validateInput.safeParse(requestBody(ctx));
    ctx.body = input.success ? await service.validate(input.data) : service.badFormat();
  });

  // Frees the seat a machine holds (a reinstall, a retired machine); answered like validate.
  router.post('/v1/deactivate', async (ctx) => {
    limit(ctx, deps);
    const input = deactivateInput.safeParse(requestBody(ctx));
    ctx.body = input.success ? await service.deactivate(input.data) : { ok: false, reason: 'bad_format' };
  });
}

const requestBody = (ctx: Context): unknown => (ctx.request as { body?: unknown }).body;

function limit(ctx: Context, deps: LicenseDeps): void {
  const decision = deps.validateLimiter.take(addressKey(ctx.ip));
  if (!decision.allowed) deps.metrics?.refusals.inc({ component: 'license', reason: 'rate_limited' });
  enforce(ctx, decision, 'license checks from this address');
}
